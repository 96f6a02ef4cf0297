/** The frame decoder hands payloads out without copying them, and never writes under one it delivered (issue 10). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { FrameDecoder, SMALL_PIECE_BYTES, encodeFrame, joinPayload, type PayloadParts } from '../../src/wire/frame.js';

const code = (c: string) => (err: unknown) => isSentinelError(err) && err.code === c;

/** A payload whose bytes depend on `seed`, so two frames of the same size differ everywhere. */
function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) % 251;
  return b;
}

interface Got {
  type: number;
  parts: PayloadParts;
  length: number;
}

function decodeAll(d: FrameDecoder, chunks: readonly Buffer[]): Got[] {
  const out: Got[] = [];
  for (const c of chunks) d.decode(c, (type, parts, length) => out.push({ type, parts, length }));
  return out;
}

const partsOf = (p: PayloadParts): readonly Buffer[] => (Buffer.isBuffer(p) ? [p] : p);

describe('frame decoder without copies', () => {
  it('a frame within one chunk is delivered as a view of that chunk', () => {
    const payload = pattern(3000, 1);
    const chunk = Buffer.concat([encodeFrame(0x10, Buffer.from('ab')), encodeFrame(0x90, payload), encodeFrame(0x11, Buffer.alloc(0))]);
    const got = decodeAll(new FrameDecoder(), [chunk]);
    assert.deepEqual(got.map((g) => [g.type, g.length]), [[0x10, 2], [0x90, 3000], [0x11, 0]]);
    const second = got[1]?.parts as Buffer;
    assert.ok(Buffer.isBuffer(second));
    assert.equal(second.buffer, chunk.buffer, 'shares the chunk memory');
    assert.equal(second.byteOffset, chunk.byteOffset + 6 + 2 + 6);
    assert.ok(second.equals(payload));
  });

  it('a payload that arrives whole after its header in an earlier chunk is a view too', () => {
    const frame = encodeFrame(0x90, pattern(5000, 2));
    const rest = Buffer.from(frame.subarray(6));
    const got = decodeAll(new FrameDecoder(), [Buffer.from(frame.subarray(0, 6)), rest]);
    assert.equal(got.length, 1);
    assert.equal((got[0]?.parts as Buffer).buffer, rest.buffer);
  });

  it('record-sized pieces of a large payload are views of their chunks, in order', () => {
    const payload = pattern(64 * 1024, 3);
    const frame = encodeFrame(0x90, payload);
    const chunks: Buffer[] = [];
    for (let i = 0; i < frame.length; i += 16384) chunks.push(Buffer.from(frame.subarray(i, i + 16384)));
    const got = decodeAll(new FrameDecoder(), chunks);
    assert.equal(got.length, 1);
    const parts = partsOf(got[0]?.parts as PayloadParts);
    assert.equal(parts.length, 5);
    parts.forEach((p, i) => assert.equal(p.buffer, chunks[i]?.buffer, `part ${i} is a view of chunk ${i}`));
    assert.ok(joinPayload(got[0]?.parts as PayloadParts, got[0]?.length as number).equals(payload));
  });

  it('frames split at every byte boundary across two and three chunks come out whole and exact', () => {
    const frames = [encodeFrame(0x10, pattern(40, 4)), encodeFrame(0x02, pattern(8, 5)), encodeFrame(0x90, Buffer.alloc(0)), encodeFrame(0x30, pattern(2 * SMALL_PIECE_BYTES + 3, 6))];
    const stream = Buffer.concat(frames);
    const want = frames.map((f) => f.subarray(6));
    const check = (chunks: Buffer[], how: string): void => {
      const got = decodeAll(new FrameDecoder(), chunks);
      assert.equal(got.length, frames.length, how);
      got.forEach((g, k) => assert.ok(joinPayload(g.parts, g.length).equals(want[k] as Buffer), `${how}: frame ${k}`));
    };
    for (let i = 0; i <= stream.length; i++) {
      check([stream.subarray(0, i), stream.subarray(i)], `cut at ${i}`);
      const j = Math.min(stream.length, i + 7);
      check([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)], `cuts at ${i} and ${j}`);
    }
  });

  it('never writes under a delivered payload: later frames leave earlier payloads as they were', () => {
    // Byte by byte (small pieces, copied into decoder buffers) and in 700-byte chunks (views
    // and small-piece buffers mixed): a decoder that reused one buffer would corrupt frame 1.
    for (const step of [1, 700, 5000]) {
      const d = new FrameDecoder();
      const sizes = [4000, 4000, 70, 4000];
      const payloads = sizes.map((n, i) => pattern(n, 10 + i));
      const stream = Buffer.concat(payloads.map((p) => encodeFrame(0x90, p)));
      const delivered: Buffer[] = [];
      for (let i = 0; i < stream.length; i += step) {
        // Fresh copies per chunk, as a socket delivers them.
        d.decode(Buffer.from(stream.subarray(i, i + step)), (_t, parts, length) => delivered.push(joinPayload(parts, length)));
      }
      assert.equal(delivered.length, payloads.length);
      delivered.forEach((p, i) => assert.ok(p.equals(payloads[i] as Buffer), `step ${step}: payload ${i} intact after the later frames`));
    }
  });

  it('a payload sent in tiny pieces is held in few buffers, not one per piece', () => {
    const payload = pattern(20_000, 7);
    const frame = encodeFrame(0x90, payload);
    const d = new FrameDecoder();
    const got: Got[] = [];
    for (let i = 0; i < frame.length; i++) d.decode(frame.subarray(i, i + 1), (type, parts, length) => got.push({ type, parts, length }));
    const parts = partsOf(got[0]?.parts as PayloadParts);
    assert.ok(parts.length <= 2, `${parts.length} parts`);
    assert.ok(joinPayload(got[0]?.parts as PayloadParts, 20_000).equals(payload));
  });

  it('still refuses an oversize length and a wrong version with coded errors, also on the fast path', () => {
    const big = encodeFrame(0x90, Buffer.alloc(100));
    assert.throws(() => new FrameDecoder({ maxPayload: 99 }).decode(big, () => {}), code('E_FRAME_TOO_LARGE'));
    const v2 = Buffer.from(encodeFrame(0x90, Buffer.alloc(3)));
    v2[4] = 2;
    assert.throws(() => new FrameDecoder().decode(v2, () => {}), code('E_FRAME_VERSION'));
    // Frames before the violation in the same chunk are delivered; every later call rethrows.
    const d = new FrameDecoder({ maxPayload: 10 });
    const seen: number[] = [];
    assert.throws(() => d.decode(Buffer.concat([encodeFrame(0x10, Buffer.alloc(2)), encodeFrame(0x11, Buffer.alloc(11))]), (t) => seen.push(t)), code('E_FRAME_TOO_LARGE'));
    assert.deepEqual(seen, [0x10]);
    assert.throws(() => d.decode(encodeFrame(0x10, Buffer.alloc(1)), () => assert.fail('decoded after failing')), code('E_FRAME_TOO_LARGE'));
  });

  it('a throw from the frame callback propagates as it is and fails the decoder', () => {
    const d = new FrameDecoder();
    const boom = new Error('consumer broke');
    assert.throws(() => d.decode(encodeFrame(0x10, Buffer.alloc(1)), () => { throw boom; }), (e) => e === boom);
    assert.throws(() => d.decode(encodeFrame(0x10, Buffer.alloc(1)), () => {}), code('E_FRAME_MALFORMED'));
  });

  it('accepts plain Uint8Array chunks and still hands out Buffers', () => {
    const frame = encodeFrame(0x10, pattern(10, 8));
    const u8 = new Uint8Array(frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.length));
    const [f] = new FrameDecoder().push(u8);
    assert.ok(Buffer.isBuffer(f?.payload));
    assert.ok(f?.payload.equals(pattern(10, 8)));
  });
});
