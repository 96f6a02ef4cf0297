import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PendingRequests } from '../../src/signaler/pending.js';
import { isSentinelError } from '../../src/errors.js';
import { fakeClock } from '../helpers/fake-clock.js';

describe('signaler client: pending requests', () => {
  it('gives each request its own id and settles the one an answer names', async () => {
    const pending = new PendingRequests<string>(fakeClock());
    const sent: number[] = [];
    const a = pending.start(1000, (id) => sent.push(id));
    const b = pending.start(1000, (id) => sent.push(id));
    assert.equal(new Set(sent).size, 2);
    assert.equal(pending.settle(sent[1] as number, 'second'), true);
    assert.equal(pending.settle(sent[0] as number, 'first'), true);
    assert.deepEqual(await Promise.all([a, b]), ['first', 'second']);
    // A late or repeated answer finds nothing to settle.
    assert.equal(pending.settle(sent[0] as number, 'again'), false);
    assert.equal(pending.fail(99, new Error('x')), false);
  });

  it('times out with E_DIAL_FAILED, and an answer after that is ignored', async () => {
    const clock = fakeClock();
    const pending = new PendingRequests<string>(clock);
    let id = 0;
    const p = pending.start(500, (reqId) => (id = reqId));
    const outcome = p.then(() => 'resolved', (e: unknown) => e);
    await clock.advance(499);
    assert.equal(pending.settle(id, 'on time'), true);
    assert.equal(await outcome, 'resolved');
    const q = pending.start(500, (reqId) => (id = reqId)).catch((e: unknown) => e);
    await clock.advance(500);
    const err = await q;
    assert.ok(isSentinelError(err, 'E_DIAL_FAILED'), String(err));
    assert.equal(pending.settle(id, 'too late'), false);
  });

  it('fails one request with its own error, and all of them when the session closes', async () => {
    const pending = new PendingRequests<string>(fakeClock());
    const ids: number[] = [];
    const one = pending.start(1000, (id) => ids.push(id)).catch((e: Error) => e.message);
    const two = pending.start(1000, (id) => ids.push(id)).catch((e: Error) => e.message);
    const three = pending.start(1000, (id) => ids.push(id)).catch((e: Error) => e.message);
    assert.equal(pending.fail(ids[0] as number, new Error('refused')), true);
    pending.failAll(new Error('closed'));
    assert.deepEqual(await Promise.all([one, two, three]), ['refused', 'closed', 'closed']);
    assert.equal(pending.settle(ids[2] as number, 'after close'), false);
  });
});
