/**
 * A client process of the signaler load benchmark (forked by signaler-load.ts): it holds
 * a slice of the benchmark's nodes as {@link LoadClient}s and runs the phases it is told
 * over IPC. Identities are made once at start (not timed) and reused for every
 * configuration, each against fresh signalers; within one configuration every client is a
 * distinct identity.
 *
 * Client `i` of this worker is global node `first + i`: it registers at instance
 * `(first + i) mod k` (round robin) from source address {@link sourceAddress}(first + i),
 * and looks up nodes of this worker registered at *another* instance when k > 1.
 */
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../src/errors.js';
import { generateIdentity, type Identity } from '../src/identity/index.js';
import { SignalErrorCode } from '../src/wire/index.js';
import { LoadClient, sourceAddress, type InstanceAddress } from './signaler-load-client.js';

/** Argument that makes this file run as a worker. */
export const WORKER_FLAG = '--signaler-load-worker';
/** A registration or lookup with no answer by then is counted lost. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A progress message after this many registrations. */
const PROGRESS_EVERY = 100;
/** Failure reasons kept per phase, for the report. */
const MAX_REASONS = 3;

/** Orchestrator → worker. */
export type ToWorker =
  | { type: 'init'; first: number; count: number; warm: number }
  | { type: 'register'; instances: InstanceAddress[]; warm: boolean; concurrency: number; count: number }
  | { type: 'lookup'; perClient: number; concurrency: number; k: number }
  | { type: 'close' };

/** Counts of one phase: ms holds the latency of each success. */
export interface PhaseReport {
  ok: number;
  ms: number[];
  /** SIGNAL_ERROR NOT_FOUND answers (a lookup of a registered node that the instance did not find). */
  notFound: number;
  rateLimited: number;
  /** Every other failure: refused, lost, timed out. */
  failed: number;
  reasons: string[];
}

/** Worker → orchestrator. */
export type FromWorker =
  | { type: 'ready'; keygenMs: number }
  | { type: 'progress'; done: number }
  | { type: 'registered'; report: PhaseReport }
  | { type: 'looked'; report: PhaseReport }
  | { type: 'closed' }
  | { type: 'error'; message: string };

/**
 * The `j`-th lookup target of client `i` among `n` clients whose global numbers start at
 * `first`: another client that `registered(t)`, and with `k` > 1 instances one registered at
 * another instance (round robin: client t is at instance (first + t) mod k). Successive `j`
 * spread over different targets. Undefined when there is none.
 */
export function lookupTarget(i: number, j: number, opts: { n: number; k: number; first: number; registered: (t: number) => boolean }): number | undefined {
  const { n, k, first, registered } = opts;
  const start = 1 + j * k;
  for (let step = start; step < start + n; step++) {
    const t = (i + step) % n;
    if (t === i || !registered(t)) continue;
    if (k > 1 && (first + t) % k === (first + i) % k) continue;
    return t;
  }
  return undefined;
}

const emptyReport = (): PhaseReport => ({ ok: 0, ms: [], notFound: 0, rateLimited: 0, failed: 0, reasons: [] });

function noteFailure(r: PhaseReport, reason: string): void {
  r.failed++;
  if (r.reasons.length < MAX_REASONS && !r.reasons.includes(reason)) r.reasons.push(reason);
}

/** Runs `task(0..count-1)` with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

class Worker {
  private first = 0;
  private ids: Identity[] = [];
  private warmIds: Identity[] = [];
  /** Open clients by local index (undefined: not registered). */
  private clients: (LoadClient | undefined)[] = [];
  private warmClients: LoadClient[] = [];

  constructor(private readonly send: (m: FromWorker) => void) {}

  init(first: number, count: number, warm: number): void {
    const t0 = performance.now();
    this.first = first;
    this.ids = Array.from({ length: count }, () => generateIdentity());
    this.warmIds = Array.from({ length: warm }, () => generateIdentity());
    this.send({ type: 'ready', keygenMs: performance.now() - t0 });
  }

  /** Registers the first `count` clients (or the warm-up clients, which are then closed). */
  async register(instances: InstanceAddress[], warm: boolean, concurrency: number, count: number): Promise<void> {
    const r = emptyReport();
    const ids = warm ? this.warmIds : this.ids.slice(0, count);
    // Warm-up clients use the addresses after the measured ones, so no address is reused at once.
    const base = warm ? this.first + this.ids.length : this.first;
    if (!warm) this.clients = new Array<LoadClient | undefined>(ids.length);
    await pool(ids.length, concurrency, async (i) => {
      const g = base + i;
      const to = instances[g % instances.length] as InstanceAddress;
      const t0 = performance.now();
      try {
        const c = await LoadClient.register(ids[i] as Identity, to, sourceAddress(g), REQUEST_TIMEOUT_MS);
        r.ms.push(performance.now() - t0);
        r.ok++;
        if (warm) this.warmClients.push(c);
        else this.clients[i] = c;
      } catch (err) {
        noteFailure(r, errorMessage(err));
      }
      const done = r.ok + r.failed;
      if (!warm && done % PROGRESS_EVERY === 0) this.send({ type: 'progress', done });
    });
    if (warm) {
      for (const c of this.warmClients) c.close();
      this.warmClients = [];
    }
    this.send({ type: 'registered', report: r });
  }

  async lookup(perClient: number, concurrency: number, k: number): Promise<void> {
    const r = emptyReport();
    const n = this.clients.length;
    // Request q is client (q mod n)'s (q div n)-th lookup: every client's first, then every second, …
    await pool(n * perClient, concurrency, async (q) => {
      const i = q % n;
      const from = this.clients[i];
      const t = lookupTarget(i, Math.floor(q / n), { n, k, first: this.first, registered: (x) => this.clients[x] !== undefined });
      if (from === undefined || t === undefined) return;
      const t0 = performance.now();
      const o = await from.lookup((this.ids[t] as Identity).publicKey, REQUEST_TIMEOUT_MS);
      if (o.ok) {
        r.ok++;
        r.ms.push(performance.now() - t0);
      } else if (o.code === SignalErrorCode.NOT_FOUND) r.notFound++;
      else if (o.code === SignalErrorCode.RATE_LIMITED) r.rateLimited++;
      else noteFailure(r, o.reason);
    });
    this.send({ type: 'looked', report: r });
  }

  close(): void {
    for (const c of this.clients) c?.close();
    this.clients = [];
    this.send({ type: 'closed' });
  }
}

function serve(): void {
  const send = (m: FromWorker): void => void process.send?.(m);
  const worker = new Worker(send);
  const guard = (p: Promise<void> | void): void =>
    void Promise.resolve(p).catch((err: unknown) => send({ type: 'error', message: errorMessage(err) }));
  process.on('message', (m: ToWorker) => {
    if (m.type === 'init') guard(worker.init(m.first, m.count, m.warm));
    else if (m.type === 'register') guard(worker.register(m.instances, m.warm, m.concurrency, m.count));
    else if (m.type === 'lookup') guard(worker.lookup(m.perClient, m.concurrency, m.k));
    else guard(worker.close());
  });
  // The orchestrator went away: the sockets go with this process.
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[2] === WORKER_FLAG && process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) serve();
