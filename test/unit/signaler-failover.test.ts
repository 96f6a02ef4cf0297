/** `--signaler a,b,...`: list parsing and the pure failover planner (fake clock, fixed jitter). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { generateIdentity } from '../../src/identity/index.js';
import {
  FAILOVER_BACKOFF_BASE_MS,
  FAILOVER_BACKOFF_CAP_MS,
  FailoverPlanner,
  MAX_SIGNALERS,
  STABLE_SESSION_MS,
  parseSignalerAddress,
  parseSignalerList,
} from '../../src/signaler/index.js';
import { fakeClock } from '../helpers/fake-clock.js';

const usageNaming = (entry: string) => (err: unknown) => isSentinelError(err, 'E_USAGE') && (err as Error).message.includes(`"${entry}"`);

describe('parseSignalerList', () => {
  it('keeps the single form verbatim (the quick start and every existing --signaler)', () => {
    const id = generateIdentity().id;
    assert.deepEqual(parseSignalerList('127.0.0.1:8888'), [{ host: '127.0.0.1', port: 8888, pinned: null }]);
    assert.deepEqual(parseSignalerList(`sig.example:8888#${id}`), [{ host: 'sig.example', port: 8888, pinned: id }]);
    assert.deepEqual(parseSignalerList('[::1]:9000'), [parseSignalerAddress('[::1]:9000')]);
  });

  it('parses a list in order, each entry with its own optional pin', () => {
    const id = generateIdentity().id;
    assert.deepEqual(parseSignalerList(`a:8888,b:8888#${id},[::1]:9000`), [
      { host: 'a', port: 8888, pinned: null },
      { host: 'b', port: 8888, pinned: id },
      { host: '::1', port: 9000, pinned: null },
    ]);
    // Spaces around entries are forgiven (a quoted list in a shell script).
    assert.deepEqual(
      parseSignalerList('a:1, b:2').map((a) => a.host),
      ['a', 'b'],
    );
  });

  it('names the bad entry: malformed, bad pin, empty, or listed twice', () => {
    assert.throws(() => parseSignalerList('a:8888,b'), usageNaming('b'));
    assert.throws(() => parseSignalerList('a:8888,b:8888#notanid'), usageNaming('b:8888#notanid'));
    assert.throws(() => parseSignalerList('a:8888,,b:1'), (e: Error) => isSentinelError(e, 'E_USAGE') && /entry 2 ""/.test(e.message));
    assert.throws(() => parseSignalerList('a:8888,'), usageNaming(''));
    assert.throws(() => parseSignalerList('a:70000'), usageNaming('a:70000'));
    assert.throws(() => parseSignalerList(`a:1,a:1#${generateIdentity().id}`), (e: Error) => isSentinelError(e, 'E_USAGE') && /twice/.test(e.message));
  });

  it('takes at most MAX_SIGNALERS entries', () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `s${i}:8888`).join(',');
    assert.equal(parseSignalerList(list(MAX_SIGNALERS)).length, MAX_SIGNALERS);
    assert.throws(() => parseSignalerList(list(MAX_SIGNALERS + 1)), (e: Error) => isSentinelError(e, 'E_USAGE'));
  });
});

/** A planner over `n` addresses with a fake clock and a fixed jitter draw. */
function planner(n: number, random = 0.5) {
  const clock = fakeClock(1_000_000);
  return { p: new FailoverPlanner(n, clock.now, () => random), clock };
}

describe('FailoverPlanner', () => {
  it('starts at the first address at once', () => {
    assert.deepEqual(planner(3).p.first(), { index: 0, delayMs: 0 });
  });

  it('moves round robin at once while a round lasts; backs off only after a whole round failed', () => {
    const { p } = planner(3);
    assert.deepEqual(p.next('failed'), { index: 1, delayMs: 0 });
    assert.deepEqual(p.next('untrusted'), { index: 2, delayMs: 0 });
    // All three failed: the next round starts after base * 2^0 * jitter.
    assert.deepEqual(p.next('failed'), { index: 0, delayMs: FAILOVER_BACKOFF_BASE_MS * 0.5 });
    assert.deepEqual(p.next('failed'), { index: 1, delayMs: 0 });
    assert.deepEqual(p.next('failed'), { index: 2, delayMs: 0 });
    // The second failed round waits twice as long at most.
    assert.deepEqual(p.next('failed'), { index: 0, delayMs: FAILOVER_BACKOFF_BASE_MS * 2 * 0.5 });
  });

  it('caps the backoff, and the jitter is full (0 up to the ceiling)', () => {
    const { p } = planner(1, 0.999);
    let last = 0;
    for (let i = 0; i < 20; i++) last = (p.next('failed') as { delayMs: number }).delayMs;
    assert.equal(last, Math.floor(0.999 * FAILOVER_BACKOFF_CAP_MS));
    const zero = planner(1, 0).p;
    assert.equal(zero.next('failed')?.delayMs, 0);
  });

  it('stays on a signaler that registered us', () => {
    const { p } = planner(2);
    p.next('failed');
    assert.equal(p.next('registered'), null);
    assert.equal(p.current, 1);
  });

  it('tries the next address at once when a stable session closes, and restarts the round and the backoff', async () => {
    const { p, clock } = planner(2);
    p.next('failed'); // a fails
    p.next('failed'); // b fails: whole round; backoff attempt 1 used
    assert.equal(p.current, 0);
    p.next('registered');
    await clock.advance(STABLE_SESSION_MS);
    assert.deepEqual(p.next('closed'), { index: 1, delayMs: 0 }, 'the signaler died: the next one at once');
    assert.deepEqual(p.next('failed'), { index: 0, delayMs: 0 }, 'a new round: no backoff after one failure');
    // The backoff restarted: the next whole-round failure waits the base ceiling again.
    assert.deepEqual(p.next('failed'), { index: 1, delayMs: FAILOVER_BACKOFF_BASE_MS * 0.5 });
  });

  it('counts a session that closes soon after registering as a failure (no reconnect loop)', async () => {
    const { p, clock } = planner(2);
    const delays: number[] = [];
    // Both signalers accept, register and drop us at once, forever.
    for (let i = 0; i < 6; i++) {
      p.next('registered');
      await clock.advance(10);
      delays.push((p.next('closed') as { delayMs: number }).delayMs);
    }
    assert.deepEqual(delays, [0, 250, 0, 500, 0, 1000], 'every second attempt (a whole round) backs off, growing');
  });

  it('with one address retries it at once after a lost session, then with backoff', async () => {
    const { p, clock } = planner(1);
    p.next('registered');
    await clock.advance(STABLE_SESSION_MS * 3);
    // One address: the round after a good session is this address again, backed off like
    // any failed round would be, from the base again.
    assert.deepEqual(p.next('closed'), { index: 0, delayMs: 0 });
    assert.deepEqual(p.next('failed'), { index: 0, delayMs: FAILOVER_BACKOFF_BASE_MS * 0.5 });
    assert.deepEqual(p.next('failed'), { index: 0, delayMs: FAILOVER_BACKOFF_BASE_MS * 0.5 * 2 });
  });

  it('refuses an empty list', () => {
    assert.throws(() => new FailoverPlanner(0, () => 0), RangeError);
  });
});
