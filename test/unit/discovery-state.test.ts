import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentity } from '../../src/identity/index.js';
import { HintLimiter, ResponseLimiter, endpointsKey } from '../../src/discovery/index.js';

const a = generateIdentity().id;
const b = generateIdentity().id;
const limits = { repeatMs: 10_000, maxPerId: 3, windowMs: 10_000, maxTrackedIds: 2 };

describe('HintLimiter', () => {
  it('reports the same id and endpoints once per repeat interval', () => {
    const h = new HintLimiter(limits);
    assert.equal(h.admit(a, 'k', 0), true);
    assert.equal(h.admit(a, 'k', 9_999), false);
    assert.equal(h.admit(a, 'k', 10_000), true);
  });

  it('a different endpoint set for the same id is reported at once (a spoof does not silence the real one)', () => {
    const h = new HintLimiter(limits);
    assert.equal(h.admit(a, 'attacker', 0), true);
    assert.equal(h.admit(a, 'real', 1), true);
  });

  it('caps hints per id per window whatever the endpoints', () => {
    const h = new HintLimiter(limits);
    assert.deepEqual([1, 2, 3, 4].map((i) => h.admit(a, `k${i}`, i)), [true, true, true, false]);
    assert.equal(h.admit(b, 'k1', 5), true, 'other ids are not affected');
    assert.equal(h.admit(a, 'k5', 10_001), true, 'the window slides');
  });

  it('remembers a bounded number of ids, forgetting the least recently seen', () => {
    const h = new HintLimiter(limits);
    const c = generateIdentity().id;
    h.admit(a, 'k', 0);
    h.admit(b, 'k', 0);
    h.admit(c, 'k', 0);
    assert.equal(h.size, 2);
    assert.equal(h.admit(a, 'k', 1), true, 'a was forgotten, so it is reported again');
  });

  it('endpointsKey does not depend on order', () => {
    const x = { host: '192.168.1.10', port: 1 };
    const y = { host: '192.168.1.11', port: 1 };
    assert.equal(endpointsKey([x, y]), endpointsKey([y, x]));
    assert.notEqual(endpointsKey([x]), endpointsKey([y]));
  });
});

describe('ResponseLimiter', () => {
  it('multicast answers at most once per interval, unicast a few per second', () => {
    const r = new ResponseLimiter(1_000, 2);
    assert.deepEqual([r.multicast(0), r.multicast(999), r.multicast(1_000)], [true, false, true]);
    assert.deepEqual([r.unicastAllowed(0), r.unicastAllowed(1), r.unicastAllowed(2), r.unicastAllowed(1_000)], [true, true, false, true]);
  });
});
