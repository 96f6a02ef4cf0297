/**
 * Signaler capacity on loopback: how fast 1,000 distinct nodes register (TLS 1.3
 * handshake + REGISTER + REGISTERED), what each registered node costs the signaler in
 * memory, and how fast registered nodes get LOOKUP answers.
 *
 * The SignalerServer class runs in a child process forked from this file (with
 * --expose-gc), so its memory figures are its own and a full GC can be forced before
 * each sample; the raw TLS clients run in the benchmark process. Both are on one machine
 * and share its cores.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { generateIdentity, type Identity } from '../src/identity/index.js';
import { createLogger } from '../src/log.js';
import { REGISTER_TIMEOUT_MS, REQUEST_RATE, SignalerServer } from '../src/signaler/index.js';
import { SignalErrorCode } from '../src/wire/index.js';
import { LoadClient } from './signaler-load-client.js';
import { infoRow, type BenchResult, type BenchRow } from './report.js';
import { LOOPBACK, percentiles, sleep, withTimeout, type Percentiles } from './util.js';

export interface SignalerBenchOptions {
  /** Registered nodes held open at once (default 1,000). */
  nodes?: number;
  /** Registrations or lookups in flight at once (default 32). */
  concurrency?: number;
  /** Lookups per registered node, kept within the per-node burst (default 2). */
  lookupsPerNode?: number;
}

/** Argument that makes this file serve a signaler instead of being imported. */
const CHILD_FLAG = '--signaler-bench-child';
const TIMEOUT_MS = 15_000;
const WARMUP_NODES = 32;
/** Lookups one node sends back to back to show the per-node request limit. */
const RATE_PROBE = 30;
const KB = 1024;

/** The signaler process: CPU used so far, then memory after a forced full GC, and its registered count. */
interface MemorySample {
  /** User + system CPU time of the whole process so far, µs (read before the GC). */
  cpuUs: number;
  rss: number;
  heapUsed: number;
  external: number;
  registered: number;
}

type ToChild = { type: 'memory' } | { type: 'close' };
type FromChild = { type: 'ready'; port: number; gc: boolean } | { type: 'memory'; sample: MemorySample };

// ---- the signaler process -----------------------------------------------------------

function sampleMemory(registered: number): MemorySample {
  const cpu = process.cpuUsage();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { cpuUs: cpu.user + cpu.system, rss: m.rss, heapUsed: m.heapUsed, external: m.external, registered };
}

/** Child side: a SignalerServer on 127.0.0.1, port 0, answering memory probes over IPC. */
async function serveChild(): Promise<void> {
  const limits = { maxSessionsPerIp: 5_000, maxPendingHandshakesPerIp: 256, maxSessions: 10_000 };
  const server = new SignalerServer({ identity: generateIdentity(), log: createLogger('silent', () => {}), limits });
  const port = await server.listen(0, LOOPBACK);
  const send = (m: FromChild): void => void process.send?.(m);
  process.on('message', (m: ToChild) => {
    if (m.type === 'memory') send({ type: 'memory', sample: sampleMemory(server.size) });
    else void server.close().finally(() => process.exit(0));
  });
  // The benchmark process went away: nothing is left to serve.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port, gc: typeof (globalThis as { gc?: unknown }).gc === 'function' });
}

/** Parent side: the forked signaler. */
interface SignalerProcess {
  port: number;
  gc: boolean;
  memory(): Promise<MemorySample>;
  close(): Promise<void>;
}

async function startSignalerProcess(): Promise<SignalerProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [CHILD_FLAG], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit').catch(() => undefined);
  const next = async (): Promise<FromChild> => ((await withTimeout(once(child, 'message'), TIMEOUT_MS, 'the signaler process'))[0] as FromChild);
  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send({ type: 'close' } satisfies ToChild);
    await withTimeout(exited, 5_000, 'the signaler process to exit').catch(() => child.kill('SIGKILL'));
  };
  try {
    const ready = await next();
    if (ready.type !== 'ready') throw new Error('the signaler process did not start');
    return {
      port: ready.port,
      gc: ready.gc,
      async memory() {
        child.send({ type: 'memory' } satisfies ToChild);
        const m = await next();
        if (m.type !== 'memory') throw new Error('unexpected answer from the signaler process');
        return m.sample;
      },
      close,
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

// The clients are bench/signaler-load-client.ts LoadClient (TLS via the project's transport).

// ---- phases ---------------------------------------------------------------------------

/** Runs `task(0..count-1)` with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Registers one client per identity; returns them and the per-registration times. */
async function registerAll(ids: readonly Identity[], port: number, concurrency: number): Promise<{ clients: LoadClient[]; ms: number[] }> {
  const clients: LoadClient[] = [];
  const ms: number[] = [];
  try {
    await pool(ids.length, concurrency, async (i) => {
      const t0 = performance.now();
      clients.push(await LoadClient.register(ids[i] as Identity, { host: LOOPBACK, port }, LOOPBACK, TIMEOUT_MS));
      ms.push(performance.now() - t0);
    });
  } catch (err) {
    for (const c of clients) c.close();
    throw err;
  }
  return { clients, ms };
}

/** Waits (bounded) until the signaler has dropped every registration. */
async function drained(sig: SignalerProcess): Promise<MemorySample> {
  const deadline = performance.now() + TIMEOUT_MS;
  for (;;) {
    const m = await sig.memory();
    if (m.registered === 0) return m;
    if (performance.now() > deadline) throw new Error(`the signaler still holds ${m.registered} registrations after the clients closed`);
    await sleep(50);
  }
}

interface LookupFigures {
  ms: number[];
  elapsedMs: number;
  refused: number;
}

/** `perNode` lookups from every client, each for a random registered node. */
async function lookups(clients: readonly LoadClient[], perNode: number, concurrency: number): Promise<LookupFigures> {
  const ms: number[] = [];
  let refused = 0;
  const t0 = performance.now();
  await pool(clients.length * perNode, concurrency, async (i) => {
    const from = clients[i % clients.length] as LoadClient;
    const target = (clients[randomInt(clients.length)] as LoadClient).publicKey;
    const t = performance.now();
    const o = await from.lookup(target, TIMEOUT_MS);
    if (o.ok) ms.push(performance.now() - t);
    else if (o.code === SignalErrorCode.RATE_LIMITED) refused++;
    else throw new Error(`lookup failed: ${o.reason}`);
  });
  return { ms, elapsedMs: performance.now() - t0, refused };
}

/** `RATE_PROBE` lookups from one node at once: how many the per-node limit lets through. */
async function rateProbe(client: LoadClient, target: Uint8Array): Promise<{ answered: number; refused: number }> {
  const outcomes = await Promise.all(Array.from({ length: RATE_PROBE }, () => client.lookup(target, TIMEOUT_MS)));
  const refused = outcomes.filter((o) => !o.ok && o.code === SignalErrorCode.RATE_LIMITED).length;
  return { answered: outcomes.filter((o) => o.ok).length, refused };
}

// ---- the benchmark ----------------------------------------------------------------------

/** Everything one run measured. */
interface Figures {
  n: number;
  regMs: number[];
  regElapsedMs: number;
  look: LookupFigures;
  probe: { answered: number; refused: number };
  /** Signaler samples: baseline, all registered, after the lookups, after every client left. */
  before: MemorySample;
  held: MemorySample;
  looked: MemorySample;
  after: MemorySample;
}

/** Runs the phases against a forked signaler; closes every client it opened. */
async function measure(sig: SignalerProcess, n: number, concurrency: number, lookupsPerNode: number): Promise<Figures> {
  // Key generation and certificates are not what is measured: done before the clock starts.
  const ids = Array.from({ length: n + WARMUP_NODES }, () => generateIdentity());
  const warm = await registerAll(ids.slice(n), sig.port, concurrency);
  for (const c of warm.clients) c.close();
  const before = await drained(sig);
  const t0 = performance.now();
  const reg = await registerAll(ids.slice(0, n), sig.port, concurrency);
  const regElapsedMs = performance.now() - t0;
  const lastRegistered = performance.now();
  try {
    const held = await sig.memory();
    if (held.registered !== n) throw new Error(`the signaler holds ${held.registered} registrations, expected ${n}`);
    const look = await lookups(reg.clients, lookupsPerNode, concurrency);
    const looked = await sig.memory();
    const probe = await rateProbe(reg.clients[0] as LoadClient, (reg.clients[1] as LoadClient).publicKey);
    for (const c of reg.clients) c.close();
    await drained(sig);
    // Each session's register-timeout timer holds it until it fires: sample after that.
    await sleep(Math.max(0, lastRegistered + REGISTER_TIMEOUT_MS + 500 - performance.now()));
    const after = await sig.memory();
    return { n, regMs: reg.ms, regElapsedMs, look, probe, before, held, looked, after };
  } finally {
    for (const c of reg.clients) c.close();
  }
}

const fmtMs = (p: Percentiles): string => `p50 ${p.p50.toFixed(2)} / p95 ${p.p95.toFixed(2)} / p99 ${p.p99.toFixed(2)} ms`;
const perNode = (after: number, before: number, n: number): string => `${((after - before) / n / KB).toFixed(1)} KiB`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const rate = (count: number, ms: number): string => `${((count / ms) * 1000).toFixed(0)}/s`;

function rows(f: Figures): BenchRow[] {
  const { n, before, held, looked, after } = f;
  const regCpuMs = (held.cpuUs - before.cpuUs) / 1000 / n;
  const lookCpuMs = (looked.cpuUs - held.cpuUs) / 1000 / f.look.ms.length;
  return [
    infoRow('registrations per second (TLS handshake + REGISTER → REGISTERED)', `${rate(n, f.regElapsedMs)} (${n} in ${(f.regElapsedMs / 1000).toFixed(2)} s)`),
    infoRow('registration latency', fmtMs(percentiles(f.regMs))),
    infoRow('signaler CPU per registration', `${regCpuMs.toFixed(2)} ms`, `≤ ${(1000 / regCpuMs).toFixed(0)}/s per core`),
    infoRow('signaler RSS per registered node', perNode(held.rss, before.rss, n), `${mib(before.rss)} → ${mib(held.rss)}`),
    infoRow('signaler V8 heap used per registered node', perNode(held.heapUsed, before.heapUsed, n), `${mib(before.heapUsed)} → ${mib(held.heapUsed)}`),
    infoRow('signaler external memory per registered node', perNode(held.external, before.external, n), `${mib(before.external)} → ${mib(held.external)}`),
    infoRow('signaler RSS / V8 heap once every client left', `${mib(after.rss)} / ${mib(after.heapUsed)}`),
    infoRow('lookups per second (LOOKUP → LOOKUP_RESULT, many nodes)', `${rate(f.look.ms.length, f.look.elapsedMs)} (${f.look.ms.length} answered)`),
    infoRow('lookup latency', fmtMs(percentiles(f.look.ms))),
    infoRow('signaler CPU per lookup', `${lookCpuMs.toFixed(3)} ms`, `≤ ${(1000 / lookCpuMs).toFixed(0)}/s per core`),
  ];
}

function notes(f: Figures, gc: boolean, concurrency: number, lookupsPerNode: number): string[] {
  return [
    `Memory is sampled inside the signaler's process ${gc ? 'after two forced full GCs (`--expose-gc`)' : 'WITHOUT a forced GC (gc() unavailable), so it includes garbage'}: after ${WARMUP_NODES} warm-up registrations had come and gone (baseline), with all ${f.n} registrations held open, and once every client had left and the ${REGISTER_TIMEOUT_MS / 1000} s register-timeout timers (which keep each session reachable until they fire) had run. "Per node" is (held − baseline) / ${f.n}. Most of the RSS per node is OpenSSL's per-connection state and socket buffers, which V8 does not count; RSS also keeps memory the allocator does not return, so it is an upper bound and does not fall back fully when clients leave.`,
    `Registration latency runs from \`tls.connect\` to REGISTERED; with ${concurrency} in flight it includes queueing behind the others (worst ${percentiles(f.regMs).max.toFixed(1)} ms). "CPU per registration" is the signaler process's user + system CPU over the registration phase divided by ${f.n} (TLS handshake with an Ed25519 certificate check, HELLO, PING, REGISTER); its inverse bounds what one core could register.`,
    `Per-node request limit (REQUEST_RATE ${REQUEST_RATE.perSecond}/s, burst ${REQUEST_RATE.burst}): ${RATE_PROBE} lookups pipelined by one node (which had already spent ${lookupsPerNode} on the lookups above) got ${f.probe.answered} answers and ${f.probe.refused} RATE_LIMITED refusals. The lookup rate is therefore an aggregate over many nodes (${lookupsPerNode} each, within the burst); one node cannot sustain more than ${REQUEST_RATE.perSecond} lookups/s.`,
    ...(f.look.refused > 0 ? [`${f.look.refused} of the measured lookups were refused RATE_LIMITED and are left out of the figures.`] : []),
    "The clients (bench/signaler-load-client.ts: the project's TLS transport and the wire codecs, no Session) run in the benchmark process and the signaler in a child process on the same machine; they share its cores, so the rates are a floor for a dedicated signaler host.",
  ];
}

/** Runs the signaler capacity benchmark and returns its table. */
export async function runSignalerBench(opts: SignalerBenchOptions = {}): Promise<BenchResult> {
  const began = performance.now();
  const n = opts.nodes ?? 1_000;
  const concurrency = opts.concurrency ?? 32;
  const lookupsPerNode = opts.lookupsPerNode ?? 2;
  const sig = await startSignalerProcess();
  let f: Figures;
  try {
    f = await measure(sig, n, concurrency, lookupsPerNode);
  } finally {
    await sig.close();
  }
  return {
    name: 'signaler',
    title: 'Signaler: registrations, memory per node, lookups',
    method:
      `A \`SignalerServer\` on 127.0.0.1 (port 0) in a forked child process (limits raised to 5,000 sessions and 256 pending handshakes per IP, since every client comes from 127.0.0.1). ` +
      `${n} distinct identities (generated beforehand, not timed) each open a mutual TLS 1.3 connection (the project's createContext + secureSocket, own Ed25519 certificate), send one REGISTER frame and wait for REGISTERED, ` +
      `${concurrency} in flight at a time, after ${WARMUP_NODES} untimed warm-up registrations. All ${n} stay registered (the clients answer keepalive PINGs) while memory is sampled; then ` +
      `${n * lookupsPerNode} LOOKUPs for random registered ids are sent, ${lookupsPerNode} per node, ${concurrency} in flight.`,
    rows: rows(f),
    notes: notes(f, sig.gc, concurrency, lookupsPerNode),
    durationMs: performance.now() - began,
  };
}

if (process.argv[2] === CHILD_FLAG && process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  serveChild().catch((err: unknown) => {
    console.error(`signaler bench child: ${String(err)}`);
    process.exit(1);
  });
}
