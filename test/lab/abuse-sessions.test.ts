/**
 * Abuse suite, connection layer (issue 8, findings 7-10), with real binaries in the NAT lab
 * (root only; skipped with the reason otherwise, failed when SENTINEL_LAB=required). Each
 * test builds its own lab, measures a contact's dials before and during the attack, and
 * checks the victim survives (test/lab/abuse/expect.ts) and its defences acted. Scaled down
 * for CI where the defence is the same (docs/ABUSE.md); SENTINEL_ABUSE_SCALE=full runs the
 * issue's figures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_PENDING_HANDSHAKES, MAX_STRANGER_SESSIONS, MAX_STRANGER_SESSIONS_PER_IP } from '../../src/transport/limits.js';
import { MAX_REMEMBERED_STRANGERS } from '../../src/peers/limits.js';
import { MAX_HALF_OPEN_PEAK_FDS, MAX_PULL_AMP_RSS_GROWTH_KIB, MAX_SIGNALER_PEAK_RSS_KIB } from './abuse/bounds.js';
import { assertSurvived, attackCount, context, counter, figure, testScale } from './abuse/expect.js';
import { halfOpenTls, helloFlood, pullAmplification, sessionCap } from './abuse/scenarios/sessions.js';
import { labAvailable } from './gate.js';

const labOk = await labAvailable('abuse: connection-layer attacks in the NAT lab');
const scale = testScale();

if (labOk) describe('abuse: connection-layer attacks', { timeout: 300_000 }, () => {
  it('finding 8, HELLO flood: a second HELLO closes the session; SIGTERM mid-flood stops the node by itself', async (t) => {
    const r = await helloFlood.run(scale);
    assertSurvived(t, r);
    const sessions = attackCount(r, 'sessions');
    assert.ok(sessions > 0, context(r));
    assert.equal(attackCount(r, 'closed_by_node'), sessions, `every flooding session is closed by the node\n${context(r)}`);
    assert.equal(attackCount(r, 'goaway.PROTOCOL_ERROR'), sessions, context(r));
    assert.ok(counter(r, 'protocol_errors.E_PROTOCOL') >= 1, context(r));
  });

  it('finding 9, half-open TLS: pending handshakes stay capped at the node and the signaler; the signaler still registers nodes', async (t) => {
    const r = await halfOpenTls.run(scale);
    assertSurvived(t, r);
    assert.ok(counter(r, 'inbound_refused.pending_per_ip') > 0, `the per-address cap acted\n${context(r)}`);
    assert.ok(counter(r, 'inbound_evicted.pending_full') > 0, `the global cap acted (oldest evicted)\n${context(r)}`);
    assert.ok(r.peaks.peakFds <= MAX_HALF_OPEN_PEAK_FDS, `peak ${r.peaks.peakFds} descriptors (bound ${MAX_HALF_OPEN_PEAK_FDS}: ${MAX_PENDING_HANDSHAKES} pending + the rest)\n${context(r)}`);
    assert.ok(figure(r, 'signaler_peak_rss_kib') <= MAX_SIGNALER_PEAK_RSS_KIB, context(r));
    assert.equal(figure(r, 'signaler_registers_after'), 1, `a fresh node registers with the signaler after the attack\n${context(r)}`);
  });

  it('finding 10, session-slot exhaustion: strangers hold at most their slots, the contact gets in, throw-away ids are not all remembered', async (t) => {
    const r = await sessionCap.run(scale);
    assertSurvived(t, r);
    const mid = figure(r, 'stranger_sessions_mid');
    assert.ok(mid > 0 && mid <= MAX_STRANGER_SESSIONS, `${mid} stranger sessions during the attack (cap ${MAX_STRANGER_SESSIONS})\n${context(r)}`);
    assert.ok(attackCount(r, 'admitted') <= Math.min(MAX_STRANGER_SESSIONS, 17 * MAX_STRANGER_SESSIONS_PER_IP), context(r));
    assert.ok(counter(r, 'sessions_refused.busy') > 0, `strangers beyond their slots were refused (GOAWAY BUSY)\n${context(r)}`);
    assert.equal(attackCount(r, 'admitted') + attackCount(r, 'refused'), attackCount(r, 'opened'), `every session got an answer\n${context(r)}`);
    const remembered = r.status?.trust.remembered ?? Infinity;
    assert.ok(remembered <= MAX_REMEMBERED_STRANGERS && remembered <= attackCount(r, 'admitted') + 2, `${remembered} strangers remembered of ${figure(r, 'attempted')} throw-away ids\n${context(r)}`);
  });

  it('finding 7, pull amplification: 64 sessions pushing and never reading cost little memory; pushes beyond the rate are dropped', async (t) => {
    const r = await pullAmplification.run(scale);
    assertSurvived(t, r);
    assert.equal(attackCount(r, 'sessions'), 64, context(r));
    const growth = r.peaks.peakRssKiB - (r.before?.rssKiB ?? 0);
    assert.ok(growth <= MAX_PULL_AMP_RSS_GROWTH_KIB, `peak RSS grew by ${growth} KiB (bound ${MAX_PULL_AMP_RSS_GROWTH_KIB})\n${context(r)}`);
    assert.ok(counter(r, 'gossip.push_rate_limited') > attackCount(r, 'pushes') / 2, `most pushes were dropped by the push rate\n${context(r)}`);
  });
});
