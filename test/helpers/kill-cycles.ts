/**
 * SIGKILL cycles during two-way messaging, with real processes on loopback: two
 * `sentinel-node`s send to each other continuously through their control sockets; each
 * cycle waits a random moment, SIGKILLs one side (chosen at random), restarts it on the
 * same data dir and port, and re-dials. At the end both sides drain, stop gracefully, and
 * their stores are read directly: every message a sender was told about (`send`
 * answered pending or delivered) must be in the receiver's history exactly once, and no
 * message may appear twice anywhere.
 *
 * Used by test/integration/faults-sigkill.test.ts (200 cycles) and bench/faults.ts
 * (longer runs, figures). Seeded, so a failing run can be replayed (`seed` in the report).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { NodeId } from '../../src/api.js';
import { connectControl, controlSocketPath, type ControlClient } from '../../src/control/index.js';
import { errorCode, errorMessage } from '../../src/errors.js';
import { openLmdbStore, type StoredMessage } from '../../src/store/index.js';
import { freePort, type ExitResult, type Procs } from './procs.js';
export { seededRandom } from './seeded-random.js';
import { seededRandom } from './seeded-random.js';

/** Options of {@link runKillCycles}. */
export interface KillCyclesOptions {
  procs: Procs;
  cycles: number;
  /** PRNG seed; default random (reported). */
  seed?: number;
  /** The kill comes a uniformly random 0..this many ms after the previous re-dial. */
  maxKillDelayMs?: number;
  /** Concurrent send loops per node. */
  sendersPerNode?: number;
  /** Pause between two sends of one loop. */
  sendPauseMs?: number;
  /** How long the final drain may take before it reconnects explicitly. */
  drainTimeoutMs?: number;
  /** Progress lines (every 20 cycles). */
  progress?: (line: string) => void;
}

/** What happened. `lost` and `duplicates` must be empty. */
export interface KillCyclesReport {
  seed: number;
  cycles: number;
  kills: Record<'A' | 'B', number>;
  /** Sends answered (pending or delivered) per direction. */
  acked: Record<'A->B' | 'B->A', number>;
  /** Sends answered `delivered` (the rest were `pending`). */
  ackedDelivered: number;
  /** Sends cut by a kill before an answer: outcome unknown, allowed to arrive or not. */
  cut: number;
  /** Sends answered with an error, by code. */
  errors: Record<string, number>;
  /** Acknowledged messages missing from the receiver's history (ids). */
  lost: string[];
  /** Ids or texts found more than once in a history. */
  duplicates: string[];
  /** Acknowledged messages still pending at the sender after the drain. */
  undelivered: number;
  /** Whether the drain needed an explicit reconnect. */
  drainReconnects: number;
  /** Messages in each store at the end. */
  stored: Record<'A' | 'B', number>;
  /** Kill to control socket ready, per cycle (ms). */
  restartMs: number[];
  totalMs: number;
}

/** Default upper bound of the random wait before a kill. */
export const DEFAULT_MAX_KILL_DELAY_MS = 250;
const READY_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 20;
const DIAL_ATTEMPTS = 20;


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One `sentinel-node` that can be SIGKILLed and started again on the same data dir and port. */
export class CycledNode {
  id: NodeId = '';
  /** Bumped on every kill: a call that began in an older generation was cut by a kill. */
  generation = 0;
  #child: { child: ChildProcess; done: Promise<ExitResult>; output: () => ExitResult } | undefined;
  #client: ControlClient | undefined;
  #waiters: Array<() => void> = [];

  constructor(
    readonly name: 'A' | 'B',
    readonly dataDir: string,
    readonly port: number,
    private readonly procs: Procs,
  ) {}

  get up(): boolean {
    return this.#client !== undefined;
  }

  /** The control client once the node is up. */
  async ready(): Promise<{ client: ControlClient; generation: number }> {
    while (!this.#client) await new Promise<void>((r) => this.#waiters.push(r));
    return { client: this.#client, generation: this.generation };
  }

  stderrTail(lines = 20): string {
    return (this.#child?.output().stderr ?? '').split('\n').slice(-lines).join('\n');
  }

  async start(): Promise<void> {
    const args = ['--data-dir', this.dataDir, '--port', String(this.port), '--host', '127.0.0.1', '--signaler', 'none', '--log-level', 'warn'];
    const spawned = this.procs.spawnNode(args);
    this.#child = spawned;
    const deadline = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (spawned.child.exitCode !== null || spawned.child.signalCode !== null) throw new Error(`node ${this.name} exited during start:\n${spawned.output().stderr}`);
      const client = await connectControl(controlSocketPath(this.dataDir)).catch(() => undefined);
      if (client) {
        const status = await client.call('status', {}).catch(() => undefined);
        if (status && status.port === this.port) {
          this.id = status.id;
          this.#client = client;
          for (const w of this.#waiters.splice(0)) w();
          return;
        }
        client.close();
      }
      if (performance.now() > deadline) throw new Error(`node ${this.name} not ready within ${READY_TIMEOUT_MS} ms:\n${spawned.output().stderr}`);
      await sleep(READY_POLL_MS);
    }
  }

  async kill(): Promise<void> {
    this.generation += 1;
    this.#client?.close();
    this.#client = undefined;
    const c = this.#child;
    if (!c) return;
    // It must still be running: a node that died by itself crashed.
    if (c.child.exitCode !== null || c.child.signalCode !== null) throw new Error(`node ${this.name} died by itself (${c.child.exitCode ?? c.child.signalCode}):\n${c.output().stderr.slice(-2000)}`);
    c.child.kill('SIGKILL');
    await c.done;
  }

  /** Graceful stop; resolves with how it ended. */
  async stop(): Promise<ExitResult | undefined> {
    this.#client?.close();
    this.#client = undefined;
    const c = this.#child;
    if (!c) return undefined;
    c.child.kill('SIGTERM');
    return c.done;
  }

  /** Dial `other` by address until a session is up (a racing redial by the other side is fine). */
  async dial(other: CycledNode): Promise<void> {
    let last: unknown;
    for (let i = 0; i < DIAL_ATTEMPTS; i++) {
      const { client } = await this.ready();
      try {
        await client.call('dial', { target: `127.0.0.1:${other.port}` });
        return;
      } catch (err) {
        last = err;
        await sleep(50);
      }
    }
    throw new Error(`${this.name} could not dial ${other.name}: ${errorMessage(last)}`);
  }
}

interface Acked {
  from: 'A' | 'B';
  id: string;
  text: string;
}

/** Runs the cycles; see the file header. Never throws for lost or duplicated messages: it reports them. */
export async function runKillCycles(opts: KillCyclesOptions): Promise<KillCyclesReport> {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  const began = performance.now();
  const [portA, portB] = [await freePort(), await freePort()];
  const a = new CycledNode('A', await opts.procs.tempDir('kill-a'), portA, opts.procs);
  const b = new CycledNode('B', await opts.procs.tempDir('kill-b'), portB, opts.procs);
  await Promise.all([a.start(), b.start()]);
  await b.dial(a);
  // Each is the other's contact (chosen by the user), not a stranger held to quotas.
  await (await a.ready()).client.call('alias', { target: b.id, alias: 'b' });
  await (await b.ready()).client.call('alias', { target: a.id, alias: 'a' });

  const acked: Acked[] = [];
  const errors: Record<string, number> = {};
  let cut = 0;
  let ackedDelivered = 0;
  let stopped = false;

  const sendLoop = async (from: CycledNode, to: CycledNode, loop: number): Promise<void> => {
    for (let n = 0; !stopped; n++) {
      const { client, generation } = await from.ready();
      const text = `${from.name}${loop}-${n}`;
      try {
        const r = await client.call('send', { target: to.id, text });
        acked.push({ from: from.name, id: r.id, text });
        if (r.status === 'delivered') ackedDelivered += 1;
      } catch (err) {
        const code = errorCode(err) ?? 'unknown';
        if (code === 'E_NOT_RUNNING' && from.generation !== generation) cut += 1;
        else if (code !== 'E_NOT_RUNNING') errors[code] = (errors[code] ?? 0) + 1;
      }
      await sleep(opts.sendPauseMs ?? 40);
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < (opts.sendersPerNode ?? 2); i++) loops.push(sendLoop(a, b, i), sendLoop(b, a, i));

  const kills = { A: 0, B: 0 };
  const restartMs: number[] = [];
  try {
    for (let cycle = 1; cycle <= opts.cycles; cycle++) {
      await sleep(random() * (opts.maxKillDelayMs ?? DEFAULT_MAX_KILL_DELAY_MS));
      const [victim, other] = random() < 0.5 ? [a, b] : [b, a];
      const t0 = performance.now();
      await victim.kill();
      kills[victim.name] += 1;
      await victim.start();
      restartMs.push(performance.now() - t0);
      await victim.dial(other);
      if (cycle % 20 === 0) opts.progress?.(`cycle ${cycle}/${opts.cycles}: ${acked.length} acknowledged, ${cut} cut, ${Math.round((performance.now() - began) / 1000)} s`);
    }
  } finally {
    stopped = true;
  }
  await Promise.all(loops);

  // Drain: everything acknowledged gets delivered while both are up and connected.
  let drainReconnects = 0;
  let undelivered = await waitDrained([a, b], opts.drainTimeoutMs ?? 20_000);
  if (undelivered > 0) {
    // Redelivery happens when a session comes up: make one happen.
    drainReconnects += 1;
    await a.stop();
    await a.start();
    await a.dial(b);
    undelivered = await waitDrained([a, b], opts.drainTimeoutMs ?? 20_000);
  }
  const stops = await Promise.all([a.stop(), b.stop()]);
  stops.forEach((r, i) => {
    if (r && r.code !== 0) throw new Error(`node ${i === 0 ? 'A' : 'B'} did not stop cleanly (${r.code ?? r.signal}):\n${r.stderr.slice(-2000)}`);
  });

  const [histA, histB] = [await readHistory(a.dataDir), await readHistory(b.dataDir)];
  const { lost, duplicates } = verify(acked, { A: histA, B: histB });
  return {
    seed,
    cycles: opts.cycles,
    kills,
    acked: { 'A->B': acked.filter((m) => m.from === 'A').length, 'B->A': acked.filter((m) => m.from === 'B').length },
    ackedDelivered,
    cut,
    errors,
    lost,
    duplicates,
    undelivered,
    drainReconnects,
    stored: { A: histA.length, B: histB.length },
    restartMs,
    totalMs: performance.now() - began,
  };
}

/**
 * Polls both stores until neither outbox holds anything (every message delivered);
 * returns how many remain. The stores are read directly (LMDB allows readers in other
 * processes), so no control API paging limit applies.
 */
async function waitDrained(nodes: CycledNode[], timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let queued = 0;
    for (const n of nodes) queued += await outboxSize(n.dataDir);
    if (queued === 0 || performance.now() > deadline) return queued;
    await sleep(200);
  }
}

async function outboxSize(dataDir: string): Promise<number> {
  const store = await openLmdbStore(join(dataDir, 'store'));
  try {
    return store.outboxPeers().reduce((n, peer) => n + store.outbox(peer).length, 0);
  } finally {
    await store.close();
  }
}

/** The whole history in a stopped node's store, read directly (no control API limits). */
async function readHistory(dataDir: string): Promise<StoredMessage[]> {
  const store = await openLmdbStore(join(dataDir, 'store'));
  try {
    return store.allHistory();
  } finally {
    await store.close();
  }
}

/** Lost: acknowledged by A (B) and not in B's (A's) history. Duplicates: an id or a text twice in a history. */
export function verify(acked: readonly Acked[], histories: Record<'A' | 'B', readonly StoredMessage[]>): { lost: string[]; duplicates: string[] } {
  const duplicates: string[] = [];
  const ids: Record<'A' | 'B', Map<string, number>> = { A: new Map(), B: new Map() };
  for (const side of ['A', 'B'] as const) {
    const texts = new Set<string>();
    for (const m of histories[side]) {
      const seen = ids[side].get(m.id) ?? 0;
      ids[side].set(m.id, seen + 1);
      if (seen === 1) duplicates.push(`${side}: id ${m.id} twice`);
      const key = `${m.from}/${m.text}`;
      if (texts.has(key)) duplicates.push(`${side}: text ${m.text} twice`);
      texts.add(key);
    }
  }
  const lost: string[] = [];
  for (const m of acked) {
    const receiver = m.from === 'A' ? 'B' : 'A';
    if (!ids[receiver].has(m.id)) lost.push(`${m.from}->${receiver} ${m.id} (${m.text})`);
    if (!ids[m.from].has(m.id)) lost.push(`${m.from} own history lacks ${m.id} (${m.text})`);
  }
  return { lost, duplicates };
}
