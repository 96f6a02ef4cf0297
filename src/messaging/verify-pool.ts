/**
 * Ed25519 verification off the event loop: a small pool of worker threads.
 *
 * Jobs submitted in one event-loop turn are sent to the workers as a few batches (one
 * `postMessage` per worker per turn, not one per message); each job's callback runs on the
 * main thread once its worker answers. The queue is bounded: beyond `maxPending` jobs not
 * yet answered, {@link SignatureVerifier.verify} refuses at once (returns false) and the
 * refusal is counted (`verify_refused`), so a flood of CHAT frames cannot grow memory
 * without limit; the caller answers such a message with a temporary refusal.
 *
 * A turn with only a few jobs (at most `inlineMax`) while no batch is out is verified on
 * the main thread in the flush: a lone message then skips the thread hop (its latency),
 * and a stream of them still costs the event loop little; bursts go to the workers.
 * Counted: `verify_inline` (jobs), `verify_batches` (batches posted to workers).
 *
 * A worker that fails (it should not) is replaced; the jobs it held are verified on the
 * main thread, so no callback is lost. {@link InlineVerifier} does the same work
 * synchronously (tests, and nodes configured without workers).
 */
import { Worker } from 'node:worker_threads';
import { verifySignature } from '../identity/index.js';
import type { Counters } from '../core/counters.js';
import { packJobs } from './verify-pack.js';

/** One signature to check. */
export interface VerifyJob {
  publicKey: Uint8Array;
  data: Uint8Array;
  signature: Uint8Array;
}

/** Checks signatures; callbacks may run synchronously (inline) or later (pool). */
export interface SignatureVerifier {
  /** Queues a job; false (and `done` never called) when the queue is full. */
  verify(job: VerifyJob, done: (ok: boolean) => void): boolean;
  /** Jobs submitted and not answered yet. */
  readonly pending: number;
  close(): Promise<void>;
}

/** Verifies on the calling thread, before `verify` returns. */
export class InlineVerifier implements SignatureVerifier {
  readonly pending = 0;
  verify(job: VerifyJob, done: (ok: boolean) => void): boolean {
    done(verifySignature(job.publicKey, job.data, job.signature));
    return true;
  }
  async close(): Promise<void> {}
}

/** Options of {@link VerifyPool}. */
export interface VerifyPoolOptions {
  /** Worker threads (at least 1). */
  workers: number;
  /** Jobs in flight (queued or in a worker) at most; more are refused. */
  maxPending: number;
  /** Most jobs in one batch message to a worker. */
  maxBatch?: number;
  /** A turn with at most this many jobs, while no batch is out, is verified inline (default 2; 0: never). */
  inlineMax?: number;
  counters?: Counters;
}

interface Slot {
  worker: Worker;
  /** Batch id -> its jobs' callbacks (and jobs, to verify inline if the worker fails). */
  batches: Map<number, { jobs: VerifyJob[]; done: Array<(ok: boolean) => void> }>;
  /** Jobs in this worker's batches, for choosing the least loaded one. */
  load: number;
}

const DEFAULT_MAX_BATCH = 256;
const DEFAULT_INLINE_MAX = 2;

export class VerifyPool implements SignatureVerifier {
  readonly #slots: Slot[] = [];
  readonly #opts: Required<Omit<VerifyPoolOptions, 'counters'>> & { counters: Counters | undefined };
  #queue: Array<{ job: VerifyJob; done: (ok: boolean) => void }> = [];
  #pending = 0;
  #nextBatch = 1;
  #flushScheduled = false;
  #closed = false;

  constructor(opts: VerifyPoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError('workers must be a positive integer');
    if (!Number.isInteger(opts.maxPending) || opts.maxPending < 1) throw new RangeError('maxPending must be a positive integer');
    this.#opts = {
      workers: opts.workers,
      maxPending: opts.maxPending,
      maxBatch: opts.maxBatch ?? DEFAULT_MAX_BATCH,
      inlineMax: opts.inlineMax ?? DEFAULT_INLINE_MAX,
      counters: opts.counters,
    };
    for (let i = 0; i < opts.workers; i++) this.#slots.push(this.#spawn());
  }

  get pending(): number {
    return this.#pending;
  }

  verify(job: VerifyJob, done: (ok: boolean) => void): boolean {
    if (this.#closed) {
      done(verifySignature(job.publicKey, job.data, job.signature));
      return true;
    }
    if (this.#pending >= this.#opts.maxPending) {
      this.#opts.counters?.inc('verify_refused');
      return false;
    }
    this.#pending += 1;
    this.#queue.push({ job, done });
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    return true;
  }

  /** Stops the workers; jobs still in flight are verified on this thread first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flush();
    const slots = this.#slots.splice(0);
    for (const s of slots) this.#failSlot(s);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** Sends the queued jobs as batches, each to the least loaded worker. */
  #flush(): void {
    this.#flushScheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    if (!this.#closed && queue.length <= this.#opts.inlineMax && this.#slots.every((s) => s.load === 0)) {
      this.#pending -= queue.length;
      this.#opts.counters?.inc('verify_inline', queue.length);
      return this.#inline(
        queue.map((q) => q.job),
        queue.map((q) => q.done),
      );
    }
    for (let i = 0; i < queue.length; i += this.#opts.maxBatch) {
      const part = queue.slice(i, i + this.#opts.maxBatch);
      const slot = this.#slots.reduce<Slot | undefined>((best, s) => (best === undefined || s.load < best.load ? s : best), undefined);
      const jobs = part.map((p) => p.job);
      const done = part.map((p) => p.done);
      if (!slot) {
        this.#pending -= jobs.length;
        this.#inline(jobs, done);
        continue;
      }
      const batch = this.#nextBatch++;
      this.#opts.counters?.inc('verify_batches');
      slot.batches.set(batch, { jobs, done });
      slot.load += jobs.length;
      const buf = packJobs(jobs);
      slot.worker.postMessage({ batch, buf }, [buf.buffer as ArrayBuffer]);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./verify-worker.js', import.meta.url));
    worker.unref();
    const slot: Slot = { worker, batches: new Map(), load: 0 };
    worker.on('message', (m: { batch: number; ok: Uint8Array }) => {
      const b = slot.batches.get(m.batch);
      if (!b) return;
      slot.batches.delete(m.batch);
      slot.load -= b.jobs.length;
      this.#pending -= b.jobs.length;
      b.done.forEach((cb, i) => cb(m.ok[i] === 1));
    });
    worker.on('error', () => {
      this.#opts.counters?.inc('verify_worker_failed');
      this.#replace(slot);
    });
    worker.on('exit', () => {
      if (!this.#closed && this.#slots.includes(slot)) this.#replace(slot);
    });
    return slot;
  }

  #replace(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i < 0) return;
    this.#slots.splice(i, 1);
    this.#failSlot(slot);
    void slot.worker.terminate();
    if (!this.#closed) this.#slots.push(this.#spawn());
  }

  /** The slot's outstanding batches are verified here, so every callback still runs once. */
  #failSlot(slot: Slot): void {
    const batches = [...slot.batches.values()];
    slot.batches.clear();
    slot.load = 0;
    for (const b of batches) {
      this.#pending -= b.jobs.length;
      this.#inline(b.jobs, b.done);
    }
  }

  #inline(jobs: VerifyJob[], done: Array<(ok: boolean) => void>): void {
    jobs.forEach((j, i) => done[i]?.(verifySignature(j.publicKey, j.data, j.signature)));
  }
}
