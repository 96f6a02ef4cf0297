/**
 * Gossip in a 30-node mesh of real processes (root only): 30 `sentinel-node` processes,
 * each on its own public host (namespace) of one lab bridge, joined by a sparse graph (a
 * ring plus seeded random chords, mean degree ~3.3; most pairs are not directly
 * connected). See test/lab/gossip-mesh.ts for the mesh. One node at a time issues a new
 * record (a new address appears on its host) and we time until all 30 hold it, polling
 * every node's `gossip.accepted` counter over its control socket. Bytes come from the
 * hosts' interface counters (TCP/IP and TLS included), against a quiet window measured
 * in the same run.
 */
import { performance } from 'node:perf_hooks';
import { canRunLab } from '../test/lab/index.js';
import { ACCEPTED_COUNTER, startMesh, type Mesh } from '../test/lab/gossip-mesh.js';
import { GOSSIP_FANOUT, GOSSIP_INTERVAL_MS } from '../src/gossip/index.js';
import { infoRow, type BenchResult, type BenchRow } from './report.js';
import { median, round, sleep } from './util.js';

/** Options of {@link runGossipMeshBench}. */
export interface GossipMeshOptions {
  size?: number;
  chords?: number;
  trials?: number;
  /** The quiet reference window (ms). */
  quietMs?: number;
}

const NAME = 'gossip-mesh';
const TITLE = 'Gossip: a new record across a 30-node mesh of real processes (namespaces)';
const POLL_MS = 200;
const SPREAD_TIMEOUT_MS = 120_000;

interface Trial {
  issuer: number;
  eccentricity: number;
  /** From the address change to every node holding the record. */
  fromChangeMs: number;
  /** From the issuer's own re-signing (seen by the poll) to every node holding it. */
  fromIssueMs: number;
  /** Time at which each node first held it, from the change (ms). */
  at: number[];
  bytesPerNodeRound: number;
  /** Bytes each node sent during the trial, per node. */
  bytesPerNode: number;
  ms: number;
}

/** Polls until every node's counter passed `base`; returns when each did, from `t0`. */
async function spread(mesh: Mesh, base: readonly number[], t0: number): Promise<number[]> {
  const at = base.map(() => NaN);
  while (at.some((t) => Number.isNaN(t))) {
    if (performance.now() - t0 > SPREAD_TIMEOUT_MS) throw new Error(`the new record did not reach ${at.filter(Number.isNaN).length} node(s) within ${SPREAD_TIMEOUT_MS} ms`);
    const c = await mesh.counters(ACCEPTED_COUNTER);
    const now = performance.now() - t0;
    c.forEach((v, i) => {
      if (Number.isNaN(at[i] as number) && v > (base[i] as number)) at[i] = now;
    });
    await sleep(POLL_MS);
  }
  return at;
}

/** Waits until no node accepts anything for more than a round; returns the counters. */
async function settled(mesh: Mesh): Promise<number[]> {
  for (let i = 0; i < 30; i++) {
    const a = await mesh.counters(ACCEPTED_COUNTER);
    await sleep(GOSSIP_INTERVAL_MS + 1_000);
    const b = await mesh.counters(ACCEPTED_COUNTER);
    if (a.every((v, j) => v === b[j])) return b;
  }
  throw new Error('the gossip books never settled');
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

async function trial(mesh: Mesh, issuer: number): Promise<Trial> {
  const base = await settled(mesh);
  const tx0 = await mesh.txBytes();
  const t0 = performance.now();
  await mesh.bump(issuer);
  const at = await spread(mesh, base, t0);
  const ms = performance.now() - t0;
  const tx1 = await mesh.txBytes();
  const n = at.length;
  return {
    issuer,
    eccentricity: Math.max(...mesh.hops(issuer)),
    fromChangeMs: Math.max(...at),
    fromIssueMs: Math.max(...at) - (at[issuer] as number),
    at,
    bytesPerNodeRound: (sum(tx1) - sum(tx0)) / n / (ms / GOSSIP_INTERVAL_MS),
    bytesPerNode: (sum(tx1) - sum(tx0)) / n,
    ms,
  };
}

function skipped(reason: string, began: number): BenchResult {
  return {
    name: NAME,
    title: TITLE,
    method: 'Needs the namespace lab (Linux network namespaces, as root); see docs/NAT-LAB.md.',
    rows: [infoRow('skipped', `lab unavailable: ${reason}`)],
    notes: ['Nothing was measured. Run `node dist/bench/run.js gossip-mesh` as root with `ip` and `nft` installed.'],
    durationMs: performance.now() - began,
  };
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Runs the mesh benchmark (or reports why it cannot) and returns its table. */
export async function runGossipMeshBench(opts: GossipMeshOptions = {}): Promise<BenchResult> {
  const began = performance.now();
  const check = await canRunLab();
  if (!check.ok) return skipped(check.reason, began);
  const size = opts.size ?? 30;
  const chords = opts.chords ?? 20;
  const trials = opts.trials ?? 3;
  const quietMs = opts.quietMs ?? 6 * GOSSIP_INTERVAL_MS;
  let mesh: Mesh | undefined;
  try {
    const startT = performance.now();
    mesh = await startMesh({ size, shape: 'ring', chords, seed: 30, port: 7400 });
    const upMs = performance.now() - startT;
    const m = mesh;
    const coldT = performance.now();
    for (;;) {
      if ((await m.statuses()).every((st) => st.known >= size - 1)) break;
      if (performance.now() - coldT > SPREAD_TIMEOUT_MS) throw new Error('the mesh never learned every node');
      await sleep(POLL_MS);
    }
    const coldMs = performance.now() - coldT;
    await settled(m);
    const q0 = await m.txBytes();
    await sleep(quietMs);
    const quietPerNodeRound = (sum(await m.txBytes()) - sum(q0)) / size / (quietMs / GOSSIP_INTERVAL_MS);
    const results: Trial[] = [];
    for (let t = 0; t < trials; t++) results.push(await trial(m, Math.floor((t * size) / trials)));
    const degrees = (await m.statuses()).map((st) => st.peers);
    const fromIssue = results.map((r) => r.fromIssueMs);
    const fromChange = results.map((r) => r.fromChangeMs);
    const perHop = results.map((r) => r.fromIssueMs / Math.max(1, r.eccentricity));
    const bytes = median(results.map((r) => r.bytesPerNodeRound));
    const rows: BenchRow[] = [
      infoRow(`time for a new record to reach all ${size} nodes, from the issuer's re-signing (median of ${trials})`, `${s(median(fromIssue))} (trials: ${fromIssue.map(s).join(', ')})`, `${round(median(fromIssue) / GOSSIP_INTERVAL_MS, 1)} gossip rounds of ${GOSSIP_INTERVAL_MS / 1000} s`),
      infoRow('the same, from the address change (the issuer notices it at its next round)', `${s(median(fromChange))} (trials: ${fromChange.map(s).join(', ')})`),
      infoRow('hops from the issuer to the farthest node (trials)', results.map((r) => r.eccentricity).join(', '), `${s(median(perHop))} per hop`),
      infoRow('bytes sent per node per gossip round while the record spreads (all traffic of the host)', `${round(bytes, 0)} B`, `${round(bytes / quietPerNodeRound, 2)}x quiet`),
      infoRow('extra bytes sent per node for the one new record (trial minus the quiet rate over its length)', `${round(median(results.map((r) => r.bytesPerNode - (quietPerNodeRound * r.ms) / GOSSIP_INTERVAL_MS)), 0)} B`),
      infoRow('bytes sent per node per gossip round, quiet mesh (reference: keepalives and empty pushes)', `${round(quietPerNodeRound, 0)} B`, '1.00x'),
      infoRow(`cold start: from the last dial until every node knows the other ${size - 1}`, s(coldMs), `${round(coldMs / GOSSIP_INTERVAL_MS, 1)} rounds`),
    ];
    return {
      name: NAME,
      title: TITLE,
      method:
        `${size} \`sentinel-node\` processes (\`--signaler none --no-mdns --min-peers 0\`), each on its own public host (network namespace) of one lab bridge, joined by ${m.edges.length} dials: ` +
        `a ring plus ${chords} seeded random chords (sessions per node: min ${Math.min(...degrees)}, median ${median(degrees)}, max ${Math.max(...degrees)}; ${m.edges.length} of ${(size * (size - 1)) / 2} pairs connected). ` +
        `Once every node knows every other and no book changed for a round, one node gets a new address on its host, so at its next gossip round it re-signs its record (a higher seq); ` +
        `every node's \`gossip.accepted\` counter is polled over its control socket every ${POLL_MS} ms until all ${size} accepted it. ${trials} trials, issuers spread around the ring. ` +
        `Bytes: the hosts' interface tx counters over each trial (TCP/IP, TLS, keepalives included), against a ${s(quietMs)} quiet window in the same run.`,
      rows,
      notes: [
        `Rounds: every node pushes to ${GOSSIP_FANOUT} random connected partners every ${GOSSIP_INTERVAL_MS / 1000} s (GOSSIP_INTERVAL_MS; \`sentinel-node\` has no option for it) on its own timer; a record moves one hop per push or pull reply, so the time to all is about (hops) x (a fraction of a round), bounded by hops x ${GOSSIP_INTERVAL_MS / 1000} s. With about ${median(degrees)} partners and a fan-out of ${GOSSIP_FANOUT}, nearly every partner gets a push every round.`,
        `Per node, from the change (ms): ${results.map((r) => `issuer ${r.issuer}: ${r.at.map((x) => round(x, 0)).join(' ')}`).join('; ')}. Poll resolution ${POLL_MS} ms.`,
        `Starting the ${size} nodes and dialing the edges took ${s(upMs)} (not part of any figure). All processes share this machine's 2 cores; the lab has no latency emulation (veth pairs), so these figures are protocol and process cost plus the round timers.`,
      ],
      durationMs: performance.now() - began,
    };
  } finally {
    await mesh?.close();
  }
}
