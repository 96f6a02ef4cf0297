/**
 * `sentinel ping` RTTs on loopback: the same node pings one peer over a direct session and
 * another through the signaler's relay, at the same time, through the NodeApi the control
 * socket serves. What the relay adds is the difference of the two.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PingResult } from '../src/api.js';
import { generateIdentity } from '../src/identity/index.js';
import { createLogger } from '../src/log.js';
import { startNode, type SentinelNode } from '../src/node.js';
import { PING_MIN_INTERVAL_MS } from '../src/ping/index.js';
import { SignalerServer } from '../src/signaler/index.js';
import { infoRow, type BenchResult } from './report.js';
import { LOOPBACK, percentiles, round, sleep, waitUntil } from './util.js';

/** Pings per path: one a second (the most a peer accepts), so the run takes this many seconds. */
const PINGS = 30;

export async function runPingBench(): Promise<BenchResult> {
  const began = performance.now();
  const silent = createLogger('silent', () => {});
  const root = await mkdtemp(join(tmpdir(), 'sentinel-bench-ping-'));
  const sig = new SignalerServer({ identity: generateIdentity(), log: silent, relay: { enabled: true } });
  const nodes: SentinelNode[] = [];
  try {
    await sig.listen(0, LOOPBACK);
    // No addon: no hole punching, so a dial by id between registered nodes ends relayed.
    const node = async (name: string): Promise<SentinelNode> => {
      const n = await startNode({ dataDir: join(root, name), port: 0, host: LOOPBACK, signaler: `${LOOPBACK}:${sig.port}`, native: 'off', minPeers: 0, reconnect: false, mdns: false, log: silent, name });
      nodes.push(n);
      return n;
    };
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const registered = waitUntil(() => nodes.every((n) => n.status().signaler.state === 'connected'), 10_000, 'registration');
    const poll = setInterval(registered.kick, 50);
    await registered.done.finally(() => clearInterval(poll));
    const direct = await a.dial(`${LOOPBACK}:${b.port}`);
    const relayed = await a.dial(c.identity.id);
    if (direct.path !== 'direct' || relayed.path !== 'relay') throw new Error(`paths: ${direct.path}, ${relayed.path}`);
    // Half an interval apart, so the two runs' PINGs never leave in the same tick of the shared loop.
    const pr0 = sleep(PING_MIN_INTERVAL_MS / 2).then(() => a.ping(c.identity.id, { count: PINGS }));
    const [pd, pr] = await Promise.all([a.ping(b.identity.id, { count: PINGS }), pr0]);
    const row = (label: string, r: PingResult) => {
      const rtts = r.pings.flatMap((p) => ('rttMs' in p ? [p.rttMs] : []));
      const p = percentiles(rtts);
      return { p, row: infoRow(label, `p50 ${round(p.p50, 3)} / p95 ${round(p.p95, 3)} / max ${round(p.max, 3)} ms`, `${r.summary.received}/${r.summary.sent} answered`) };
    };
    const d = row('direct (dialed by address)', pd);
    const r = row("through the signaler's relay", pr);
    return {
      name: 'ping',
      title: '`sentinel ping` RTT: direct against relayed',
      method:
        `Three in-process nodes on loopback registered with one in-process signaler (relay on), without the addon (no hole punching). ` +
        `A dials B by address (direct) and C by id (through the signaler's relay), then runs two pings of ${PINGS} at once (half an interval apart), ` +
        `one a second (${PING_MIN_INTERVAL_MS} ms, the fastest a peer accepts), through NodeApi.ping as the control socket does. ` +
        'The RTT is from the PING leaving A to its PONG arriving at A (performance.now), so it includes both ends\' TLS and event loops, and for the relayed path the signaler\'s two legs.',
      rows: [d.row, r.row, infoRow('relay adds (p50)', `${round(r.p.p50 - d.p.p50, 3)} ms`, `${round(r.p.p50 / d.p.p50, 2)}x direct`)],
      notes: ['All three nodes and the signaler share one Node.js event loop, so each RTT also waits for whatever else that loop does at the time.'],
      durationMs: performance.now() - began,
    };
  } finally {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await sig.close();
    await rm(root, { recursive: true, force: true });
  }
}
