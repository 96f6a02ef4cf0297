/**
 * The signaler's metrics (`sentinel-signaler --metrics`): a per-instance prom-client
 * Registry read at scrape time from its named counters, its registry of nodes, the relay
 * hub's stats and, with --redis, the cluster link. The list of names is in README "Metrics".
 */
import { Registry } from 'prom-client';
import type { RelayStats } from '../relay/hub-state.js';
import { ScrapeScope, allCounters, byPrefix, counterFrom, fromRecord, gaugeFrom, one, type Sample } from './collect.js';

/** What the signaler's metrics are read from (a SignalerServer, or a fake in unit tests). */
export interface SignalerMetricsSource {
  readonly id: string;
  readonly counters: { toJSON(): Record<string, number> };
  /** Nodes registered at this instance now. */
  readonly size: number;
  relayStats(): RelayStats;
  readonly clustered?: { link: { readonly instance: string; readonly instances: string[]; alive(instance: string): boolean } } | undefined;
}

/** A fresh registry with every signaler metric. */
export function signalerRegistry(src: SignalerMetricsSource): Registry {
  const r = new Registry();
  const scope = new ScrapeScope();
  const counters = scope.once(() => src.counters.toJSON());
  const relay = scope.once(() => src.relayStats());
  const n = (name: string): number => counters()[name] ?? 0;
  const c = (prefix: string, labels: readonly string[]): Sample[] => byPrefix(counters(), prefix, labels);

  gaugeFrom(r, { name: 'sentinel_signaler_info', begin: scope.begin, help: 'Always 1; the signaler id as a label.', labelNames: ['id'], read: () => [[{ id: src.id }, 1]] });
  gaugeFrom(r, { name: 'sentinel_signaler_nodes', help: 'Nodes registered at this instance now.', read: () => one(src.size) });
  counterFrom(r, { name: 'sentinel_signaler_registrations_total', help: 'REGISTERs accepted (first registrations and re-registrations).', read: () => one(n('registrations')) });
  counterFrom(r, { name: 'sentinel_signaler_lookups_total', help: 'LOOKUPs answered (found or not), within the request rate.', read: () => one(n('lookups')) });
  counterFrom(r, { name: 'sentinel_signaler_punches_total', help: 'Hole punches coordinated (a PUNCH_START sent to both nodes).', read: () => one(n('punches') + n('cluster.punches_coordinated')) });
  counterFrom(r, {
    name: 'sentinel_signaler_refused_total',
    help: 'Requests refused by a limit, by reason (register, request and punch rates, session slots).',
    labelNames: ['reason'],
    read: () => [...c('rate_limited.', ['reason']), ...c('sessions_refused.', ['reason']).map(([l, v]) => [{ reason: `sessions_${l.reason}` }, v] as const), ...c('inbound_refused.', ['reason']).map(([l, v]) => [{ reason: `inbound_${l.reason}` }, v] as const)],
  });
  counterFrom(r, { name: 'sentinel_signaler_handshake_failures_total', help: 'TLS handshakes that failed, by error code.', labelNames: ['code'], read: () => c('handshakes_failed.', ['code']) });
  gaugeFrom(r, {
    name: 'sentinel_signaler_relay_circuits',
    help: 'Relay circuits: accepted by their target (live) and waiting for it (pending).',
    labelNames: ['state'],
    read: () => [
      [{ state: 'live' }, relay().circuits],
      [{ state: 'pending' }, relay().pending],
    ],
  });
  counterFrom(r, { name: 'sentinel_signaler_relay_bytes_total', help: 'RELAY_DATA bytes forwarded.', read: () => one(relay().bytes) });
  counterFrom(r, { name: 'sentinel_signaler_relay_throttled_total', help: "RELAY_DATA frames delayed by their sender's byte rate.", read: () => one(relay().throttled) });
  gaugeFrom(r, { name: 'sentinel_signaler_relay_queued_bytes', help: 'RELAY_DATA bytes waiting for their sender\'s rate now.', read: () => one(relay().queuedBytes) });
  counterFrom(r, { name: 'sentinel_signaler_relay_refused_total', help: 'Relay circuits and frames refused, by reason.', labelNames: ['reason'], read: () => fromRecord(relay().refused, 'reason') });
  gaugeFrom(r, { name: 'sentinel_signaler_relay_enabled', help: '1 unless started with --no-relay.', read: () => one(relay().enabled ? 1 : 0) });
  cluster(r, src, c);
  allCounters(r, 'sentinel_signaler_events_total', 'signaler', counters);
  return r;
}

function cluster(r: Registry, src: SignalerMetricsSource, c: (p: string, l: readonly string[]) => Sample[]): void {
  const link = src.clustered?.link;
  if (!link) return;
  gaugeFrom(r, { name: 'sentinel_signaler_cluster_up', help: '1 while this instance reaches the cluster store (Redis) and counts itself live.', read: () => one(link.alive(link.instance) ? 1 : 0) });
  gaugeFrom(r, { name: 'sentinel_signaler_cluster_instances', help: 'Live instances of the cluster (this one included), as of the last heartbeat.', read: () => one(link.instances.length) });
  counterFrom(r, { name: 'sentinel_signaler_cluster_events_total', help: 'Cluster events (remote lookups and punches, presence writes, bus messages, failures), by name.', labelNames: ['event'], read: () => c('cluster.', ['event']) });
}
