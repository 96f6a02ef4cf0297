/**
 * Starting the endpoint for a node or a signaler: bind, say where, and warn when the
 * address is reachable from beyond this machine. Also the outbox count for the node.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { NodeId } from '../api.js';
import { exposureWarning, type MetricsListen } from './address.js';
import { PENDING_COUNT_CAP } from './limits.js';
import { startMetricsServer, type MetricsServer } from './server.js';

export { nodeRegistry, type NodeMetricsSource } from './node-metrics.js';
export { signalerRegistry, type SignalerMetricsSource } from './signaler-metrics.js';
export { parseMetricsListen, type MetricsListen } from './address.js';
export type { MetricsServer } from './server.js';

/** Binds `registry` at `listen`; logs the URL (info) and the exposure warning (warn). */
export async function serveMetrics(listen: MetricsListen, registry: Registry, log: Logger): Promise<MetricsServer> {
  const server = await startMetricsServer({ ...listen, registry, log: (level, msg) => log[level](msg) });
  log.info(`metrics at ${server.url}`);
  const warning = exposureWarning(server.host, server.port);
  if (warning) log.warn(warning);
  return server;
}

/** The outbox as far as it goes up to `cap` entries (a scrape must not read an unbounded outbox). */
export function pendingCount(store: { outboxPeers(): NodeId[]; outbox(peer: NodeId, limit?: number): unknown[] }, cap = PENDING_COUNT_CAP): number {
  let n = 0;
  for (const peer of store.outboxPeers()) {
    if (n >= cap) break;
    n += store.outbox(peer, cap - n).length;
  }
  return Math.min(n, cap);
}
