/**
 * The node and signaler registries over fake sources, read back with a real Prometheus text
 * parser: names, types, labels taken from counter names, and totals that never decrease.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { PeerInfo, StatusInfo } from '../../src/api.js';
import { pendingCount } from '../../src/metrics/endpoint.js';
import { nodeRegistry } from '../../src/metrics/node-metrics.js';
import { PeerTraffic } from '../../src/metrics/peer-traffic.js';
import { signalerRegistry, type SignalerMetricsSource } from '../../src/metrics/signaler-metrics.js';
import type { RelayStats } from '../../src/relay/hub-state.js';
import { Scrape } from '../helpers/scrape.js';

const ID = 'a'.repeat(56);

function fakeStatus(over: { counters?: Record<string, number>; vpnPeers?: StatusInfo['vpn']['peers']; offering?: unknown } = {}): StatusInfo {
  return {
    id: ID,
    uptimeMs: 2500,
    signaler: { state: 'unreachable' },
    counters: over.counters ?? {},
    trust: { contacts: 2, remembered: 5, blocked: 1, sessions: { contacts: 1, strangers: 1, pendingHandshakes: 0 }, held: { count: 3, bytes: 10, requests: 2 } },
    vpn: { state: 'off', drops: { not_allowed: 4 }, peers: over.vpnPeers ?? {} },
    store: { full: false },
    relay: { offering: over.offering ?? null },
  } as unknown as StatusInfo;
}

const peer = (id: string, path: 'direct' | 'relay' | null, method: PeerInfo['method']): PeerInfo => ({ id, connected: path !== null, path, method }) as PeerInfo;

async function read(r: { metrics(): Promise<string> }): Promise<Scrape> {
  const text = await r.metrics();
  return new Scrape(parsePrometheusTextFormat(text), text);
}

describe('node registry', () => {
  it('every name starts with sentinel_, every counter ends in _total, values come from status and counters', async () => {
    let status = fakeStatus({
      counters: {
        chat_sent: 5,
        chat_delivered: 4,
        chat_stored: 2,
        chat_requests_stored: 1,
        'chat_rejected.bad_signature': 1,
        'handshakes_failed.E_TLS': 3,
        'handshakes_failed.E_HANDSHAKE_TIMEOUT': 1,
        'punch_outcomes.birthday.easy.hard.failed': 2,
        'punch_refused.stranger_busy': 1,
        'gossip.accepted': 9,
        'gossip.bad_signature': 1,
      },
    });
    const peers = [peer('p1', 'direct', 'outbound'), peer('p2', 'direct', 'outbound'), peer('p3', 'relay', 'relay'), peer('p4', null, null)];
    const r = nodeRegistry({ status: () => status, peers: () => peers, traffic: new PeerTraffic(() => 'contact', 4), pendingMessages: () => 7 });
    const s = await read(r);
    for (const f of s.families) {
      assert.match(f.name, /^sentinel_/);
      if (f.type === 'COUNTER') assert.match(f.name, /_total$/, f.name);
      else assert.doesNotMatch(f.name, /_total$/, f.name);
    }
    assert.equal(s.value('sentinel_node_info', { id: ID }), 1);
    assert.equal(s.value('sentinel_uptime_seconds'), 2.5);
    assert.equal(s.value('sentinel_signaler_state', { state: 'unreachable' }), 1);
    assert.equal(s.value('sentinel_signaler_state', { state: 'connected' }), 0);
    assert.equal(s.value('sentinel_sessions', { path: 'direct', method: 'outbound' }), 2);
    assert.equal(s.value('sentinel_sessions', { path: 'relay', method: 'relay' }), 1);
    assert.equal(s.value('sentinel_relay_circuits', { role: 'client' }), 1);
    assert.equal(s.value('sentinel_relay_circuits', { role: 'relay' }), undefined, 'no --relay: no relay side');
    assert.equal(s.value('sentinel_handshake_failures_total', { code: 'E_TLS' }), 3);
    assert.equal(s.value('sentinel_punches_total', { method: 'birthday', nat: 'easy', peer_nat: 'hard', outcome: 'failed' }), 2);
    assert.equal(s.value('sentinel_punches_refused_total', { reason: 'stranger_busy' }), 1);
    assert.equal(s.value('sentinel_messages_sent_total'), 5);
    assert.equal(s.value('sentinel_messages_delivered_total'), 4);
    assert.equal(s.value('sentinel_messages_pending'), 7);
    assert.equal(s.value('sentinel_messages_received_total', { kind: 'request' }), 1);
    assert.equal(s.value('sentinel_messages_rejected_total', { reason: 'bad_signature' }), 1);
    assert.equal(s.value('sentinel_message_requests'), 2);
    assert.equal(s.value('sentinel_gossip_records_total', { result: 'bad_signature' }), 1);
    assert.equal(s.value('sentinel_vpn_drops_total', { reason: 'not_allowed' }), 4);
    assert.equal(s.value('sentinel_peers_known', { trust: 'stranger' }), 5);
    assert.equal(s.value('sentinel_node_events_total', { name: 'gossip.accepted' }), 9);

    // With --relay: the relay side appears.
    status = fakeStatus({ offering: { circuits: 3, bytes: 1000, bound: 2, boundStrangers: 1, refused: { busy: 4 } } });
    const t = await read(r);
    assert.equal(t.value('sentinel_relay_circuits', { role: 'relay' }), 3);
    assert.equal(t.value('sentinel_relay_bytes_total', { role: 'relay' }), 1000);
    assert.equal(t.value('sentinel_relay_bound_nodes', { kind: 'strangers' }), 1);
    assert.equal(t.value('sentinel_relay_refused_total', { reason: 'busy' }), 4);
  });

  it('VPN totals keep what a peer added after its counters are forgotten', async () => {
    const t = (n: number) => ({ packetsIn: n, packetsOut: n * 2, bytesIn: n * 100, bytesOut: n * 200, drops: {} });
    let vpnPeers: StatusInfo['vpn']['peers'] = { p1: t(10), p2: t(5) };
    const r = nodeRegistry({ status: () => fakeStatus({ vpnPeers }), peers: () => [], traffic: new PeerTraffic(() => 'contact', 4), pendingMessages: () => 0 });
    assert.equal((await read(r)).value('sentinel_vpn_packets_total', { direction: 'in' }), 15);
    vpnPeers = { p1: t(11) };
    const s = await read(r);
    assert.equal(s.value('sentinel_vpn_packets_total', { direction: 'in' }), 16);
    assert.equal(s.value('sentinel_vpn_bytes_total', { direction: 'out' }), 16 * 200);
  });

  it('the pending count stops at its cap', () => {
    const outbox = new Map([['a', 5], ['b', 7]]);
    const store = { outboxPeers: () => [...outbox.keys()], outbox: (p: string, limit?: number) => Array.from({ length: Math.min(outbox.get(p) ?? 0, limit ?? Infinity) }) };
    assert.equal(pendingCount(store), 12);
    assert.equal(pendingCount(store, 6), 6);
  });
});

describe('signaler registry', () => {
  const stats: RelayStats = { enabled: true, bytesPerSecond: 1, burstBytes: 2, circuits: 2, pending: 1, nodes: {}, bytes: 4096, throttled: 3, queuedBytes: 10, refused: { busy: 1 } };
  const base = (over: Partial<SignalerMetricsSource> = {}): SignalerMetricsSource => ({
    id: ID,
    size: 3,
    counters: { toJSON: () => ({ registrations: 4, lookups: 6, punches: 2, 'rate_limited.request': 5, 'rate_limited.punch_pair': 1, 'sessions_refused.busy': 2, 'cluster.lookups_remote': 1 }) },
    relayStats: () => stats,
    ...over,
  });

  it('registrations, lookups, punches, refusals by reason, relay load; cluster metrics only with a cluster', async () => {
    const s = await read(signalerRegistry(base()));
    assert.equal(s.value('sentinel_signaler_nodes'), 3);
    assert.equal(s.value('sentinel_signaler_registrations_total'), 4);
    assert.equal(s.value('sentinel_signaler_lookups_total'), 6);
    assert.equal(s.value('sentinel_signaler_punches_total'), 2);
    assert.equal(s.value('sentinel_signaler_refused_total', { reason: 'request' }), 5);
    assert.equal(s.value('sentinel_signaler_refused_total', { reason: 'punch_pair' }), 1);
    assert.equal(s.value('sentinel_signaler_refused_total', { reason: 'sessions_busy' }), 2);
    assert.equal(s.value('sentinel_signaler_relay_circuits', { state: 'pending' }), 1);
    assert.equal(s.value('sentinel_signaler_relay_bytes_total'), 4096);
    assert.equal(s.value('sentinel_signaler_relay_refused_total', { reason: 'busy' }), 1);
    assert.equal(s.family('sentinel_signaler_cluster_up'), undefined);
    const link = { instance: 'i1', instances: ['i1', 'i2', 'i3'], alive: (i: string) => i === 'i1' };
    const c = await read(signalerRegistry(base({ clustered: { link } })));
    assert.equal(c.value('sentinel_signaler_cluster_up'), 1);
    assert.equal(c.value('sentinel_signaler_cluster_instances'), 3);
    assert.equal(c.value('sentinel_signaler_cluster_events_total', { event: 'lookups_remote' }), 1);
  });
});
