/**
 * Targets with planted bugs, to prove that each engine finds a bug and hands back an
 * input that reproduces it (a fuzz test that cannot fail would be a defect). They are
 * selectable by name but are not part of FUZZ_TARGETS or the `all` run.
 */
import { SentinelError } from '../../src/errors.js';
import { codecTarget, type FuzzTarget } from './target.js';

/**
 * A length-prefixed list decoder that trusts its count byte: a count beyond the data
 * reads out of range and throws a plain RangeError instead of E_PAYLOAD_MALFORMED.
 * Seeds are valid, so only a mutated count reaches the bug.
 */
export const PLANTED_RANGE_ERROR = codecTarget<number[]>({
  name: 'planted-range-error',
  about: 'planted bug: a count byte read without a bounds check',
  decode: (p) => {
    const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    if (b.length < 1) throw new SentinelError('E_PAYLOAD_MALFORMED', 'empty');
    const out: number[] = [];
    for (let i = 0; i < b[0]!; i++) out.push(b.readUInt8(1 + i));
    if (out.length !== b.length - 1) throw new SentinelError('E_PAYLOAD_MALFORMED', 'trailing bytes');
    return out;
  },
  encode: (v) => Buffer.from([v.length, ...v]),
  samples: () => [[1, 2, 3], [0x53, 0x4e, 0x54, 0x4c]],
});

/** A decoder that reserves 1 MiB whenever the first byte is 0xA5: the allocation bound must catch it. */
export const PLANTED_ALLOCATION: FuzzTarget = codecTarget<number>({
  name: 'planted-allocation',
  about: 'planted bug: 1 MiB reserved for a tiny input',
  decode: (p) => {
    if (p.length !== 2) throw new SentinelError('E_PAYLOAD_MALFORMED', 'length');
    const reserved = p[0] === 0xa5 ? Buffer.alloc(1 << 20) : Buffer.alloc(1);
    return reserved.length > 0 ? p[1]! : -1;
  },
  canonical: false,
  encode: (v) => Buffer.from([0, v]),
  samples: () => [0x11],
});

export const PLANTED_TARGETS: readonly FuzzTarget[] = [PLANTED_RANGE_ERROR, PLANTED_ALLOCATION];
