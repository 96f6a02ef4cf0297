import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RECONNECT_BASE_MS, RECONNECT_CAP_MS, ReconnectPlanner } from '../../src/membership/reconnect.js';

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
});
