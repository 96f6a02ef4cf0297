/**
 * The node's metrics (`sentinel-node --metrics`): a per-node prom-client Registry whose
 * values are read at scrape time from `status`, `peers`, the named counters and the
 * per-peer traffic (peer-traffic.ts). The list of names is in README "Metrics".
 */
import { Registry } from 'prom-client';
import type { PeerInfo, SignalerState, StatusInfo } from '../api.js';
import { MonotonicSum, ScrapeScope, allCounters, byPrefix, counterFrom, fromRecord, gaugeFrom, one, type Sample } from './collect.js';
import type { TrafficRow } from './peer-traffic.js';

/** What the node's metrics are read from (the node, or a fake in unit tests). */
export interface NodeMetricsSource {
  status(): StatusInfo;
  peers(): PeerInfo[];
  traffic: { rows(): TrafficRow[]; byPath(): Array<{ path: 'direct' | 'relay'; bytesIn: number; bytesOut: number }> };
  /** Messages of ours not yet answered by their recipient (capped: PENDING_COUNT_CAP). */
  pendingMessages(): number;
}

const SIGNALER_STATES: readonly SignalerState[] = ['disabled', 'standby', 'connecting', 'connected', 'unreachable', 'untrusted'];

/** A fresh registry with every node metric. */
export function nodeRegistry(src: NodeMetricsSource): Registry {
  const r = new Registry();
  const scope = new ScrapeScope();
  const status = scope.once(() => src.status());
  const peers = scope.once(() => src.peers());
  const counters = (): Record<string, number> => status().counters;
  const c = (prefix: string, labels: readonly string[]): Sample[] => byPrefix(counters(), prefix, labels);
  const n = (name: string): number => counters()[name] ?? 0;

  gaugeFrom(r, { name: 'sentinel_node_info', begin: scope.begin, help: 'Always 1; the node id as a label.', labelNames: ['id'], read: () => [[{ id: status().id }, 1]] });
  gaugeFrom(r, { name: 'sentinel_uptime_seconds', help: 'Seconds since the node started.', read: () => one(status().uptimeMs / 1000) });
  gaugeFrom(r, {
    name: 'sentinel_signaler_state',
    help: 'The state of the signaler in use: 1 for the current state, 0 for the others.',
    labelNames: ['state'],
    read: () => SIGNALER_STATES.map((s) => [{ state: s }, status().signaler.state === s ? 1 : 0] as const),
  });
  sessions(r, peers, status);
  traffic(r, src, scope);
  counterFrom(r, { name: 'sentinel_handshake_failures_total', help: 'TLS handshakes that failed, by error code.', labelNames: ['code'], read: () => c('handshakes_failed.', ['code']) });
  counterFrom(r, { name: 'sentinel_sessions_failed_total', help: 'Sessions ended by a socket error, by error code.', labelNames: ['code'], read: () => c('sessions_failed.', ['code']) });
  counterFrom(r, {
    name: 'sentinel_sessions_refused_total',
    help: 'Sessions and inbound connections refused by a limit, by reason.',
    labelNames: ['reason'],
    read: () => [...c('sessions_refused.', ['reason']), ...c('inbound_refused.', ['reason'])],
  });
  counterFrom(r, {
    name: 'sentinel_punches_total',
    help: 'Hole punches carried out, by method (simultaneous_open; birthday: with the birthday technique alongside), NAT kinds (ours, the peer\'s) and outcome.',
    labelNames: ['method', 'nat', 'peer_nat', 'outcome'],
    read: () => c('punch_outcomes.', ['method', 'nat', 'peer_nat', 'outcome']),
  });
  counterFrom(r, { name: 'sentinel_punches_refused_total', help: 'Punches not carried out, by reason (limits, already connected, ...).', labelNames: ['reason'], read: () => c('punch_refused.', ['reason']) });
  relay(r, src, peers, status);
  messages(r, src, status, c, n);
  vpn(r, status, scope);
  counterFrom(r, { name: 'sentinel_gossip_records_total', help: 'Peer records offered by gossip, by result (accepted, or why rejected).', labelNames: ['result'], read: () => c('gossip.', ['result']) });
  gaugeFrom(r, { name: 'sentinel_store_full', help: '1 while new messages are refused for lack of disk space.', read: () => one(status().store?.full ? 1 : 0) });
  allCounters(r, 'sentinel_node_events_total', 'node', counters);
  return r;
}

type Status = () => StatusInfo;

function sessions(r: Registry, peers: () => PeerInfo[], status: Status): void {
  gaugeFrom(r, {
    name: 'sentinel_sessions',
    help: 'Live sessions by path (direct, relay) and how they came up (inbound, outbound, tcp-simultaneous-open, relay).',
    labelNames: ['path', 'method'],
    read: () => {
      const by = new Map<string, number>();
      for (const p of peers()) if (p.connected && p.path && p.method) by.set(`${p.path} ${p.method}`, (by.get(`${p.path} ${p.method}`) ?? 0) + 1);
      return [...by.entries()].map(([k, v]) => {
        const [path, method] = k.split(' ') as [string, string];
        return [{ path, method }, v] as const;
      });
    },
  });
  gaugeFrom(r, {
    name: 'sentinel_session_slots',
    help: 'Session slots in use by contacts and strangers, and TLS handshakes in progress.',
    labelNames: ['kind'],
    read: () => {
      const s = status().trust.sessions;
      return [
        [{ kind: 'contacts' }, s.contacts],
        [{ kind: 'strangers' }, s.strangers],
        [{ kind: 'pending_handshakes' }, s.pendingHandshakes],
      ];
    },
  });
  gaugeFrom(r, {
    name: 'sentinel_peers_known',
    help: 'Peers known, by trust.',
    labelNames: ['trust'],
    read: () => {
      const t = status().trust;
      return [
        [{ trust: 'contact' }, t.contacts],
        [{ trust: 'stranger' }, t.remembered],
        [{ trust: 'blocked' }, t.blocked],
      ];
    },
  });
}

function traffic(r: Registry, src: NodeMetricsSource, scope: ScrapeScope): void {
  const rows = scope.once(() => src.traffic.rows());
  const paths = scope.once(() => src.traffic.byPath());
  const peerHelp = 'per peer: a contact\'s id while it holds one of the label slots, "other" for further contacts, "stranger" for strangers and blocked peers';
  counterFrom(r, { name: 'sentinel_peer_bytes_received_total', help: `Session bytes received (frames, after TLS) ${peerHelp}.`, labelNames: ['peer'], read: () => rows().map((x) => [{ peer: x.peer }, x.bytesIn] as const) });
  counterFrom(r, { name: 'sentinel_peer_bytes_sent_total', help: `Session bytes sent (frames, before TLS) ${peerHelp}.`, labelNames: ['peer'], read: () => rows().map((x) => [{ peer: x.peer }, x.bytesOut] as const) });
  counterFrom(r, {
    name: 'sentinel_session_bytes_total',
    help: 'Session bytes (frames) by path (direct, relay) and direction (in, out), all peers.',
    labelNames: ['path', 'direction'],
    read: () => paths().flatMap((p) => [[{ path: p.path, direction: 'in' }, p.bytesIn] as const, [{ path: p.path, direction: 'out' }, p.bytesOut] as const]),
  });
}

function relay(r: Registry, src: NodeMetricsSource, peers: () => PeerInfo[], status: Status): void {
  const offering = (): NonNullable<StatusInfo['relay']>['offering'] => status().relay?.offering ?? null;
  gaugeFrom(r, {
    name: 'sentinel_relay_circuits',
    help: 'Relay circuits: ours through a relay (role client: relayed sessions), and those we relay for others (role relay, with --relay).',
    labelNames: ['role'],
    read: () => {
      const client = peers().filter((p) => p.connected && p.path === 'relay').length;
      const o = offering();
      return o ? [[{ role: 'client' }, client], [{ role: 'relay' }, o.circuits]] : [[{ role: 'client' }, client]];
    },
  });
  counterFrom(r, {
    name: 'sentinel_relay_bytes_total',
    help: 'Relayed bytes: of our relayed sessions (role client, frames in and out), and forwarded for others (role relay, RELAY_DATA).',
    labelNames: ['role'],
    read: () => {
      const p = src.traffic.byPath().find((x) => x.path === 'relay');
      const o = offering();
      const client = [{ role: 'client' }, (p?.bytesIn ?? 0) + (p?.bytesOut ?? 0)] as const;
      return o ? [client, [{ role: 'relay' }, o.bytes]] : [client];
    },
  });
  gaugeFrom(r, {
    name: 'sentinel_relay_bound_nodes',
    help: 'With --relay: nodes bound to this relay (kind all), of them strangers.',
    labelNames: ['kind'],
    read: () => {
      const o = offering();
      return o ? [[{ kind: 'all' }, o.bound], [{ kind: 'strangers' }, o.boundStrangers]] : [];
    },
  });
  counterFrom(r, { name: 'sentinel_relay_refused_total', help: 'With --relay: circuits and binds refused, by reason.', labelNames: ['reason'], read: () => fromRecord(offering()?.refused, 'reason') });
}

function messages(r: Registry, src: NodeMetricsSource, status: Status, c: (p: string, l: readonly string[]) => Sample[], n: (name: string) => number): void {
  counterFrom(r, { name: 'sentinel_messages_sent_total', help: 'Messages we sent (stored durably and queued for delivery).', read: () => one(n('chat_sent')) });
  counterFrom(r, { name: 'sentinel_messages_delivered_total', help: 'Messages of ours the recipient acknowledged (stored on its disk).', read: () => one(n('chat_delivered')) });
  counterFrom(r, { name: 'sentinel_messages_refused_total', help: 'Messages of ours the recipient refused, by its reason (final or temporary).', labelNames: ['reason'], read: () => c('chat_refused_by_peer.', ['reason']) });
  gaugeFrom(r, { name: 'sentinel_messages_pending', help: 'Messages of ours not yet acknowledged (the outbox), counted up to 100000.', read: () => one(src.pendingMessages()) });
  counterFrom(r, {
    name: 'sentinel_messages_received_total',
    help: 'Messages received and stored, as ordinary messages (kind message) or message requests from strangers (kind request).',
    labelNames: ['kind'],
    read: () => [
      [{ kind: 'message' }, n('chat_stored')],
      [{ kind: 'request' }, n('chat_requests_stored')],
    ],
  });
  counterFrom(r, {
    name: 'sentinel_messages_rejected_total',
    help: 'Received messages not taken, by reason (invalid, or refused by policy or quota).',
    labelNames: ['reason'],
    read: () => [...c('chat_rejected.', ['reason']), ...c('chat_refused.', ['reason'])],
  });
  gaugeFrom(r, { name: 'sentinel_message_requests', help: 'Message requests from strangers waiting for accept or block.', read: () => one(status().trust.held.requests) });
}

function vpn(r: Registry, status: Status, scope: ScrapeScope): void {
  const sums = { packetsIn: new MonotonicSum(), packetsOut: new MonotonicSum(), bytesIn: new MonotonicSum(), bytesOut: new MonotonicSum() };
  const totals = scope.once(() => {
    const peers = Object.entries(status().vpn.peers);
    const of = (k: keyof typeof sums): number => sums[k].update(peers.map(([id, t]) => [id, t[k]] as const));
    return { packetsIn: of('packetsIn'), packetsOut: of('packetsOut'), bytesIn: of('bytesIn'), bytesOut: of('bytesOut') };
  });
  gaugeFrom(r, { name: 'sentinel_vpn_up', help: '1 while the TUN device is up.', read: () => one(status().vpn.state === 'up' ? 1 : 0) });
  counterFrom(r, {
    name: 'sentinel_vpn_packets_total',
    help: 'VPN packets: from the TUN to peers (out) and from peers to the TUN (in).',
    labelNames: ['direction'],
    read: () => [
      [{ direction: 'in' }, totals().packetsIn],
      [{ direction: 'out' }, totals().packetsOut],
    ],
  });
  counterFrom(r, {
    name: 'sentinel_vpn_bytes_total',
    help: 'VPN bytes (IP packets): out to peers, in from peers.',
    labelNames: ['direction'],
    read: () => [
      [{ direction: 'in' }, totals().bytesIn],
      [{ direction: 'out' }, totals().bytesOut],
    ],
  });
  counterFrom(r, { name: 'sentinel_vpn_drops_total', help: 'VPN packets dropped, by reason.', labelNames: ['reason'], read: () => fromRecord(status().vpn.drops, 'reason') });
}
