/**
 * The receiver's batch-root signature checks: one Ed25519 verification per distinct
 * (from, root, signature), however many messages of the batch arrive. A verdict (or the
 * check still running) is kept briefly (ROOT_VERDICT_TTL_MS) in a bounded map (at most
 * ROOT_VERDICTS_MAX, oldest out first), so a stranger cannot grow it: each entry costs
 * it a verification. Messages whose root is being checked wait for that one check.
 */
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { rootSigningInput } from './merkle.js';
import type { SignatureVerifier } from './verify-pool.js';
import { ROOT_VERDICTS_MAX, ROOT_VERDICT_TTL_MS } from './limits.js';

interface Verdict {
  at: number;
  ok: boolean | undefined;
  waiters: Array<(ok: boolean) => void>;
}

export class RootVerdicts {
  readonly #entries = new Map<string, Verdict>();

  constructor(
    private readonly verifier: SignatureVerifier,
    private readonly clock: Clock,
    private readonly counters?: Counters,
    private readonly max = ROOT_VERDICTS_MAX,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Calls `done` with whether `signature` by `from` covers `root` (maybe synchronously).
   * False (and `done` never called) when the verifier refused the job (queue full).
   */
  check(from: Uint8Array, root: Uint8Array, signature: Uint8Array, done: (ok: boolean) => void): boolean {
    const key = Buffer.concat([from, root, signature]).toString('latin1');
    const now = this.clock.now();
    const known = this.#entries.get(key);
    if (known && (known.ok === undefined || now - known.at < ROOT_VERDICT_TTL_MS)) {
      this.counters?.inc('chat_root_cached');
      if (known.ok === undefined) known.waiters.push(done);
      else done(known.ok);
      return true;
    }
    const entry: Verdict = { at: now, ok: undefined, waiters: [done] };
    const queued = this.verifier.verify({ publicKey: from, data: rootSigningInput(root), signature }, (ok) => {
      entry.ok = ok;
      const waiters = entry.waiters;
      entry.waiters = [];
      for (const cb of waiters) cb(ok);
    });
    if (!queued) return false;
    this.counters?.inc('chat_root_verified');
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    return true;
  }
}
