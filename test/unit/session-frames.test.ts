/**
 * What a Session hands its owner from the received chunks (issue 10): one contiguous payload
 * per handled frame (a view of the chunk when the frame lay within one, joined when it
 * spanned several), ignored frames counted without being assembled, and the coded errors.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import type { SentinelError } from '../../src/errors.js';
import { Counters, Session, systemClock } from '../../src/transport/index.js';
import { FrameType, allocFramePayload, encodeFrame, encodeHello, encodePacketBatches, prebuiltFrame } from '../../src/wire/index.js';

interface Harness {
  session: Session;
  socket: Duplex;
  frames: { type: number; payload: Buffer }[];
  closed: (SentinelError | undefined)[];
  counters: Counters;
  feed(...chunks: Buffer[]): void;
}

function harness(maxPayload = 1_048_576, onFrame?: (type: number, payload: Buffer) => void, writes?: Buffer[]): Harness {
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      writes?.push(chunk);
      cb();
    },
  });
  const frames: Harness['frames'] = [];
  const closed: Harness['closed'] = [];
  const counters = new Counters();
  const session = new Session({
    socket,
    peerId: 'peer',
    dialerId: 'peer',
    method: 'inbound',
    remoteAddress: '127.0.0.1:1',
    localHello: { listenPort: 0, name: '' },
    limits: { pingIntervalMs: 60_000, deadAfterMs: 120_000, maxWriteBufferBytes: 1 << 24, maxPayload },
    clock: systemClock,
    counters,
    handlers: {
      onFrame: (_s, type, payload) => (onFrame ? onFrame(type, payload) : frames.push({ type, payload })),
      onHello: () => {},
      onClose: (_s, reason) => closed.push(reason),
    },
  });
  session.start();
  // 'data' exactly as given (a Readable could merge buffered chunks).
  const feed = (...chunks: Buffer[]): void => chunks.forEach((c) => socket.emit('data', c));
  feed(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: 'p' })));
  return { session, socket, frames, closed, counters, feed };
}

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 256));

describe('Session frame delivery', () => {
  it('a frame within one chunk reaches the handler as a view of that chunk', () => {
    const h = harness();
    const chunk = Buffer.concat([encodeFrame(FrameType.CHAT, bytes(100, 1)), encodeFrame(FrameType.ACK, bytes(16, 2))]);
    h.feed(chunk);
    assert.deepEqual(h.frames.map((f) => f.type), [FrameType.CHAT, FrameType.ACK]);
    assert.equal(h.frames[0]?.payload.buffer, chunk.buffer);
    assert.ok(h.frames[0]?.payload.equals(bytes(100, 1)));
    assert.ok(h.frames[1]?.payload.equals(bytes(16, 2)));
    h.session.close(0, 'done');
  });

  it('a frame spanning record-sized chunks reaches the handler as one exact Buffer', () => {
    const h = harness();
    const payload = bytes(64 * 1024, 3);
    const frame = encodeFrame(FrameType.PACKETS, payload);
    const chunks: Buffer[] = [];
    for (let i = 0; i < frame.length; i += 16384) chunks.push(Buffer.from(frame.subarray(i, i + 16384)));
    h.feed(...chunks);
    assert.equal(h.frames.length, 1);
    assert.ok(Buffer.isBuffer(h.frames[0]?.payload));
    assert.ok(h.frames[0]?.payload.equals(payload));
    h.session.close(0, 'done');
  });

  it('an unknown optional type is counted and never handed out; an unknown critical one closes with E_FRAME_UNKNOWN_TYPE', () => {
    const h = harness();
    h.feed(encodeFrame(0xf0, bytes(40_000, 4)).subarray(0, 20_000));
    h.feed(encodeFrame(0xf0, bytes(40_000, 4)).subarray(20_000));
    assert.equal(h.counters.get('frames_unknown_ignored'), 1);
    assert.equal(h.frames.length, 0);
    h.feed(encodeFrame(0x7e, bytes(3, 5)));
    assert.equal(h.closed[0]?.code, 'E_FRAME_UNKNOWN_TYPE');
    assert.equal(h.counters.get('protocol_errors.E_FRAME_UNKNOWN_TYPE'), 1);
  });

  it('an oversize frame closes with E_FRAME_TOO_LARGE; frames after the close are not delivered', () => {
    const h = harness(1000);
    h.feed(Buffer.concat([encodeFrame(FrameType.CHAT, bytes(10, 6)), encodeFrame(FrameType.CHAT, bytes(1001, 7)), encodeFrame(FrameType.CHAT, bytes(10, 8))]));
    assert.equal(h.frames.length, 1);
    assert.equal(h.closed[0]?.code, 'E_FRAME_TOO_LARGE');
    assert.equal(h.counters.get('protocol_errors.E_FRAME_TOO_LARGE'), 1);
  });

  it('a handler that throws closes the session with a coded error, and the rest of the chunk is dropped', () => {
    let calls = 0;
    const h = harness(undefined, () => {
      calls += 1;
      throw new Error('bad payload');
    });
    h.feed(Buffer.concat([encodeFrame(FrameType.CHAT, bytes(5, 1)), encodeFrame(FrameType.CHAT, bytes(5, 2))]));
    assert.equal(calls, 1);
    assert.equal(h.closed[0]?.code, 'E_PROTOCOL');
  });
});

/** A session whose socket writes are kept (after its HELLO and PING). */
function sending(): { session: Session; writes: Buffer[] } {
  const writes: Buffer[] = [];
  const { session } = harness(undefined, undefined, writes);
  writes.length = 0;
  return { session, writes };
}

/*
 * Frames built in place behind their header (allocFramePayload) leave a session as one
 * buffer, the very memory the payload was written into; anything else leaves as before.
 */
const fill = (b: Buffer, seed: number): Buffer => {
  for (let i = 0; i < b.length; i++) b[i] = (i * 13 + seed) % 256;
  return b;
};

describe('prebuilt frames', () => {
  it('allocFramePayload puts the exact frame header in front of the payload', () => {
    const payload = fill(allocFramePayload(FrameType.CHAT, 70_000), 3);
    const frame = prebuiltFrame(FrameType.CHAT, payload)!;
    assert.ok(frame.equals(encodeFrame(FrameType.CHAT, payload)));
    assert.equal(frame.buffer, payload.buffer, 'the same memory, not a copy');
    assert.equal(prebuiltFrame(FrameType.ACK, payload), undefined, 'another type is not this frame');
    assert.equal(prebuiltFrame(FrameType.CHAT, payload.subarray(1)), undefined, 'a view of it is not');
    assert.equal(prebuiltFrame(FrameType.CHAT, Buffer.from(payload)), undefined, 'a copy is not');
  });

  it('a large prebuilt payload leaves the session as one write of its own memory', () => {
    const h = sending();
    const payload = fill(allocFramePayload(0xf0, 64 * 1024), 5);
    h.session.send(0xf0, payload);
    assert.equal(h.writes.length, 1);
    assert.equal(h.writes[0]!.buffer, payload.buffer);
    assert.ok(h.writes[0]!.equals(encodeFrame(0xf0, payload)));
  });

  it('other large payloads, or a prebuilt one sent as another type, still leave as header + payload', () => {
    const h = sending();
    const plain = fill(Buffer.alloc(64 * 1024), 7);
    h.session.send(0xf0, plain);
    const prebuilt = fill(allocFramePayload(0xf1, 64 * 1024), 9);
    h.session.send(0xf0, prebuilt);
    const out = Buffer.concat(h.writes);
    assert.ok(out.equals(Buffer.concat([encodeFrame(0xf0, plain), encodeFrame(0xf0, prebuilt)])));
    assert.ok(h.writes.length >= 2);
  });

  it('the VPN encoders build their payloads in place', () => {
    const packets = Array.from({ length: 40 }, (_, i) => fill(Buffer.alloc(1400), i));
    const [payload] = encodePacketBatches(packets);
    const frame = prebuiltFrame(FrameType.PACKETS, payload!);
    assert.ok(frame?.equals(encodeFrame(FrameType.PACKETS, payload!)));
  });
});
