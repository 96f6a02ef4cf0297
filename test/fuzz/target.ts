/**
 * What a fuzz target is, and the builder for the common case: a payload codec.
 *
 * A target turns one input (bytes) into calls of the real parser and throws when a
 * property breaks. The engines (jazzer.ts, fast-check.ts) know nothing else about it.
 */
import type { ErrorCode } from '../../src/errors.js';
import { REFUSED, expectSameBytes, expectSameValue, mustNotThrow, parseBounded } from './check.js';

/** One fuzz target. */
export interface FuzzTarget {
  /** Short unique name: command line, corpus and crash folders, report rows. */
  name: string;
  /** What is fed to what, in one line (docs and the report). */
  about: string;
  /** Valid inputs to start from (the seed corpus). */
  seeds: () => Uint8Array[];
  /** Runs one input; throws (a FuzzViolation, or whatever escaped the parser) when a property fails. */
  run: (data: Buffer) => void;
}

/** A payload codec described for {@link codecTarget}. */
export interface CodecSpec<T> {
  name: string;
  /** Defaults to "<name> payload: decode, re-encode". */
  about?: string;
  /** Frame type(s) whose payload this codec reads: the frame-stream target dispatches to it. */
  frameTypes?: readonly number[];
  decode: (payload: Uint8Array) => T;
  /** When given, an accepted payload must re-encode without throwing and decode to the same value. */
  encode?: (value: T) => Uint8Array;
  /** Valid values; their encodings are seeds (needs `encode`). */
  samples?: () => T[];
  /** Seeds as raw bytes (for a decoder without an encoder, or odd valid encodings). */
  seedBytes?: () => Uint8Array[];
  /** The codes `decode` documents; default E_PAYLOAD_MALFORMED. */
  codes?: readonly ErrorCode[];
  /** encode(decode(b)) must equal b byte for byte (default true when `encode` is given). */
  canonical?: boolean;
  /** Named cap the decoder may allocate up to, beyond the per-byte bound (default 0). */
  cap?: number;
  /** Extra checks on an accepted value (e.g. verify a record's signature without throwing). */
  check?: (value: T, payload: Buffer) => void;
}

/** The codes a wire payload decoder may throw. */
export const PAYLOAD_CODES: readonly ErrorCode[] = ['E_PAYLOAD_MALFORMED'];

/** A target built from a codec; also keeps the spec so the frame-stream target can dispatch to it. */
export interface CodecTarget extends FuzzTarget {
  /** Decodes one payload the way the target does (used by frame-stream). */
  decodePayload: (payload: Buffer) => void;
  frameTypes: readonly number[];
}

/**
 * The properties of a codec: decode throws only its documented codes, allocates within
 * the bound, and an accepted payload round-trips (canonically, when it is by design).
 */
export function codecTarget<T>(spec: CodecSpec<T>): CodecTarget {
  const codes = spec.codes ?? PAYLOAD_CODES;
  const canonical = spec.canonical ?? spec.encode !== undefined;
  const { encode } = spec;
  const decodePayload = (payload: Buffer): void => {
    const value = parseBounded(`${spec.name} decode`, codes, payload, spec.cap ?? 0, () => spec.decode(payload));
    if (value === REFUSED) return;
    spec.check?.(value, payload);
    if (!encode) return;
    const again = mustNotThrow(`${spec.name} encode of an accepted payload`, () => encode(value));
    if (canonical) expectSameBytes(`${spec.name} encode(decode(b)) == b`, again, payload);
    const back = mustNotThrow(`${spec.name} decode of its own encoding`, () => spec.decode(again));
    expectSameValue(`${spec.name} decode(encode(x)) == x`, back, value);
  };
  return {
    name: spec.name,
    about: spec.about ?? `${spec.name} payload: decode, re-encode`,
    frameTypes: spec.frameTypes ?? [],
    seeds: () => [...(spec.seedBytes?.() ?? []), ...(encode ? (spec.samples?.() ?? []).map((v) => encode(v)) : [])],
    run: decodePayload,
    decodePayload,
  };
}

/**
 * Splits `bytes` into chunks whose sizes (0..63, 0 = an empty chunk) come from a small
 * xorshift generator seeded by `seed`: the same input always gives the same chunking,
 * and the engines explore chunkings by mutating the seed byte.
 */
export function chunked(bytes: Uint8Array, seed: number): Uint8Array[] {
  let x = (seed * 0x9e3779b1) | 1;
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const size = (x >>> 0) % 64;
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}
