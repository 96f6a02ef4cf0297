/** Netcheck classification and dial explanations, pure: one case per classification. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, mappingOfKind, type Observations } from '../../src/netcheck/classify.js';
import { explainDial, type PunchOutcome } from '../../src/netcheck/explain.js';
import { runNetcheck, type NetcheckIo } from '../../src/netcheck/run.js';
import { ProbeOutcome, type Endpoint, type NetcheckResult } from '../../src/wire/index.js';

const LISTEN = 7001;
const LAN = '192.168.1.10';
const WAN = '203.0.113.11';

/** Observations of a node at LAN behind a NAT at WAN; override what a case changes. */
function obs(o: Partial<Observations> = {}): Observations {
  return {
    signaler: { address: '203.0.113.10:8888', state: 'connected', rttMs: 4, error: null },
    listenPort: LISTEN,
    localHosts: [LAN],
    observed: { host: WAN, port: LISTEN },
    probe: { ok: true, at: { host: WAN, port: LISTEN } },
    probeFromIdentityPort: true,
    inbound: ProbeOutcome.TIMEOUT,
    requestError: null,
    connectTimeoutMs: 2000,
    ipv6: [],
    probe6: null,
    ...o,
  };
}

describe('netcheck classification', () => {
  it('a public host: no NAT, endpoint-independent, port kept, open or reset', () => {
    const open = classify(obs({ localHosts: [WAN], inbound: ProbeOutcome.CONNECTED, probe: null }));
    assert.equal(open.behindNat, false);
    assert.equal(open.natKind, 'public');
    assert.equal(open.mapping, 'endpoint-independent', 'no NAT remaps nothing, even with one observation');
    assert.equal(open.portPreserving, true);
    assert.equal(open.filtering, 'open');
    assert.equal(classify(obs({ localHosts: [WAN], inbound: ProbeOutcome.RESET })).filtering, 'reset');
  });

  it('an easy NAT: the same public port from both destinations, the identity port kept, inbound dropped', () => {
    const r = classify(obs());
    assert.equal(r.behindNat, true);
    assert.equal(r.natKind, 'easy');
    assert.equal(r.mapping, 'endpoint-independent');
    assert.equal(r.portPreserving, true);
    assert.equal(r.filtering, 'drop');
    assert.match(r.filteringDetail, /2000 ms/);
    assert.equal(r.publicAddress, `${WAN}:${LISTEN}`);
    assert.equal(r.probeAddress, `${WAN}:${LISTEN}`);
    assert.deepEqual(r.notes, []);
  });

  it('a hard NAT: another public port towards the probe port: endpoint-dependent, not port preserving', () => {
    const r = classify(obs({ observed: { host: WAN, port: 40001 }, probe: { ok: true, at: { host: WAN, port: 51234 } } }));
    assert.equal(r.natKind, 'hard');
    assert.equal(r.mapping, 'endpoint-dependent');
    assert.equal(r.portPreserving, false);
  });

  it('a NAT that changes the port once but keeps it per destination: endpoint-independent, not preserving, with a note', () => {
    const r = classify(obs({ observed: { host: WAN, port: 40001 }, probe: { ok: true, at: { host: WAN, port: 40001 } } }));
    assert.equal(r.mapping, 'endpoint-independent');
    assert.equal(r.portPreserving, false);
    assert.equal(r.natKind, 'hard', 'the punch planner sees only the port change');
    assert.match(r.notes.join('\n'), /punch planner.*hard/);
  });

  it('another public IP from the probe (a NAT pool without pairing) is endpoint-dependent', () => {
    assert.equal(classify(obs({ probe: { ok: true, at: { host: '203.0.113.99', port: LISTEN } } })).mapping, 'endpoint-dependent');
  });

  it('one observation point only: mapping unknown, saying why', () => {
    const none = classify(obs({ probe: null }));
    assert.equal(none.mapping, 'unknown');
    assert.equal(none.portPreserving, true, 'port preservation needs one observation only');
    assert.match(none.notes.join(), /only one observation point/);
    const failed = classify(obs({ probe: { ok: false, error: 'no answer within 3000 ms' } }));
    assert.equal(failed.mapping, 'unknown');
    assert.match(failed.notes.join(), /3000 ms/);
    const ephemeral = classify(obs({ probeFromIdentityPort: false }));
    assert.equal(ephemeral.mapping, 'unknown', 'a probe from another local port says nothing about the identity port');
  });

  it('filtering: reset, ICMP unreachable (a refusal too), drop, open, and each way of not knowing', () => {
    assert.equal(classify(obs({ inbound: ProbeOutcome.RESET })).filtering, 'reset');
    const icmp = classify(obs({ inbound: ProbeOutcome.UNREACHABLE }));
    assert.equal(icmp.filtering, 'reset');
    assert.match(icmp.filteringDetail, /ICMP/);
    assert.equal(classify(obs({ inbound: ProbeOutcome.CONNECTED })).filtering, 'open');
    const limited = classify(obs({ inbound: ProbeOutcome.LIMITED }));
    assert.equal(limited.filtering, 'unknown');
    assert.match(limited.filteringDetail, /rate/);
    assert.match(classify(obs({ inbound: ProbeOutcome.NOT_TESTED })).filteringDetail, /no probe port/);
    const old = classify(obs({ inbound: null, requestError: 'signaler did not answer in time' }));
    assert.equal(old.filtering, 'unknown');
    assert.match(old.filteringDetail, /did not answer/);
  });

  it('an unreachable signaler: nothing known', () => {
    const r = classify(obs({ signaler: { address: '203.0.113.10:8888', state: 'unreachable', rttMs: null, error: 'ECONNREFUSED' }, observed: null, probe: null, inbound: null }));
    assert.equal(r.signaler.reachable, false);
    assert.equal(r.publicAddress, null);
    assert.equal(r.behindNat, null);
    assert.equal(r.mapping, 'unknown');
    assert.equal(r.portPreserving, null);
    assert.equal(r.filtering, 'unknown');
    assert.equal(r.natKind, 'unknown');
  });

  it('IPv6: none, not testable, reachable, unreachable', () => {
    assert.equal(classify(obs()).ipv6.detail, 'no global IPv6 address');
    assert.equal(classify(obs({ ipv6: ['2001:db8:1::a'] })).ipv6.signaler, 'unknown');
    const ok = classify(obs({ ipv6: ['2001:db8:1::a'], probe6: { ok: true, at: { host: '2001:db8:1::a', port: LISTEN } } }));
    assert.equal(ok.ipv6.signaler, 'reachable');
    assert.equal(ok.ipv6.observed, `[2001:db8:1::a]:${LISTEN}`);
    const bad = classify(obs({ ipv6: ['2001:db8:1::a'], probe6: { ok: false, error: 'EHOSTUNREACH' } }));
    assert.equal(bad.ipv6.signaler, 'unreachable');
    assert.equal(bad.ipv6.detail, 'EHOSTUNREACH');
  });

  it('maps the punch vocabulary onto RFC 4787 terms', () => {
    assert.equal(mappingOfKind('public'), 'endpoint-independent');
    assert.equal(mappingOfKind('easy'), 'endpoint-independent');
    assert.equal(mappingOfKind('hard'), 'endpoint-dependent');
    assert.equal(mappingOfKind('unknown'), 'unknown');
  });
});

describe('dial explanations', () => {
  const outcome = (o: Partial<PunchOutcome>): PunchOutcome => ({ self: 'easy', peer: 'easy', impossible: false, birthday: false, ended: 'timeout', ...o });

  it('hard x hard: both NATs change the port per destination', () => {
    const e = explainDial({ punch: outcome({ self: 'hard', peer: 'hard', impossible: true, ended: 'impossible' }), unavailable: null, netcheck: null });
    assert.equal(e.reason.code, 'both-endpoint-dependent');
    assert.match(e.explanation, /you are behind a NAT that changes the port per destination.*and so is the peer/);
    assert.equal(e.reason.self.mapping, 'endpoint-dependent');
    assert.equal(e.reason.peer?.mapping, 'endpoint-dependent');
    assert.match(e.explanation, /so the session is relayed$/);
    const failed = explainDial({ punch: outcome({ self: 'hard', peer: 'hard', impossible: true, ended: 'impossible' }), unavailable: null, netcheck: null, failed: true });
    assert.match(failed.explanation, /and no relay could take the session$/);
  });

  it('easy x hard after a birthday attempt: says which side changes the port', () => {
    const mine = explainDial({ punch: outcome({ self: 'hard', peer: 'easy', birthday: true }), unavailable: null, netcheck: null });
    assert.equal(mine.reason.code, 'endpoint-dependent-birthday');
    assert.match(mine.explanation, /^you are behind a NAT that changes the port per destination and the peer is behind one that keeps it/);
    const theirs = explainDial({ punch: outcome({ self: 'easy', peer: 'hard', birthday: true }), unavailable: null, netcheck: null });
    assert.match(theirs.explanation, /^the peer is behind a NAT that changes the port/);
  });

  it('refused rounds: a firewall that answers; our own netcheck is quoted when it says reset', () => {
    const netcheck = classify(obs({ inbound: ProbeOutcome.RESET }));
    const e = explainDial({ punch: outcome({ ended: 'refused' }), unavailable: null, netcheck });
    assert.equal(e.reason.code, 'firewall-refuses');
    assert.equal(e.reason.self.filtering, 'reset');
    assert.match(e.explanation, /your own network answers/);
  });

  it('timed out between two endpoint-independent NATs', () => {
    const e = explainDial({ punch: outcome({}), unavailable: null, netcheck: null });
    assert.equal(e.reason.code, 'punch-timed-out');
    assert.match(e.explanation, /keeps the port for every destination/);
  });

  it('no punch tried: why; a peer the signaler does not know', () => {
    assert.equal(explainDial({ punch: null, unavailable: 'no signaler configured', netcheck: null }).reason.code, 'punch-unavailable');
    assert.equal(explainDial({ punch: null, unavailable: null, netcheck: null, notRegistered: true }).reason.code, 'not-registered');
  });
});

describe('runNetcheck gathers through its I/O', () => {
  function io(o: Partial<NetcheckIo> & { result?: NetcheckResult; seen?: Record<string, Endpoint | Error> }): NetcheckIo & { observedCalls: string[] } {
    const observedCalls: string[] = [];
    return {
      signaler: () => ({ address: '203.0.113.10:8888', state: 'connected', rttMs: 3, error: null, observed: { host: WAN, port: 40001 }, endpoint: { host: '203.0.113.10', port: 8888 } }),
      request: async () => o.result ?? { reqId: 1, probePort: 8889, inbound: ProbeOutcome.TIMEOUT, probe6: [{ host: '2001:db8:ff::a', port: 8889 }] },
      observe: async (host, port) => {
        observedCalls.push(`${host}|${port}`);
        const v = o.seen?.[`${host}|${port}`];
        if (v instanceof Error) throw v;
        if (!v) throw new Error('nothing there');
        return v;
      },
      fromIdentityPort: true,
      listenPort: LISTEN,
      localHosts: [LAN],
      ipv6: [],
      ...o,
      observedCalls,
    };
  }

  it('asks the probe port at the signaler\'s address and compares', async () => {
    const x = io({ seen: { '203.0.113.10|8889': { host: WAN, port: 40002 } } });
    const r = await runNetcheck(x);
    assert.deepEqual(x.observedCalls, ['203.0.113.10|8889'], 'IPv6 is not probed without an address of our own');
    assert.equal(r.mapping, 'endpoint-dependent');
    assert.equal(r.filtering, 'drop');
  });

  it('probes IPv6 at the first address the signaler offers, when we have one', async () => {
    const x = io({ ipv6: ['2001:db8:1::a'], seen: { '203.0.113.10|8889': { host: WAN, port: 40001 }, '2001:db8:ff::a|8889': { host: '2001:db8:1::a', port: LISTEN } } });
    const r = await runNetcheck(x);
    assert.equal(r.ipv6.signaler, 'reachable');
    assert.equal(r.mapping, 'endpoint-independent');
  });

  it('a signaler that does not answer netcheck: unknown with the reason, no probes', async () => {
    const x = io({ request: async () => Promise.reject(new Error('signaler did not answer in time')) });
    const r = await runNetcheck(x);
    assert.equal(x.observedCalls.length, 0);
    assert.equal(r.mapping, 'unknown');
    assert.match(r.filteringDetail, /did not answer/);
    assert.equal(r.publicAddress, `${WAN}:40001`);
  });

  it('no signaler at all', async () => {
    const r = await runNetcheck(io({ signaler: () => null }));
    assert.equal(r.signaler.reachable, false);
    assert.equal(r.signaler.state, 'disabled');
    assert.match(r.filteringDetail, /not reachable/);
  });
});
