import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VPN_FEED_BYTES, VPN_QUEUE_LIMIT_BYTES, VpnSendQueue, type QueueChannel } from '../../src/vpn/send-queue.js';

/** A socket that keeps what it is given until the test lets the kernel take it. */
class FakeChannel implements QueueChannel {
  writableLength = 0;
  readonly sent: { type: number; tag: number; length: number }[] = [];
  private drains: (() => void)[] = [];
  open = true;

  send(type: number, payload: Uint8Array): boolean {
    if (!this.open) return false;
    this.sent.push({ type, tag: payload[0]!, length: payload.length });
    this.writableLength += payload.length;
    return true;
  }

  onDrain(cb: () => void): void {
    this.drains.push(cb);
  }

  /** The kernel took everything: the buffer is empty and 'drain' fires. */
  drain(): void {
    this.writableLength = 0;
    const cbs = this.drains;
    this.drains = [];
    for (const cb of cbs) cb();
  }

  get waiting(): number {
    return this.drains.length;
  }
}

const frame = (tag: number, length: number): Uint8Array => {
  const b = new Uint8Array(length);
  b[0] = tag;
  return b;
};
const BULK = 0x32;
const SMALL = 0x30;
const K16 = 16 * 1024;

describe('VPN send queue', () => {
  it('feeds the socket only up to the feed bound and keeps the rest in order', () => {
    const ch = new FakeChannel();
    const q = new VpnSendQueue(() => ch);
    const verdicts = [];
    for (let i = 0; i < 10; i++) verdicts.push(q.push(BULK, frame(i, K16), false));
    // 4 x 16 KiB reach the socket (it then holds VPN_FEED_BYTES), 6 wait.
    assert.equal(VPN_FEED_BYTES, 4 * K16);
    assert.deepEqual(ch.sent.map((s) => s.tag), [0, 1, 2, 3]);
    assert.deepEqual(verdicts, ['sent', 'sent', 'sent', 'sent', 'queued', 'queued', 'queued', 'queued', 'queued', 'queued']);
    assert.equal(q.queuedBytes, 6 * K16);
    assert.equal(ch.waiting, 1, 'one drain listener, not one per frame');
    ch.drain();
    assert.deepEqual(ch.sent.map((s) => s.tag), [0, 1, 2, 3, 4, 5, 6, 7]);
    ch.drain();
    assert.deepEqual(ch.sent.map((s) => s.tag), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(q.queuedBytes, 0);
    assert.equal(ch.waiting, 0);
  });

  it('lets an urgent frame overtake the bulk backlog', () => {
    const ch = new FakeChannel();
    const q = new VpnSendQueue(() => ch);
    for (let i = 0; i < 8; i++) q.push(BULK, frame(i, K16), false);
    assert.equal(q.push(SMALL, frame(99, 84), true), 'sent');
    // The ping is on the socket behind the 64 KiB fed so far, ahead of the 64 KiB still queued.
    assert.deepEqual(ch.sent.map((s) => s.tag), [0, 1, 2, 3, 99]);
    ch.drain();
    assert.deepEqual(ch.sent.map((s) => s.tag).slice(5), [4, 5, 6, 7]);
  });

  it('refuses frames once queue and socket hold the limit, and never holds more', () => {
    const ch = new FakeChannel();
    const q = new VpnSendQueue(() => ch);
    let congested = 0;
    for (let i = 0; i < 64; i++) if (q.push(BULK, frame(i, K16), false) === 'congested') congested++;
    assert.equal(ch.writableLength + q.queuedBytes, VPN_QUEUE_LIMIT_BYTES);
    assert.equal(congested, 64 - VPN_QUEUE_LIMIT_BYTES / K16);
    // Urgent frames count against the same bound: a flood of small packets is not urgent.
    assert.equal(q.push(SMALL, frame(1, 100), true), 'congested');
    ch.drain();
    assert.equal(q.push(SMALL, frame(2, 100), true), 'sent');
  });

  it('drops what waits when the session is gone, and sends straight without drain support', () => {
    const ch = new FakeChannel();
    let current: QueueChannel | undefined = ch;
    const q = new VpnSendQueue(() => current);
    for (let i = 0; i < 8; i++) q.push(BULK, frame(i, K16), false);
    current = undefined;
    ch.drain();
    assert.equal(q.queuedBytes, 0);
    assert.equal(ch.sent.length, 4);
    assert.equal(q.push(BULK, frame(9, K16), false), 'closed');

    const sent: number[] = [];
    const plain: QueueChannel = { writableLength: 10 * K16, send: (_t, p) => (sent.push(p[0]!), true) };
    const q2 = new VpnSendQueue(() => plain);
    assert.equal(q2.push(BULK, frame(5, K16), false), 'sent');
    assert.deepEqual(sent, [5]);
  });

  it('clears itself when the socket refuses a write (session closing)', () => {
    const ch = new FakeChannel();
    const q = new VpnSendQueue(() => ch);
    for (let i = 0; i < 8; i++) q.push(BULK, frame(i, K16), false);
    ch.open = false;
    ch.drain();
    assert.equal(q.queuedBytes, 0);
    assert.equal(ch.sent.length, 4);
  });
});
