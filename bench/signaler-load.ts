/**
 * Signaler load (issue 11): registrations and lookups per second, memory per node and CPU
 * per request for today's embedded signaler and for 1, 2 and 3 instances on one Redis,
 * up to 20,000 registered nodes, all on this machine.
 *
 * Each configuration gets fresh `sentinel-signaler` processes (the real CLI, port 0 on
 * 127.0.0.1) and, for the cluster rows, a fresh `redis-server`. The nodes are lightweight
 * clients (signaler-load-client.ts: real mutual TLS 1.3, real frames) in a few forked
 * worker processes (signaler-load-pool.ts), registered round robin over the instances;
 * each then looks up nodes registered at *another* instance. CPU and RSS come from /proc,
 * Redis memory from `INFO memory`.
 *
 *   node dist/bench/run.js signaler-load                  print figures (20,000 nodes)
 *   SIGNALER_LOAD_QUICK=1 node dist/bench/run.js signaler-load   2,000 nodes, to check it works
 *   SIGNALER_LOAD_NODES=5000 …                            any other size
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { TestRedis, redisSkipReason } from '../test/helpers/redis.js';
import { infoRow, type BenchResult, type BenchRow } from './report.js';
import type { PhaseReport } from './signaler-load-worker.js';
import { WorkerPool } from './signaler-load-pool.js';
import { FD_LIMIT, procSample, redisUsedMemory, signalerFlags, startSignaler, type ProcSample, type SignalerInstance } from './signaler-load-procs.js';
import { percentiles } from './util.js';

export interface SignalerLoadOptions {
  /** Registered nodes per configuration (default 20,000; SIGNALER_LOAD_NODES, or 2,000 with SIGNALER_LOAD_QUICK=1). */
  nodes?: number;
  /** Client processes (default 4). */
  workers?: number;
  /** Lookups per registered node, within the per-node burst of 10 (default 2). */
  lookupsPerNode?: number;
}

/** One row group of the report. */
interface Config {
  label: string;
  instances: number;
  redis: boolean;
}

const CONFIGS: readonly Config[] = [
  { label: 'embedded (no Redis, reference)', instances: 1, redis: false },
  { label: 'Redis, 1 instance', instances: 1, redis: true },
  { label: 'Redis, 2 instances', instances: 2, redis: true },
  { label: 'Redis, 3 instances', instances: 3, redis: true },
];

const DEFAULT_NODES = 20_000;
const QUICK_NODES = 2_000;
/** Warm-up registrations per worker, made and closed before the baseline sample. */
const WARM_PER_WORKER = 16;
/** Registrations in flight per worker (TLS handshakes: the signaler admits 1,024 pending in total). */
const REGISTER_CONCURRENCY = 16;
const LOOKUP_CONCURRENCY = 64;
/** Today's default cap on registered nodes (SIGNAL_MAX_SESSIONS), when --max-nodes is missing. */
const DEFAULT_CAP = 10_000;
const PROGRESS_MS = 5_000;
/** Open files a signaler needs besides its nodes' sockets (listener, stdio, Redis, libuv). */
const FD_MARGIN = 150;
const KIB = 1024;

/** What one configuration measured. */
interface ConfigFigures {
  config: Config;
  /** Nodes registered in this configuration, and the number asked for. */
  nodes: number;
  wanted: number;
  reg: PhaseReport;
  regMs: number;
  look: PhaseReport;
  lookMs: number;
  /** Per instance: baseline, all registered, after the lookups. */
  before: ProcSample[];
  held: ProcSample[];
  looked: ProcSample[];
  /** Redis used_memory and redis-server CPU at the same moments (cluster rows). */
  redis?: { before: number; held: number; cpuBefore: number; cpuHeld: number; cpuLooked: number };
  /** 1-minute load average when the configuration started and when it ended (the machine is shared). */
  load: [number, number];
  /** The lowest open-file limit of the instances, when it capped the node count. */
  fdCapped?: number;
}

function nodeCount(opts: SignalerLoadOptions): number {
  if (opts.nodes !== undefined) return opts.nodes;
  if (process.env.SIGNALER_LOAD_NODES) return Number(process.env.SIGNALER_LOAD_NODES);
  return process.env.SIGNALER_LOAD_QUICK === '1' ? QUICK_NODES : DEFAULT_NODES;
}

/**
 * Splits `total` over workers of the given sizes in proportion to them: exactly `total`
 * (or everything, if they hold less), never more than a worker holds.
 */
export function split(total: number, sizes: readonly number[]): number[] {
  const all = sizes.reduce((a, b) => a + b, 0);
  const want = Math.min(total, all);
  const out = sizes.map((s) => Math.floor((want * s) / all));
  let left = want - out.reduce((a, b) => a + b, 0);
  for (let w = 0; left > 0; w = (w + 1) % sizes.length) {
    if ((out[w] as number) < (sizes[w] as number)) {
      out[w] = (out[w] as number) + 1;
      left--;
    }
  }
  return out;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Prints registrations so far every few seconds while `p` runs. */
async function withProgress<T>(label: string, pool: WorkerPool, total: number, p: Promise<T>): Promise<T> {
  const t0 = performance.now();
  const timer = setInterval(() => {
    const done = sum(pool.progress);
    console.log(`  [${label}] registered ${done}/${total} (${((done / (performance.now() - t0)) * 1000).toFixed(0)}/s)`);
  }, PROGRESS_MS);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

/** Runs one configuration against fresh signalers (and Redis); stops them whatever happens. */
async function runConfig(config: Config, pool: WorkerPool, wanted: number, opts: { maxNodes?: number; perInstanceCap: number; perNode: number }): Promise<ConfigFigures> {
  const phaseMs = Math.max(180_000, wanted * 30);
  const loadBefore = loadavg()[0] ?? NaN;
  let redis: TestRedis | undefined;
  const instances: SignalerInstance[] = [];
  try {
    if (config.redis) redis = await TestRedis.start();
    for (let i = 0; i < config.instances; i++) instances.push(await startSignaler({ ...(redis ? { redisUrl: redis.url } : {}), ...(opts.maxNodes !== undefined ? { maxNodes: opts.maxNodes } : {}) }));
    const addrs = instances.map(({ host, port, id }) => ({ host, port, id }));
    // One socket per node: without the right to raise it (CAP_SYS_RESOURCE), the open-file limit caps an instance.
    const fds = Math.min(...instances.map((s) => s.fdLimit));
    const perInstance = Math.min(opts.perInstanceCap, fds - FD_MARGIN);
    const nodes = Math.min(wanted, config.instances * perInstance);
    const sample = (): Promise<ProcSample[]> => Promise.all(instances.map((s) => procSample(s.pid)));
    const redisCpu = async (): Promise<number> => (redis?.pid !== undefined ? (await procSample(redis.pid)).cpuSec : NaN);
    const redisBefore = redis ? await redisUsedMemory(redis.url) : NaN;
    await pool.register(addrs, { warm: true, concurrency: REGISTER_CONCURRENCY }, phaseMs);
    const before = await sample();
    const cpuBefore = await redisCpu();
    console.log(`  [${config.label}] registering ${nodes} nodes over ${instances.length} instance(s) ...`);
    const t0 = performance.now();
    const reg = await withProgress(config.label, pool, nodes, pool.register(addrs, { warm: false, concurrency: REGISTER_CONCURRENCY, counts: split(nodes, pool.sizes) }, phaseMs));
    const regMs = performance.now() - t0;
    const held = await sample();
    const cpuHeld = await redisCpu();
    const redisHeld = redis ? await redisUsedMemory(redis.url) : NaN;
    console.log(`  [${config.label}] ${reg.ok} registered in ${(regMs / 1000).toFixed(1)} s; looking up ...`);
    const t1 = performance.now();
    const look = await pool.lookup(opts.perNode, LOOKUP_CONCURRENCY, config.instances, phaseMs);
    const lookMs = performance.now() - t1;
    const looked = await sample();
    const cpuLooked = await redisCpu();
    console.log(`  [${config.label}] ${look.ok} lookups answered in ${(lookMs / 1000).toFixed(1)} s`);
    return {
      config,
      nodes,
      wanted,
      load: [loadBefore, loadavg()[0] ?? NaN],
      reg,
      regMs,
      look,
      lookMs,
      before,
      held,
      looked,
      ...(redis ? { redis: { before: redisBefore, held: redisHeld, cpuBefore, cpuHeld, cpuLooked } } : {}),
      ...(nodes < wanted && fds - FD_MARGIN < opts.perInstanceCap ? { fdCapped: fds } : {}),
    };
  } finally {
    await pool.closeClients(60_000).catch(() => undefined);
    await Promise.all(instances.map((s) => s.stop()));
    await redis?.stop();
  }
}

const rate = (count: number, ms: number): number => (count / ms) * 1000;
const ratio = (x: number, ref: number | undefined): string => (ref === undefined || !Number.isFinite(x / ref) ? '' : `${(x / ref).toFixed(2)}x embedded`);
const kib = (bytes: number): string => `${(bytes / KIB).toFixed(1)} KiB`;
const ms = (p: PhaseReport): string => {
  const q = percentiles(p.ms);
  return `p50 ${q.p50.toFixed(1)} / p99 ${q.p99.toFixed(1)} ms`;
};

/** Signaler CPU µs (summed over instances) per registration and per lookup. */
function cpuPer(f: ConfigFigures): { reg: number; look: number } {
  const cpu = (xs: readonly ProcSample[]): number => sum(xs.map((s) => s.cpuSec));
  return { reg: ((cpu(f.held) - cpu(f.before)) * 1e6) / f.reg.ok, look: ((cpu(f.looked) - cpu(f.held)) * 1e6) / f.look.ok };
}

/** The rows of one configuration; `ref` is the embedded one (for the ratios). */
function configRows(f: ConfigFigures, ref: ConfigFigures | undefined): BenchRow[] {
  const k = f.config.instances;
  const L = f.config.label;
  const regRate = rate(f.reg.ok, f.regMs);
  const lookRate = rate(f.look.ok, f.lookMs);
  const { reg: cpuReg, look: cpuLook } = cpuPer(f);
  // Round robin: instance i holds the nodes whose global index is i mod k.
  const perInstance = f.held.map((s, i) => (s.rss - (f.before[i] as ProcSample).rss) / Math.ceil((f.reg.ok - i) / k));
  const refFig = ref && ref !== f ? ref : undefined;
  const refReg = refFig ? rate(refFig.reg.ok, refFig.regMs) : undefined;
  const refLook = refFig ? rate(refFig.look.ok, refFig.lookMs) : undefined;
  const rows = [
    infoRow(`${L}: registered nodes`, `${f.reg.ok} of ${f.wanted}${k > 1 ? `, about ${Math.round(f.reg.ok / k)} per instance` : ''}${f.reg.failed > 0 ? ` (${f.reg.failed} failed)` : ''}`),
    infoRow(`${L}: registrations per second`, `${regRate.toFixed(0)}/s (${(f.regMs / 1000).toFixed(1)} s; latency ${ms(f.reg)})`, ratio(regRate, refReg)),
    infoRow(
      `${L}: lookups per second${k > 1 ? ' (target at another instance)' : ''}`,
      `${lookRate.toFixed(0)}/s (${f.look.ok} answered${f.look.notFound > 0 ? `, ${f.look.notFound} NOT_FOUND` : ''}; latency ${ms(f.look)})`,
      ratio(lookRate, refLook),
    ),
    infoRow(`${L}: signaler CPU per registration (all instances)`, `${cpuReg.toFixed(0)} µs`, ratio(cpuReg, refFig ? cpuPer(refFig).reg : undefined)),
    infoRow(`${L}: signaler CPU per lookup (all instances)`, `${cpuLook.toFixed(0)} µs`, ratio(cpuLook, refFig ? cpuPer(refFig).look : undefined)),
    infoRow(`${L}: signaler RSS per registered node, per instance`, perInstance.map(kib).join(' / ')),
  ];
  const r = f.redis;
  if (r) {
    const redisReg = ((r.cpuHeld - r.cpuBefore) * 1e6) / f.reg.ok;
    const redisLook = ((r.cpuLooked - r.cpuHeld) * 1e6) / f.look.ok;
    rows.push(
      infoRow(`${L}: Redis used_memory per registered node`, `${((r.held - r.before) / f.reg.ok).toFixed(0)} B`),
      infoRow(`${L}: redis-server CPU per registration / per lookup`, `${redisReg.toFixed(0)} µs / ${redisLook.toFixed(0)} µs`),
    );
  }
  return rows;
}

function problems(f: ConfigFigures): string[] {
  const out: string[] = [];
  const L = f.config.label;
  if (f.reg.failed > 0) out.push(`${L}: ${f.reg.failed} registrations failed, e.g. ${f.reg.reasons.join('; ')}.`);
  if (f.look.notFound > 0) out.push(`${L}: ${f.look.notFound} lookups of registered nodes were answered NOT_FOUND.`);
  else if (f.config.instances > 1) out.push(`${L}: every lookup for a node at another instance was answered with its record (no NOT_FOUND).`);
  if (f.look.rateLimited > 0) out.push(`${L}: ${f.look.rateLimited} lookups were refused RATE_LIMITED (left out of the rate).`);
  if (f.look.failed > 0) out.push(`${L}: ${f.look.failed} lookups failed, e.g. ${f.look.reasons.join('; ')}.`);
  if (f.fdCapped !== undefined)
    out.push(`${L}: ${f.nodes} nodes, not ${f.wanted}: a signaler holds one socket per node and its open-file limit is ${f.fdCapped} here (prlimit could not raise it to ${FD_LIMIT}: no CAP_SYS_RESOURCE), so at most ${f.fdCapped - FD_MARGIN} per instance.`);
  else if (f.nodes < f.wanted) out.push(`${L}: ${f.nodes} nodes, not ${f.wanted}: this sentinel-signaler has no --max-nodes yet and admits ${DEFAULT_CAP} sessions.`);
  return out;
}

/** Runs the signaler load benchmark and returns its table. */
export async function runSignalerLoadBench(opts: SignalerLoadOptions = {}): Promise<BenchResult> {
  const began = performance.now();
  const nodes = nodeCount(opts);
  if (!Number.isInteger(nodes) || nodes < 100) throw new Error(`signaler-load: ${nodes} nodes; give at least 100`);
  const workers = opts.workers ?? 4;
  const perNode = opts.lookupsPerNode ?? 2;
  const flags = await signalerFlags();
  const redisMissing = redisSkipReason();
  const skipped: string[] = [];
  const configs = CONFIGS.filter((c) => {
    if (!c.redis) return true;
    if (!flags.redis) skipped.push(`${c.label}: skipped, this sentinel-signaler has no --redis flag yet`);
    else if (redisMissing !== undefined) skipped.push(`${c.label}: skipped, ${redisMissing}`);
    else return true;
    return false;
  });
  // Room for every node, the warm-up clients and a margin, on any one instance.
  const maxNodes = flags.maxNodes ? Math.max(30_000, nodes + workers * WARM_PER_WORKER + 1_000) : undefined;
  const perInstanceCap = flags.maxNodes ? nodes : DEFAULT_CAP - workers * WARM_PER_WORKER - 100;
  console.log(`  signaler-load: ${nodes} nodes, ${workers} client processes; making identities ...`);
  const { pool, keygenMs } = await WorkerPool.start(nodes, workers, WARM_PER_WORKER, Math.max(120_000, nodes * 20));
  const figures: ConfigFigures[] = [];
  try {
    for (const c of configs) figures.push(await runConfig(c, pool, nodes, { ...(maxNodes !== undefined ? { maxNodes } : {}), perInstanceCap, perNode }));
  } finally {
    await pool.stop();
  }
  const ref = figures.find((f) => !f.config.redis);
  return {
    name: 'signaler-load',
    title: 'Signaler load: embedded vs a Redis cluster of 1, 2, 3 instances',
    method:
      `For each configuration, fresh \`sentinel-signaler\` processes (the CLI: \`--port 0 --host 127.0.0.1 --data-dir <tmp>${flags.redis ? ' [--redis redis://127.0.0.1:<port>]' : ''}${maxNodes !== undefined ? ` --max-nodes ${maxNodes}` : ''}\`, open-file limit raised with prlimit) and, for the cluster rows, a fresh \`redis-server\` (no persistence). ` +
      `${nodes} nodes${nodes !== DEFAULT_NODES ? ` (not the default ${DEFAULT_NODES}: SIGNALER_LOAD_NODES or SIGNALER_LOAD_QUICK was set)` : ''} are lightweight clients in ${workers} forked processes, each with a fresh Ed25519 identity (made before the clock starts) and its own loopback source address (127.16.0.0/12, so the 64-sessions-per-IP cap is not hit): ` +
      `TCP, the project's mutual TLS 1.3 (createContext + secureSocket, the signaler's printed id checked), HELLO + REGISTER → REGISTERED, ${REGISTER_CONCURRENCY * workers} in flight, round robin over the instances, after ${WARM_PER_WORKER * workers} warm-up registrations that are closed again. ` +
      `All stay registered while memory is sampled; then every node sends ${perNode} LOOKUPs (within the per-node burst) for nodes registered at another instance (with 2 or 3 instances), ${LOOKUP_CONCURRENCY * workers} in flight. ` +
      'CPU = utime + stime of the signaler processes from /proc/<pid>/stat (summed over instances) over the phase, divided by the requests answered; RSS per node = VmRSS growth of an instance over the registration phase / nodes on it; Redis per node = `INFO memory` used_memory growth / nodes. Rates are wall-clock, all phases of all workers together.',
    rows: figures.flatMap((f) => configRows(f, ref)),
    notes: [
      ...skipped,
      ...figures.flatMap(problems),
      `The configurations ran one after the other; 1-minute load average at the start and end of each (on ${availableParallelism()} cores, shared with other work): ${figures.map((f) => `${f.config.label} ${f.load[0].toFixed(1)} → ${f.load[1].toFixed(1)}`).join('; ')}. Rates between rows differ by as much as the load did; compare CPU per request rather than rates.`,
      `Identities: ${(keygenMs / 1000).toFixed(1)} s in the slowest of the ${workers} client processes (not timed).`,
      'Everything shares this machine: the client processes, every signaler instance and Redis run on the same cores, so more instances cannot show more throughput here than the cores allow; the rates are a floor for dedicated hosts, and the CPU per request is the figure that carries over. RSS is not measured after a forced GC (the signaler is the real CLI), so it includes garbage and what the allocator keeps.',
    ],
    durationMs: performance.now() - began,
  };
}
