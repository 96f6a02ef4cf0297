/** Moving relayed peers to a direct path: when to try, backoff, when to stop. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { DirectUpgrader, UPGRADE_FIRST_MS, UPGRADE_MAX_MS } from '../../src/relay/upgrade.js';
import { Counters, type Session } from '../../src/transport/index.js';
import { fakeClock } from '../helpers/fake-clock.js';

const ME = 'me';
const PEER = 'peer';
const session = (method: string, dialerId = ME): Session => ({ peerId: PEER, method, dialerId, remoteAddress: 'x' }) as unknown as Session;

function setup(opts: { succeedAfter?: number } = {}) {
  const clock = fakeClock(0);
  const counters = new Counters();
  const attempts: number[] = [];
  let relayed = true;
  const up = new DirectUpgrader({
    self: ME,
    clock,
    counters,
    log: createLogger('silent', () => {}),
    random: () => 0,
    relayed: () => relayed,
    tryDirect: async () => {
      attempts.push(clock.now());
      if (opts.succeedAfter !== undefined && attempts.length >= opts.succeedAfter) {
        relayed = false;
        return session('outbound');
      }
      throw new Error('no direct path');
    },
  });
  return { clock, counters, attempts, up, setRelayed: (v: boolean) => (relayed = v) };
}

describe('direct upgrader', () => {
  it('tries first after UPGRADE_FIRST_MS, then backs off by doubling up to UPGRADE_MAX_MS', async () => {
    const t = setup();
    t.up.onSessionUp(session('relay'));
    await t.clock.advance(UPGRADE_FIRST_MS - 1);
    assert.equal(t.attempts.length, 0);
    await t.clock.advance(1);
    assert.deepEqual(t.attempts, [UPGRADE_FIRST_MS]);
    await t.clock.advance(2 * UPGRADE_FIRST_MS);
    assert.equal(t.attempts.length, 2);
    await t.clock.advance(60 * 60_000);
    const gaps = t.attempts.slice(1).map((x, i) => x - (t.attempts[i] as number));
    assert.ok(gaps.every((g, i) => i === 0 || g >= (gaps[i - 1] as number)), `gaps never shrink: ${gaps.join(', ')}`);
    assert.equal(Math.max(...gaps), UPGRADE_MAX_MS, 'capped');
    assert.equal(t.counters.get('relay.upgrade_failed'), t.attempts.length);
  });

  it('stops once a direct session is up', async () => {
    const t = setup({ succeedAfter: 2 });
    t.up.onSessionUp(session('relay'));
    await t.clock.advance(10 * 60_000);
    assert.equal(t.attempts.length, 2);
    assert.equal(t.counters.get('relay.upgraded'), 1);
    assert.equal(t.up.pending, 0);
  });

  it('only the end that opened the circuit tries; a direct session or the end of the session cancels', async () => {
    const t = setup();
    t.up.onSessionUp(session('relay', PEER));
    await t.clock.advance(10 * 60_000);
    assert.equal(t.attempts.length, 0, 'the peer opened the circuit: it tries, we answer');
    t.up.onSessionUp(session('relay'));
    assert.equal(t.up.pending, 1);
    t.up.onSessionUp(session('tcp-simultaneous-open'));
    assert.equal(t.up.pending, 0);
    t.up.onSessionUp(session('relay'));
    t.up.onSessionDown(PEER);
    await t.clock.advance(10 * 60_000);
    assert.equal(t.attempts.length, 0);
  });

  it('a session no longer relayed when the timer fires is not dialed', async () => {
    const t = setup();
    t.up.onSessionUp(session('relay'));
    t.setRelayed(false);
    await t.clock.advance(UPGRADE_FIRST_MS * 2);
    assert.equal(t.attempts.length, 0);
    assert.equal(t.up.pending, 0);
  });
});
