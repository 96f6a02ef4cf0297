import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSentinelError } from '../../src/errors.js';
import {
  FRAME_VERSION,
  FrameDecoder,
  FrameType,
  HEADER_SIZE,
  MAX_PAYLOAD_SIZE,
  encodeFrame,
  type Frame,
} from '../../src/wire/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const code = (c: string) => (err: unknown) => isSentinelError(err) && err.code === c;

/** Pushes `bytes` split at the given cut points and collects the frames. */
function feed(decoder: FrameDecoder, bytes: Buffer, cuts: number[]): Frame[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Frame[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(...decoder.push(bytes.subarray(prev, p)));
    prev = p;
  }
  return out;
}

describe('encodeFrame', () => {
  it('matches the hand-written vector for a PING frame', () => {
    const frame = encodeFrame(FrameType.PING, hex('0102030405060708'));
    assert.equal(frame.toString('hex'), '00000008' + '01' + '02' + '0102030405060708');
  });

  it('encodes an empty payload and the highest type', () => {
    assert.equal(encodeFrame(0xff, new Uint8Array(0)).toString('hex'), '00000000' + '01' + 'ff');
  });

  it('encodes a payload of exactly MAX_PAYLOAD_SIZE', () => {
    const frame = encodeFrame(FrameType.CHAT, new Uint8Array(MAX_PAYLOAD_SIZE));
    assert.equal(frame.length, HEADER_SIZE + MAX_PAYLOAD_SIZE);
    assert.equal(frame.subarray(0, 6).toString('hex'), '00100000' + '01' + '10');
  });

  it('rejects an oversized payload with E_FRAME_TOO_LARGE', () => {
    assert.throws(() => encodeFrame(FrameType.CHAT, new Uint8Array(MAX_PAYLOAD_SIZE + 1)), code('E_FRAME_TOO_LARGE'));
  });

  it('rejects types outside 0..255', () => {
    for (const t of [-1, 256, 1.5, Number.NaN]) {
      assert.throws(() => encodeFrame(t, new Uint8Array(0)), code('E_FRAME_MALFORMED'), String(t));
    }
  });
});

describe('FrameDecoder', () => {
  const two = Buffer.concat([hex('00000002 01 10 abcd'), hex('00000000 01 03'), hex('00000001 01 80 ff')]);
  const expected = [
    { version: 1, type: 0x10, payload: hex('abcd') },
    { version: 1, type: 0x03, payload: hex('') },
    { version: 1, type: 0x80, payload: hex('ff') },
  ];

  it('decodes several frames from one chunk', () => {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(two), expected);
    assert.equal(d.bufferedBytes, 0);
  });

  it('decodes the same frames fed byte by byte', () => {
    const d = new FrameDecoder();
    const out: Frame[] = [];
    for (const b of two) out.push(...d.push(Uint8Array.of(b)));
    assert.deepEqual(out, expected);
  });

  it('reports bufferedBytes for a partial frame and returns nothing yet', () => {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(hex('00000003 01')), []);
    assert.equal(d.bufferedBytes, 5);
    assert.deepEqual(d.push(hex('11 aa')), []);
    assert.equal(d.bufferedBytes, 7);
    assert.deepEqual(d.push(hex('bbcc 00')), [{ version: 1, type: 0x11, payload: hex('aabbcc') }]);
    assert.equal(d.bufferedBytes, 1);
  });

  it('accepts an empty chunk', () => {
    assert.deepEqual(new FrameDecoder().push(new Uint8Array(0)), []);
  });

  it('does not retain pushed chunks', () => {
    const d = new FrameDecoder();
    const first = hex('00000004 01 10 0102');
    d.push(first);
    first.fill(0xee);
    const [frame] = d.push(hex('0304'));
    assert.deepEqual(frame?.payload, hex('01020304'));
  });

  it('rejects an oversized length as soon as the 4 length bytes arrive', () => {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(hex('001000')), []);
    assert.throws(() => d.push(hex('01')), code('E_FRAME_TOO_LARGE'));
  });

  it('rejects 0xffffffff while only the header has arrived', () => {
    assert.throws(() => new FrameDecoder().push(hex('ffffffff 01 10')), code('E_FRAME_TOO_LARGE'));
  });

  it('accepts a length of exactly MAX_PAYLOAD_SIZE', () => {
    const d = new FrameDecoder();
    const frames = d.push(encodeFrame(FrameType.CHAT, new Uint8Array(MAX_PAYLOAD_SIZE).fill(7)));
    assert.equal(frames.length, 1);
    assert.equal(frames[0]?.payload.length, MAX_PAYLOAD_SIZE);
  });

  it('honours a smaller maxPayload option', () => {
    const d = new FrameDecoder({ maxPayload: 4 });
    assert.equal(d.push(hex('00000004 01 10 01020304')).length, 1);
    assert.throws(() => d.push(hex('00000005')), code('E_FRAME_TOO_LARGE'));
  });

  it('rejects a maxPayload above MAX_PAYLOAD_SIZE or negative', () => {
    assert.throws(() => new FrameDecoder({ maxPayload: MAX_PAYLOAD_SIZE + 1 }), RangeError);
    assert.throws(() => new FrameDecoder({ maxPayload: -1 }), RangeError);
  });

  it('rejects a bad version as soon as the version byte arrives', () => {
    for (const v of [0, 2, 0xff]) {
      const d = new FrameDecoder();
      d.push(hex('00000000'));
      assert.throws(() => d.push(Uint8Array.of(v)), code('E_FRAME_VERSION'), `version ${v}`);
    }
  });

  it('stays failed and rethrows the same error', () => {
    const d = new FrameDecoder();
    let first: unknown;
    try {
      d.push(hex('00000000 02 01'));
    } catch (err) {
      first = err;
    }
    assert.ok(isSentinelError(first, 'E_FRAME_VERSION'));
    assert.throws(() => d.push(hex('00000000 01 01')), (err) => err === first);
    assert.throws(() => d.end(), (err) => err === first);
  });

  it('end() is silent between frames and rejects a stream cut inside a frame', () => {
    const clean = new FrameDecoder();
    clean.push(hex('00000000 01 01'));
    clean.end();
    const cut = new FrameDecoder();
    cut.push(hex('00000002 01 10 aa'));
    assert.throws(() => cut.end(), code('E_FRAME_MALFORMED'));
    assert.throws(() => cut.push(hex('bb')), code('E_FRAME_MALFORMED'));
  });

  it('yields the same frames for any split of the stream', () => {
    const frameArb = fc.record({
      type: fc.integer({ min: 0, max: 255 }),
      payload: fc.uint8Array({ maxLength: 64 }),
    });
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload)));
        const d = new FrameDecoder();
        const out = feed(d, stream, cuts);
        assert.deepEqual(
          out.map((f) => ({ type: f.type, payload: new Uint8Array(f.payload), version: f.version })),
          frames.map((f) => ({ type: f.type, payload: f.payload, version: FRAME_VERSION })),
        );
        assert.equal(d.bufferedBytes, 0);
      }),
      { numRuns: 200 },
    );
  });
});
