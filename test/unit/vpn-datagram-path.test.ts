/** The datagram path's state machine (src/vpn/datagram-path.ts) on a manual clock, and the path policy (path-policy.ts) on fed samples. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatagramPath, KEEPALIVE_MS, MAX_UNANSWERED, PROBE_TIMEOUT_MS, RETRY_MIN_MS, SILENCE_MS, type PathState } from '../../src/vpn/datagram-path.js';
import { DEFAULT_POLICY, PathPolicy, datagramModeFrom } from '../../src/vpn/path-policy.js';

function machine(): { p: DatagramPath; probes: number[]; changes: string[]; at: (t: number) => void } {
  let now = 0;
  const probes: number[] = [];
  const changes: string[] = [];
  const p = new DatagramPath({ now: () => now, sendProbe: (id) => probes.push(id), onChange: (f: PathState, t: PathState) => changes.push(`${f}>${t}`) });
  return { p, probes, changes, at: (t) => ((now = t), p.tick()) };
}

describe('datagram path state machine', () => {
  it('offered -> probing (a probe at once) -> up on the reply', () => {
    const { p, probes, changes } = machine();
    assert.equal(p.state, 'offered');
    p.tick();
    assert.equal(probes.length, 0, 'nothing before start');
    p.start();
    assert.deepEqual(probes, [1]);
    assert.equal(p.usable, false);
    p.probeReply(1);
    assert.equal(p.state, 'up');
    assert.equal(p.usable, true);
    assert.deepEqual(changes, ['offered>probing', 'probing>up']);
  });

  it('three unanswered probes put it down; it retries after the backoff, doubling', () => {
    const { p, probes, changes, at } = machine();
    p.start();
    at(PROBE_TIMEOUT_MS - 1);
    assert.equal(probes.length, 1, 'not before the timeout');
    at(PROBE_TIMEOUT_MS);
    at(2 * PROBE_TIMEOUT_MS);
    assert.equal(probes.length, MAX_UNANSWERED);
    assert.equal(p.state, 'probing');
    at(3 * PROBE_TIMEOUT_MS);
    assert.equal(p.state, 'down');
    const downAt = 3 * PROBE_TIMEOUT_MS;
    at(downAt + RETRY_MIN_MS - 1);
    assert.equal(p.state, 'down');
    at(downAt + RETRY_MIN_MS);
    assert.equal(p.state, 'probing');
    assert.equal(probes.length, MAX_UNANSWERED + 1);
    let t = downAt + RETRY_MIN_MS;
    for (let i = 0; i < MAX_UNANSWERED; i++) at((t += PROBE_TIMEOUT_MS));
    assert.equal(p.state, 'down');
    at(t + 2 * RETRY_MIN_MS - 1);
    assert.equal(p.state, 'down', 'the second wait is twice as long');
    at(t + 2 * RETRY_MIN_MS);
    assert.equal(p.state, 'probing');
    assert.deepEqual(changes.slice(0, 4), ['offered>probing', 'probing>down', 'down>probing', 'probing>down']);
  });

  it('ignores replies to probes it did not send recently', () => {
    const { p } = machine();
    p.start();
    p.probeReply(2);
    p.probeReply(0);
    assert.equal(p.state, 'probing');
  });

  it('up: probes only on silence after sending (or keepalive), goes down when the probes go unanswered', () => {
    const { p, probes, changes, at } = machine();
    p.start();
    p.probeReply(1);
    at(SILENCE_MS + 10);
    assert.equal(probes.length, 1, 'nothing sent: no probe before the keepalive');
    p.sent();
    at(SILENCE_MS + 20);
    assert.equal(probes.length, 2, 'sent, and silent for a second: probe');
    p.probeReply(2);
    p.sent();
    const t0 = SILENCE_MS + 20;
    at(t0 + SILENCE_MS - 1);
    assert.equal(probes.length, 2, 'heard (the reply) less than a second ago');
    at(t0 + SILENCE_MS);
    assert.equal(probes.length, 3);
    p.heard(); // data from the peer does not answer a probe
    at(t0 + SILENCE_MS + PROBE_TIMEOUT_MS);
    at(t0 + SILENCE_MS + 2 * PROBE_TIMEOUT_MS);
    assert.equal(probes.length, 5);
    assert.equal(p.state, 'up');
    at(t0 + SILENCE_MS + 3 * PROBE_TIMEOUT_MS);
    assert.equal(p.state, 'down');
    assert.deepEqual(changes, ['offered>probing', 'probing>up', 'up>down']);
  });

  it('up: an answered probe clears the count; keepalive probes when idle', () => {
    const { p, probes, at } = machine();
    p.start();
    p.probeReply(1);
    at(KEEPALIVE_MS);
    assert.equal(probes.length, 2);
    p.probeReply(2);
    at(KEEPALIVE_MS + 3 * PROBE_TIMEOUT_MS);
    assert.equal(p.state, 'up');
    assert.equal(probes.length, 2);
  });
});

describe('path policy', () => {
  const udp = (expected: number, received: number) => ({ expected, received });

  it('parses SENTINEL_VPN_DATAGRAM', () => {
    assert.equal(datagramModeFrom(undefined), 'auto');
    assert.equal(datagramModeFrom(''), 'auto');
    assert.equal(datagramModeFrom('ALWAYS'), 'always');
    assert.equal(datagramModeFrom('off'), 'off');
    assert.throws(() => datagramModeFrom('udp'), RangeError);
  });

  it('off never, always whenever the path is up', () => {
    const off = new PathPolicy('off');
    assert.equal(off.decide(0, true, null, udp(0, 0)), 'tcp');
    const always = new PathPolicy('always');
    assert.equal(always.decide(0, false, null, udp(0, 0)), 'tcp');
    assert.equal(always.decide(1, true, null, udp(0, 0)), 'udp');
    assert.equal(always.decide(2, false, null, udp(0, 0)), 'tcp');
  });

  it('auto: stays on tcp without loss, without samples, or with too few segments', () => {
    const p = new PathPolicy('auto');
    assert.equal(p.decide(0, true, { segsOut: 0, retrans: 0 }, udp(0, 0)), 'tcp');
    assert.equal(p.decide(1000, true, { segsOut: 100_000, retrans: 10 }, udp(0, 0)), 'tcp', '0.01%');
    assert.equal(p.decide(2000, true, { segsOut: 100_100, retrans: 20 }, udp(0, 0)), 'tcp', '10% of 100 segments');
    const blind = new PathPolicy('auto');
    assert.equal(blind.decide(0, true, null, udp(0, 0)), 'tcp');
    assert.equal(blind.decide(5000, true, null, udp(0, 0)), 'tcp', 'no TCP_INFO: tcp');
  });

  it('auto: switches on outer TCP loss over a window, holds udp, returns when the udp path is clean', () => {
    const p = new PathPolicy('auto');
    p.decide(0, true, { segsOut: 0, retrans: 0 }, udp(0, 0));
    assert.equal(p.decide(500, true, { segsOut: 1000, retrans: 100 }, udp(0, 0)), 'tcp', 'window not over yet');
    assert.equal(p.decide(1000, true, { segsOut: 10_000, retrans: 100 }, udp(0, 0)), 'udp', '1% > 0.5%');
    // UDP as lossy as the underlay: stays, before and after the hold.
    let t = 1000;
    let e = 0;
    for (; t < 1000 + DEFAULT_POLICY.holdMs + 5000; t += 1000) {
      e += 10_000;
      assert.equal(p.decide(t + 1000, true, { segsOut: 10_000, retrans: 100 }, udp(e, e * 0.99)), 'udp', `at ${t}`);
    }
    // The loss stops: back to tcp at the next window.
    const r = e * 0.99;
    assert.equal(p.decide(t + 1000, true, { segsOut: 10_000, retrans: 100 }, udp(e + 10_000, r + 10_000)), 'tcp');
  });

  it('auto: the udp path going down sends packets back to tcp at once', () => {
    const p = new PathPolicy('auto');
    p.decide(0, true, { segsOut: 0, retrans: 0 }, udp(0, 0));
    assert.equal(p.decide(1000, true, { segsOut: 10_000, retrans: 1000 }, udp(0, 0)), 'udp');
    assert.equal(p.decide(1100, false, { segsOut: 10_000, retrans: 1000 }, udp(0, 0)), 'tcp');
  });
});
