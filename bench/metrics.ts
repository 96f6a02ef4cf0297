/**
 * What a Prometheus scrape costs a node: `GET /metrics` over loopback HTTP against the real
 * endpoint and registry (src/metrics/), fed by a synthetic node with many peers, sessions,
 * counters and VPN peers, so the figure shows the cost at a realistic upper size. Figures
 * only.
 */
import { performance } from 'node:perf_hooks';
import type { PeerInfo, StatusInfo } from '../src/api.js';
import { nodeRegistry } from '../src/metrics/node-metrics.js';
import { PeerTraffic, type TrafficSession } from '../src/metrics/peer-traffic.js';
import { PEER_LABEL_SLOTS } from '../src/metrics/limits.js';
import { startMetricsServer } from '../src/metrics/server.js';
import { httpGet } from '../test/helpers/scrape.js';
import { infoRow, type BenchResult } from './report.js';
import { median, round } from './util.js';

const KNOWN_PEERS = 1_000;
const SESSIONS = 200;
const COUNTERS = 300;
const SCRAPES = 200;

const id = (i: number): string => `p${String(i).padStart(55, '0')}`;

/** A status of a busy node: the fields the metrics read, at size. */
function bigStatus(): StatusInfo {
  const counters: Record<string, number> = {};
  for (let i = 0; i < COUNTERS; i++) counters[`bench_counter_${i}`] = i;
  counters['handshakes_failed.E_TLS'] = 7;
  counters['punch_outcomes.simultaneous_open.easy.hard.connected'] = 3;
  const vpnPeers: StatusInfo['vpn']['peers'] = {};
  for (let i = 0; i < SESSIONS; i++) vpnPeers[id(i)] = { packetsIn: i, packetsOut: i, bytesIn: i * 1000, bytesOut: i * 1000, drops: {} };
  return {
    id: id(9999),
    uptimeMs: 1000,
    signaler: { state: 'connected' },
    counters,
    trust: { contacts: 100, remembered: 900, blocked: 0, sessions: { contacts: 100, strangers: 100, pendingHandshakes: 0 }, held: { count: 0, bytes: 0, requests: 0 } },
    vpn: { state: 'up', drops: { no_route: 3 }, peers: vpnPeers },
    store: { full: false },
    relay: { offering: null },
  } as unknown as StatusInfo;
}

export async function runMetricsBench(): Promise<BenchResult> {
  const began = performance.now();
  const status = bigStatus();
  const peers: PeerInfo[] = Array.from({ length: KNOWN_PEERS }, (_, i) => ({ id: id(i), connected: i < SESSIONS, path: i < SESSIONS ? 'direct' : null, method: i < SESSIONS ? 'outbound' : null }) as PeerInfo);
  const traffic = new PeerTraffic((p) => (Number(p.slice(1)) % 2 === 0 ? 'contact' : 'stranger'), PEER_LABEL_SLOTS);
  const sessions: TrafficSession[] = Array.from({ length: SESSIONS }, (_, i) => ({ peerId: id(i), bytesIn: 0, bytesOut: 0, isClosed: false, method: 'outbound' }));
  for (const s of sessions) traffic.onSessionUp(s);
  const registry = nodeRegistry({ status: () => status, peers: () => peers, traffic, pendingMessages: () => 0 });
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry });
  const times: number[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < SCRAPES; i++) {
      for (const s of sessions) (s as { bytesIn: number }).bytesIn += 1500;
      const t0 = performance.now();
      const r = await httpGet(server.url);
      times.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`scrape answered ${r.status}`);
      bytes = Buffer.byteLength(r.body);
    }
  } finally {
    await server.close();
  }
  const warm = times.slice(10);
  const sorted = [...warm].sort((a, b) => a - b);
  return {
    name: 'metrics',
    title: 'Prometheus scrape of a busy node',
    method:
      `${SCRAPES} sequential \`GET /metrics\` over loopback HTTP (a new connection each) against the real endpoint and node registry, ` +
      `fed by a synthetic node: ${KNOWN_PEERS} known peers, ${SESSIONS} live sessions (half of them contacts, ${PEER_LABEL_SLOTS} label slots), ` +
      `${COUNTERS} named counters and ${SESSIONS} VPN peers. Time from request to full body at the client; the first 10 scrapes are warm-up.`,
    rows: [
      infoRow('scrape time, median', `${round(median(warm), 2)} ms`),
      infoRow('scrape time, 95th percentile', `${round(sorted[Math.floor(sorted.length * 0.95)] ?? 0, 2)} ms`),
      infoRow('exposition size', `${round(bytes / 1024, 1)} KiB`),
    ],
    notes: [
      'Values are read at scrape time (prom-client collect callbacks over `status`, `peers` and the counters); between scrapes the only cost is two byte counters per session, added once per received chunk and once per sent frame.',
      'Most of the size is `sentinel_node_events_total{name}`, one series per named counter (the same names `sentinel status` shows).',
    ],
    durationMs: performance.now() - began,
  };
}
