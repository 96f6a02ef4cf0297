/**
 * Frames built in place behind their header (allocFramePayload) leave a session as one
 * buffer, the very memory the payload was written into; anything else leaves as before.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { Counters, Session, systemClock } from '../../src/transport/index.js';
import { FrameType, allocFramePayload, encodeFrame, encodePacketBatches, prebuiltFrame } from '../../src/wire/index.js';

function harness(): { session: Session; writes: Buffer[] } {
  const writes: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      writes.push(chunk);
      cb();
    },
  });
  const session = new Session({
    socket,
    peerId: 'peer',
    dialerId: 'peer',
    method: 'inbound',
    remoteAddress: '127.0.0.1:1',
    localHello: { listenPort: 0, name: '' },
    limits: { pingIntervalMs: 60_000, deadAfterMs: 120_000, maxWriteBufferBytes: 1 << 24, maxPayload: 1_048_576 },
    clock: systemClock,
    counters: new Counters(),
    handlers: { onFrame: () => {}, onHello: () => {}, onClose: () => {} },
  });
  session.start();
  writes.length = 0; // HELLO and PING
  return { session, writes };
}

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
    const h = harness();
    const payload = fill(allocFramePayload(0xf0, 64 * 1024), 5);
    h.session.send(0xf0, payload);
    assert.equal(h.writes.length, 1);
    assert.equal(h.writes[0]!.buffer, payload.buffer);
    assert.ok(h.writes[0]!.equals(encodeFrame(0xf0, payload)));
  });

  it('other large payloads, or a prebuilt one sent as another type, still leave as header + payload', () => {
    const h = harness();
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
