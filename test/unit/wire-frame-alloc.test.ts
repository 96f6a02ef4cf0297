/** A frame header announcing a large payload reserves nothing until the bytes arrive (issue 8, info). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameDecoder, MAX_PAYLOAD_SIZE, encodeFrame } from '../../src/wire/frame.js';

const header = (length: number): Buffer => {
  const b = Buffer.alloc(6);
  b.writeUInt32BE(length, 0);
  b[4] = 1;
  b[5] = 0x90;
  return b;
};

describe('frame decoder memory', () => {
  it('1,000 headers announcing 1 MiB each cost far less than 1,000 MiB', () => {
    global.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    const decoders = Array.from({ length: 1000 }, () => {
      const d = new FrameDecoder();
      d.push(Buffer.concat([header(MAX_PAYLOAD_SIZE), Buffer.alloc(10)]));
      return d;
    });
    const grew = process.memoryUsage().arrayBuffers - before;
    assert.ok(grew < 100 * 1024 * 1024, `grew ${grew} bytes for ${decoders.length} pending 1 MiB frames`);
    assert.equal(decoders[0]?.bufferedBytes, 16);
  });

  it('a large payload still arrives whole and exact, in any chunking', () => {
    const payload = Buffer.alloc(64 * 1024 * 3 + 17);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const frame = encodeFrame(0x90, payload);
    for (const step of [1, 7, 4096, frame.length]) {
      const d = new FrameDecoder();
      const out = [];
      for (let i = 0; i < frame.length; i += step) out.push(...d.push(frame.subarray(i, i + step)));
      assert.equal(out.length, 1);
      assert.ok(out[0]?.payload.equals(payload), `chunks of ${step}`);
    }
  });
});
