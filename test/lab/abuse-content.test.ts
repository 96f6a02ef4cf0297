/**
 * Abuse suite, what sessions carry (issue 8, findings 2, 3 and 6): strangers' CHATs
 * against a 16 MiB data dir, VPN address claims, and a gossip flood, with real binaries in
 * the NAT lab (root only; skipped with the reason otherwise, failed when
 * SENTINEL_LAB=required).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HELD_BYTES_TOTAL, MAX_REMEMBERED_STRANGERS, STRANGER_DIALS_PER_HOST } from '../../src/peers/limits.js';
import { STORE_RESERVE_BYTES } from '../../src/store/index.js';
import { MAX_TEXT_BYTES } from '../../src/wire/index.js';
import { MAX_IDLE_CPU_PERCENT_AFTER_FLOOD } from './abuse/bounds.js';
import { assertSurvived, attackCount, context, counter, counterSum, figure, testScale } from './abuse/expect.js';
import { diskFull, gossipFlood, vpnHijack } from './abuse/scenarios/content.js';
import { labAvailable } from './gate.js';

const labOk = await labAvailable('abuse: content attacks in the NAT lab');
const scale = testScale();

if (labOk) describe('abuse: content attacks', { timeout: 300_000 }, () => {
  it('finding 2, disk full: strangers get their quota, the disk keeps its room, contacts still get through', async (t) => {
    const r = await diskFull.run(scale);
    assertSurvived(t, r);
    assert.ok(figure(r, 'offered_bytes') > figure(r, 'tmpfs_bytes'), 'the attack offers more than the disk holds');
    assert.equal(r.status?.store?.full, false, `the store never filled\n${context(r)}`);
    assert.ok(figure(r, 'free_bytes_after') > STORE_RESERVE_BYTES, context(r));
    assert.ok((r.status?.trust.held.bytes ?? Infinity) <= MAX_HELD_BYTES_TOTAL, `held ${r.status?.trust.held.bytes} bytes (quota ${MAX_HELD_BYTES_TOTAL})\n${context(r)}`);
    assert.ok(attackCount(r, 'acked') * MAX_TEXT_BYTES <= MAX_HELD_BYTES_TOTAL, `the node acknowledged only what the quotas hold\n${context(r)}`);
    assert.ok(counterSum(r, 'chat_refused.quota.') > 0, context(r));
    assert.equal(attackCount(r, 'unanswered'), 0, `every CHAT was answered (ACK or CHAT_REFUSED)\n${context(r)}`);
  });

  it("finding 3, VPN hijack: neither a stranger nor an allowed peer can take a contact's address, also while it is away", async (t) => {
    const r = await vpnHijack.run(scale);
    assertSurvived(t, r);
    for (const f of ['ping_v_to_b_during', 'ping_v_to_b_after_b_rejoined', 'ping_v_to_b_after', 'ping_b_to_v_after']) assert.equal(figure(r, f), 1, `${f}\n${context(r)}`);
    const b = r.figures['b_ipv4'];
    assert.equal(attackCount(r, `packets_to.${String(b)}`), 0, `no claimant received packets meant for the contact\n${context(r)}`);
    assert.ok(counter(r, 'vpn.addr_ignored.not_allowed') > 0, `the stranger's claims were ignored\n${context(r)}`);
    assert.ok(figure(r, 'claims_refused_for_b') >= 1, `the allowed peer's claim was refused as a collision with the contact\n${context(r)}`);
    assert.equal(figure(r, 'collisions_after'), 0, `no claim outlives its session\n${context(r)}`);
  });

  it('finding 6, gossip flood: bounded memory of strangers and dials to the named host; a real newcomer still gets in', async (t) => {
    const r = await gossipFlood.run(scale);
    assertSurvived(t, r);
    assert.equal(attackCount(r, 'records'), figure(r, 'records'), context(r));
    // The flood is held back before any public-key work: by the node-wide signature-check
    // budget for strangers' records, and by the book's fair share once it is full.
    const refused = counter(r, 'gossip.verify_limited') + counter(r, 'gossip.evicted') + counter(r, 'gossip.full');
    assert.ok(counter(r, 'gossip.accepted') > 0 && refused > 0, `the flood was held back (verify budget, fair share)\n${context(r)}`);
    assert.ok(figure(r, 'remembered') <= MAX_REMEMBERED_STRANGERS, context(r));
    const dialBound = STRANGER_DIALS_PER_HOST.burst + Math.ceil(figure(r, 'seconds_since_attack') * STRANGER_DIALS_PER_HOST.perSecond) + 1;
    assert.ok(figure(r, 'syns_at_t') <= dialBound, `${figure(r, 'syns_at_t')} SYNs at the host the records named (bound ${dialBound}); the review saw 669 in 10 s\n${context(r)}`);
    assert.ok(figure(r, 'newcomer_connected_ms') >= 0, `a newcomer introduced by the contact was never dialed\n${context(r)}`);
    const cpu = figure(r, 'idle_cpu_percent');
    assert.ok(cpu <= MAX_IDLE_CPU_PERCENT_AFTER_FLOOD, `${cpu}% CPU idle after the flood (bound ${MAX_IDLE_CPU_PERCENT_AFTER_FLOOD}%)\n${context(r)}`);
  });
});
