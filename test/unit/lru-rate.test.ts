import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedRate } from '../../src/core/lru-rate.js';

describe('KeyedRate', () => {
  it('a bucket per key, refilled with time, at most maxKeys held (least recently used forgotten)', () => {
    const r = new KeyedRate({ perSecond: 1, burst: 2 }, 3);
    assert.deepEqual([r.take('a', 0), r.take('a', 0), r.take('a', 0)], [true, true, false]);
    assert.equal(r.take('b', 0), true, 'another key has its own budget');
    assert.equal(r.take('a', 1000), true, 'one token back after a second');
    r.take('c', 1000);
    r.take('d', 1000);
    assert.equal(r.size, 3);
    // 'b' was the least recently used: forgotten, so it starts full again.
    assert.deepEqual([r.take('b', 1000), r.take('b', 1000), r.take('b', 1000)], [true, true, false]);
  });
});
