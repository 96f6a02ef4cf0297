/**
 * Abuse suite, reflection (issue 8, findings 1, 4 and 5): attacks that try to make the
 * victim connect to third parties, with real binaries in the NAT lab (root only; skipped
 * with the reason otherwise, failed when SENTINEL_LAB=required). SYNs reaching the third
 * parties are counted by nftables and held to the bounds the named limits imply.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADDRESS_WINDOW_MS, MAX_HINTS_PER_ADDRESS } from '../../src/discovery/index.js';
import { MAX_LOCAL_CANDIDATES, STRANGER_BIRTHDAY_RATE, STRANGER_PUNCH_RATE } from '../../src/punch/guard.js';
import { PROBE_COUNT } from '../../src/punch/plan.js';
import { PUNCH_ATTEMPTS } from '../../src/signaler/limits.js';
import { MAX_PUNCH_PEAK_FDS, SYNS_PER_PROBE_SOCKET } from './abuse/bounds.js';
import { assertSurvived, attackCount, context, counter, counterSum, figure, testScale } from './abuse/expect.js';
import { REFLECTION_SETTLE_MS, localsReflection, mdnsReflection, punchStorm } from './abuse/scenarios/reflection.js';
import { labAvailable } from './gate.js';

const labOk = await labAvailable('abuse: reflection attacks in the NAT lab');
const scale = testScale();

/** Punches a stranger's PUNCH_STARTs can get from the victim in `ms` (its guard: burst, then rate). */
function strangerPunches(ms: number): number {
  return STRANGER_PUNCH_RATE.burst + Math.ceil((ms / 1000) * STRANGER_PUNCH_RATE.perSecond);
}

if (labOk) describe('abuse: reflection attacks', { timeout: 300_000 }, () => {
  it('finding 1, mDNS reflection: fresh ids at a LAN host cost that host a bounded number of SYNs', async (t) => {
    const r = await mdnsReflection.run(scale);
    assertSurvived(t, r);
    const windows = Math.ceil((figure(r, 'attack_ms') + REFLECTION_SETTLE_MS) / ADDRESS_WINDOW_MS);
    const syns = figure(r, 'syns_at_victim');
    assert.ok(syns <= MAX_HINTS_PER_ADDRESS * windows, `${syns} SYNs at the victim (bound ${MAX_HINTS_PER_ADDRESS * windows}); the review saw 4,000\n${context(r)}`);
    assert.ok(syns > 0, `an on-link attack gets a few hints through: none did, so the attack did not reach the node\n${context(r)}`);
    assert.ok(counter(r, 'mdns.hints_limited.address') >= attackCount(r, 'ids') / 2, `hints naming the victim were limited\n${context(r)}`);
  });

  it('finding 4, punch storm: 32 throw-away ids get a few punches, birthdays within the strangers\' budget; descriptors stay bounded', async (t) => {
    const r = await punchStorm.run(scale);
    assertSurvived(t, r);
    const answered = figure(r, 'punches_answered');
    const ms = figure(r, 'attack_ms');
    assert.ok(answered >= 1 && answered <= strangerPunches(ms), `${answered} punches answered (bound ${strangerPunches(ms)})\n${context(r)}`);
    assert.ok(counterSum(r, 'punch_refused.') > 0, `the victim refused the rest\n${context(r)}`);
    assert.ok(r.peaks.peakFds <= MAX_PUNCH_PEAK_FDS, `peak ${r.peaks.peakFds} descriptors (bound ${MAX_PUNCH_PEAK_FDS}); the review saw 20,000\n${context(r)}`);
    const birthdays = STRANGER_BIRTHDAY_RATE.burst + Math.ceil((ms / 1000) * STRANGER_BIRTHDAY_RATE.perSecond);
    const synBound = answered * PUNCH_ATTEMPTS * (1 + MAX_LOCAL_CANDIDATES) + birthdays * PROBE_COUNT * SYNS_PER_PROBE_SOCKET;
    assert.ok(figure(r, 'syns_at_attackers') <= synBound, `${figure(r, 'syns_at_attackers')} SYNs at the attackers (bound ${synBound})\n${context(r)}`);
    assert.ok(attackCount(r, 'signal_error.RATE_LIMITED') > attackCount(r, 'punch_start'), `the signaler refused most requests\n${context(r)}`);
  });

  it('finding 5, local endpoints: the public victim gets no SYN, the LAN victim a bounded number', async (t) => {
    const r = await localsReflection.run(scale);
    assertSurvived(t, r);
    assert.equal(figure(r, 'syns_at_public_victim'), 0, `no SYN at an address off the victim's links\n${context(r)}`);
    const answered = figure(r, 'punches_answered');
    const lan = figure(r, 'syns_at_lan_victim');
    assert.ok(answered >= 1 && answered <= strangerPunches(figure(r, 'attack_ms')), context(r));
    assert.ok(lan <= answered * MAX_LOCAL_CANDIDATES * PUNCH_ATTEMPTS, `${lan} SYNs at the LAN victim (bound ${answered * MAX_LOCAL_CANDIDATES * PUNCH_ATTEMPTS}); the review saw 320 per request\n${context(r)}`);
    assert.ok(lan > 0, `local endpoints on the victim's own LAN are tried (so the count above means something)\n${context(r)}`);
  });
});
