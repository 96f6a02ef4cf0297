import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RETRY_ENTRIES, RECONNECT_BASE_MS, RECONNECT_CAP_MS, ReconnectPlanner } from '../../src/membership/reconnect.js';

describe('ReconnectPlanner', () => {
  it('retries a lost peer after a jittered, growing, capped backoff', () => {
    const p = new ReconnectPlanner(() => 0.999);
    // random 0.999: each wait is just under its ceiling (base, 2 x base, ..., cap).
    const wait = (ceiling: number): number => Math.floor(0.999 * ceiling);
    p.lost('a', 0);
    assert.deepEqual(p.due(wait(RECONNECT_BASE_MS) - 1), []);
    assert.deepEqual(p.due(wait(RECONNECT_BASE_MS)), ['a']);
    assert.deepEqual(p.due(wait(RECONNECT_BASE_MS)), [], 'in flight: not due twice');
    p.failed('a', 1_000);
    assert.deepEqual(p.due(1_000 + wait(2 * RECONNECT_BASE_MS) - 1), []);
    assert.deepEqual(p.due(1_000 + wait(2 * RECONNECT_BASE_MS)), ['a']);
    for (let i = 0; i < 20; i++) p.failed('a', 0);
    assert.deepEqual(p.due(wait(RECONNECT_CAP_MS) - 1), []);
    assert.deepEqual(p.due(wait(RECONNECT_CAP_MS)), ['a']);
    p.forget('a');
    assert.deepEqual(p.due(1e12), []);
  });

  it('fills up to min-peers from known, dialable, not-backing-off peers, most recent first', () => {
    const p = new ReconnectPlanner(() => 0.5);
    p.lost('c', 0);
    const known = [
      { id: 'a', lastSeen: 10, dialable: true },
      { id: 'b', lastSeen: 30, dialable: true },
      { id: 'c', lastSeen: 50, dialable: true },
      { id: 'd', lastSeen: 40, dialable: false },
      { id: 'e', lastSeen: 20, dialable: true },
    ];
    assert.deepEqual(p.toFill(known, new Set(['x']), 3, 1), ['b', 'e']);
    assert.deepEqual(p.toFill(known, new Set(['x', 'y', 'z']), 3, 1), []);
  });

  it('keeps at most MAX_RETRY_ENTRIES pending retries, giving up the oldest first', () => {
    const p = new ReconnectPlanner(() => 0.5);
    for (let i = 0; i < MAX_RETRY_ENTRIES + 50; i++) p.failed(`peer-${i}`, 0);
    assert.equal(p.size, MAX_RETRY_ENTRIES);
    assert.equal(p.backingOff('peer-0', 0), false, 'the oldest was given up');
    assert.equal(p.backingOff(`peer-${MAX_RETRY_ENTRIES + 49}`, 0), true);
  });

  it('fills --min-peers with contacts first', () => {
    const p = new ReconnectPlanner(() => 0.5);
    const known = [
      { id: 's1', lastSeen: 300, dialable: true },
      { id: 'c1', lastSeen: 100, dialable: true, contact: true },
      { id: 's2', lastSeen: 200, dialable: true },
    ];
    assert.deepEqual(p.toFill(known, new Set(), 2, 0), ['c1', 's1']);
  });
});
