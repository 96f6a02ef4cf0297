/** The delay line's FIFO (test/lab/delay-line-queue.ts), on an injected clock: no root needed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DelayQueue } from './delay-line-queue.js';

const pkt = (n: number, tag = 0): Uint8Array => new Uint8Array(n).fill(tag);

describe('DelayQueue', () => {
  it('holds every packet for the delay, never less, and releases in arrival order', () => {
    const q = new DelayQueue({ delayMs: 40, limitBytes: 10_000 });
    q.push(pkt(100, 1), 0);
    q.push(pkt(100, 2), 5);
    q.push(pkt(100, 3), 5);
    assert.equal(q.nextDueAt(), 40);
    assert.deepEqual(q.due(39.999), []);
    assert.deepEqual(q.due(40).map((p) => p[0]), [1]);
    assert.equal(q.nextDueAt(), 45);
    assert.deepEqual(q.due(44).map((p) => p[0]), []);
    assert.deepEqual(q.due(100).map((p) => p[0]), [2, 3]);
    assert.equal(q.nextDueAt(), null);
    const s = q.stats();
    assert.deepEqual([s.packets, s.released, s.dropped, s.queued, s.queuedBytes, s.maxQueuedBytes], [3, 3, 0, 0, 0, 300]);
  });

  it('with no delay releases at the next call', () => {
    const q = new DelayQueue({ delayMs: 0, limitBytes: 1000 });
    q.push(pkt(10), 7);
    assert.equal(q.due(7).length, 1);
  });

  it('drops and counts what would exceed the byte bound, and takes packets again once it drains', () => {
    const q = new DelayQueue({ delayMs: 10, limitBytes: 250 });
    assert.equal(q.push(pkt(100), 0), true);
    assert.equal(q.push(pkt(100), 0), true);
    assert.equal(q.push(pkt(100), 1), false);
    assert.equal(q.push(pkt(50), 1), true);
    let s = q.stats();
    assert.deepEqual([s.packets, s.bytes, s.dropped, s.droppedBytes, s.queuedBytes, s.maxQueuedBytes], [4, 350, 1, 100, 250, 250]);
    assert.equal(q.due(10).length, 2);
    assert.equal(q.push(pkt(200), 10), true);
    s = q.stats();
    assert.equal(s.maxQueuedBytes, 250);
    assert.equal(s.packets, s.released + s.dropped + s.queued);
  });

  it('keeps order across compactions of its backing arrays', () => {
    const q = new DelayQueue<Uint8Array>({ delayMs: 1, limitBytes: 1 << 30 });
    const seen: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, i);
      q.push(b, i);
      if (i % 7 === 0) for (const p of q.due(i)) seen.push(new DataView(p.buffer).getUint32(0));
    }
    for (const p of q.due(Infinity)) seen.push(new DataView(p.buffer).getUint32(0));
    assert.equal(seen.length, 20_000);
    assert.ok(seen.every((v, i) => v === i));
  });

  it('refuses a negative delay or a non-positive bound', () => {
    assert.throws(() => new DelayQueue({ delayMs: -1, limitBytes: 1 }), RangeError);
    assert.throws(() => new DelayQueue({ delayMs: 1, limitBytes: 0 }), RangeError);
  });
});
