/**
 * The signaler client's outstanding requests: each has a request id, waits for the answer
 * frame that carries that id, and fails on its own after a timeout. Pure apart from the
 * injected clock, so a test drives it without a signaler.
 */
import { SentinelError } from '../errors.js';
import type { Clock } from '../transport/index.js';

interface Waiting<A> {
  resolve: (v: A) => void;
  reject: (e: Error) => void;
  timer: unknown;
}

export class PendingRequests<A> {
  private readonly waiting = new Map<number, Waiting<A>>();
  private nextId = 1;

  constructor(private readonly clock: Clock) {}

  /**
   * Starts a request: `send` gets its id and puts it on the wire. The promise settles with
   * the answer, or rejects with E_DIAL_FAILED after `timeoutMs`.
   */
  start<T extends A>(timeoutMs: number, send: (reqId: number) => void): Promise<T> {
    const reqId = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiting.delete(reqId);
        reject(new SentinelError('E_DIAL_FAILED', 'signaler did not answer in time'));
      }, timeoutMs);
      this.waiting.set(reqId, { resolve: resolve as (v: A) => void, reject, timer });
      send(reqId);
    });
  }

  /** The answer to `reqId` arrived; false when nothing waits for it (late or unknown). */
  settle(reqId: number, value: A): boolean {
    return this.take(reqId, (w) => w.resolve(value));
  }

  /** `reqId` was refused; false when nothing waits for it. */
  fail(reqId: number, err: Error): boolean {
    return this.take(reqId, (w) => w.reject(err));
  }

  /** Every outstanding request fails with `err` (the session closed). */
  failAll(err: Error): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, err);
  }

  private take(reqId: number, then: (w: Waiting<A>) => void): boolean {
    const w = this.waiting.get(reqId);
    if (!w) return false;
    this.waiting.delete(reqId);
    this.clock.clearTimeout(w.timer);
    then(w);
    return true;
  }
}
