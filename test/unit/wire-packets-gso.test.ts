/**
 * PACKETS_GSO (frame type 0x32, src/wire/packets.ts): round trips, the exact bytes, the
 * batching caps, and strict refusal of malformed payloads and out-of-bounds GSO metadata.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSentinelError } from '../../src/errors.js';
import {
  FrameType,
  HELLO_FLAG_GSO,
  MAX_PACKETS_PER_FRAME,
  MAX_PAYLOAD_SIZE,
  decodeHello,
  decodePacketsGso,
  encodeHello,
  encodePacketsGsoBatches,
  type PacketGso,
} from '../../src/wire/index.js';

const malformed = (err: unknown): boolean => isSentinelError(err, 'E_PAYLOAD_MALFORMED');
const G4: PacketGso = { flags: 1, gsoType: 1, hdrLen: 52, gsoSize: 1348, csumStart: 20, csumOffset: 16 };

describe('PACKETS_GSO codec', () => {
  it('has type 0x32 and HELLO flag 0x02', () => {
    assert.equal(FrameType.PACKETS_GSO, 0x32);
    assert.equal(HELLO_FLAG_GSO, 0x02);
    assert.deepEqual(decodeHello(encodeHello({ listenPort: 1, name: '', flags: HELLO_FLAG_GSO })).flags, HELLO_FLAG_GSO);
  });

  it('encodes the documented bytes', () => {
    const p = Buffer.alloc(60, 0xab);
    const [payload] = encodePacketsGsoBatches([p, Buffer.from([0x45])], [G4, undefined], 0x01020304);
    const want = Buffer.concat([
      Buffer.from('0002' + '01020304', 'hex'),
      Buffer.from('003c' + '01' + '01' + '0034' + '0544' + '0014' + '0010', 'hex'),
      p,
      Buffer.from('0001' + '00000000000000000000', 'hex'),
      Buffer.from([0x45]),
    ]);
    assert.deepEqual(payload, want);
    const d = decodePacketsGso(payload!);
    assert.equal(d.sentUs, 0x01020304);
    assert.deepEqual(d.packets, [p, Buffer.from([0x45])]);
    assert.deepEqual(d.gso, [G4, undefined]);
  });

  it('round-trips any batch, split within the caps, in order (property)', () => {
    const entry = fc.tuple(
      fc.integer({ min: 60, max: 3000 }),
      fc.option(fc.record({ gsoSize: fc.integer({ min: 1, max: 0xffff }), gsoType: fc.constantFrom(1, 4) }), { nil: undefined }),
    );
    fc.assert(
      fc.property(fc.array(entry, { minLength: 0, maxLength: 600 }), fc.integer({ min: 0, max: 0xffffffff }), (entries, stamp) => {
        const packets = entries.map(([n], i) => Buffer.alloc(n, i & 0xff));
        const gso = entries.map(([, g]) => (g ? { ...G4, ...g } : undefined));
        const frames = encodePacketsGsoBatches(packets, gso, stamp);
        const back = frames.map(decodePacketsGso);
        assert.ok(frames.every((f) => f.length <= MAX_PAYLOAD_SIZE));
        assert.ok(back.every((b) => b.packets.length <= MAX_PACKETS_PER_FRAME && b.sentUs === stamp));
        assert.deepEqual(back.flatMap((b) => b.packets), packets);
        assert.deepEqual(back.flatMap((b) => b.gso), gso);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses metadata out of bounds, when encoding and when decoding', () => {
    const p = Buffer.alloc(100);
    const bad: PacketGso[] = [
      { ...G4, gsoType: 3 },
      { ...G4, gsoType: 0x81 },
      { ...G4, flags: 0 },
      { ...G4, flags: 3 },
      { ...G4, gsoSize: 0 },
      { ...G4, hdrLen: 101 },
      { ...G4, csumStart: 40, csumOffset: 16 }, // checksum field beyond hdr_len 52
      { flags: 0, gsoType: 0, hdrLen: 1, gsoSize: 0, csumStart: 0, csumOffset: 0 }, // NONE with metadata
    ];
    for (const g of bad) {
      assert.throws(() => encodePacketsGsoBatches([p], [g], 0), malformed, JSON.stringify(g));
      const [good] = encodePacketsGsoBatches([p], [G4], 0);
      const raw = Buffer.from(good!);
      raw[8] = g.flags;
      raw[9] = g.gsoType;
      raw.writeUInt16BE(g.hdrLen, 10);
      raw.writeUInt16BE(g.gsoSize, 12);
      raw.writeUInt16BE(g.csumStart, 14);
      raw.writeUInt16BE(g.csumOffset, 16);
      assert.throws(() => decodePacketsGso(raw), malformed, JSON.stringify(g));
    }
  });

  it('refuses a malformed layout', () => {
    const [good] = encodePacketsGsoBatches([Buffer.alloc(10, 1)], [undefined], 7);
    const cases: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['truncated head', good!.subarray(0, 5)],
      ['count 0', Buffer.concat([Buffer.from([0, 0]), good!.subarray(2)])],
      ['count beyond entries', Buffer.concat([Buffer.from([0, 2]), good!.subarray(2)])],
      ['trailing byte', Buffer.concat([good!, Buffer.from([0])])],
      ['truncated packet', good!.subarray(0, good!.length - 1)],
      ['empty entry', Buffer.from('0001' + '00000000' + '0000' + '00000000000000000000', 'hex')],
      ['count over the cap', Buffer.concat([Buffer.from([0x01, 0x01]), good!.subarray(2)])],
    ];
    for (const [what, raw] of cases) assert.throws(() => decodePacketsGso(raw), malformed, what);
  });

  it('never throws anything but E_PAYLOAD_MALFORMED on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodePacketsGso(bytes);
        } catch (err) {
          assert.ok(malformed(err), String(err));
        }
      }),
      { numRuns: 300 },
    );
  });
});
