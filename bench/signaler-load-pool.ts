/**
 * The client processes of the signaler load benchmark, seen from the orchestrator: forks
 * the workers (signaler-load-worker.ts), splits the nodes between them and runs one phase
 * on all of them at once, collecting their reports.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstanceAddress } from './signaler-load-client.js';
import { raiseFdLimit } from './signaler-load-procs.js';
import { WORKER_FLAG, type FromWorker, type PhaseReport, type ToWorker } from './signaler-load-worker.js';
import { withTimeout } from './util.js';

const WORKER_FILE = join(dirname(fileURLToPath(import.meta.url)), 'signaler-load-worker.js');

/** Every worker's report of one phase, merged. */
export function mergeReports(reports: readonly PhaseReport[]): PhaseReport {
  const m: PhaseReport = { ok: 0, ms: [], notFound: 0, rateLimited: 0, failed: 0, reasons: [] };
  for (const r of reports) {
    m.ok += r.ok;
    for (const x of r.ms) m.ms.push(x);
    m.notFound += r.notFound;
    m.rateLimited += r.rateLimited;
    m.failed += r.failed;
    for (const reason of r.reasons) if (m.reasons.length < 5 && !m.reasons.includes(reason)) m.reasons.push(reason);
  }
  return m;
}

/** The forked client workers. */
export class WorkerPool {
  private readonly messages: FromWorker[][];
  private readonly wakers: ((() => void) | undefined)[];
  /** Registrations finished per worker in the running phase (from progress messages). */
  readonly progress: number[];

  private constructor(
    private readonly children: ChildProcess[],
    /** Clients per worker. */
    readonly sizes: number[],
  ) {
    this.messages = children.map(() => []);
    this.wakers = children.map(() => undefined);
    this.progress = children.map(() => 0);
    children.forEach((c, w) => {
      c.on('message', (m: FromWorker) => {
        if (m.type === 'progress') this.progress[w] = m.done;
        else {
          this.messages[w]?.push(m);
          this.wakers[w]?.();
        }
      });
      c.on('exit', () => this.wakers[w]?.());
    });
  }

  /** Forks `workers` processes holding `nodes` clients between them (+ `warm` each), identities made. */
  static async start(nodes: number, workers: number, warm: number, timeoutMs: number): Promise<{ pool: WorkerPool; keygenMs: number }> {
    const sizes = Array.from({ length: workers }, (_, w) => Math.floor(nodes / workers) + (w < nodes % workers ? 1 : 0));
    const children = sizes.map(() => fork(WORKER_FILE, [WORKER_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    // Best effort: a worker holds one socket per client, within the default limit unless there are very many.
    await Promise.all(children.map((c) => raiseFdLimit(c.pid as number)));
    const pool = new WorkerPool(children, sizes);
    try {
      let first = 0;
      const msgs = sizes.map((count) => {
        const m: ToWorker = { type: 'init', first, count, warm };
        first += count;
        return m;
      });
      const ready = await pool.all(msgs, 'ready', timeoutMs);
      return { pool, keygenMs: Math.max(...ready.map((r) => (r.type === 'ready' ? r.keygenMs : 0))) };
    } catch (err) {
      await pool.stop();
      throw err;
    }
  }

  /** Registers each worker's first `counts[w]` clients (or its warm-up clients, which it then closes). */
  async register(instances: InstanceAddress[], opts: { warm: boolean; concurrency: number; counts?: number[] }, timeoutMs: number): Promise<PhaseReport> {
    this.progress.fill(0);
    const msgs = this.sizes.map((size, w): ToWorker => ({ type: 'register', instances, warm: opts.warm, concurrency: opts.concurrency, count: opts.counts?.[w] ?? size }));
    const done = await this.all(msgs, 'registered', timeoutMs);
    return mergeReports(done.map((m) => (m.type === 'registered' ? m.report : (undefined as never))));
  }

  async lookup(perClient: number, concurrency: number, k: number, timeoutMs: number): Promise<PhaseReport> {
    const done = await this.all(this.sizes.map((): ToWorker => ({ type: 'lookup', perClient, concurrency, k })), 'looked', timeoutMs);
    return mergeReports(done.map((m) => (m.type === 'looked' ? m.report : (undefined as never))));
  }

  /** Closes every client of every worker. */
  async closeClients(timeoutMs: number): Promise<void> {
    await this.all(this.sizes.map((): ToWorker => ({ type: 'close' })), 'closed', timeoutMs);
  }

  /** Ends the worker processes (their sockets go with them). */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, 'exit');
        if (c.connected) c.disconnect();
        await withTimeout(exited, 5_000, 'a client worker to exit').catch(async () => {
          c.kill('SIGKILL');
          await exited;
        });
      }),
    );
  }

  /** Sends `msgs[w]` to worker w and waits for each one's `want` answer. */
  private async all(msgs: ToWorker[], want: FromWorker['type'], timeoutMs: number): Promise<FromWorker[]> {
    msgs.forEach((m, w) => this.children[w]?.send(m));
    return withTimeout(Promise.all(this.children.map((_, w) => this.next(w, want))), timeoutMs, `the client workers' "${want}"`);
  }

  private async next(w: number, want: FromWorker['type']): Promise<FromWorker> {
    const queue = this.messages[w] as FromWorker[];
    for (;;) {
      const m = queue.shift();
      if (m?.type === 'error') throw new Error(`client worker ${w}: ${m.message}`);
      if (m?.type === want) return m;
      if (m !== undefined) throw new Error(`client worker ${w} answered "${m.type}", expected "${want}"`);
      const c = this.children[w] as ChildProcess;
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`client worker ${w} exited (${c.exitCode ?? c.signalCode})`);
      await new Promise<void>((resolve) => (this.wakers[w] = resolve));
      this.wakers[w] = undefined;
    }
  }
}
