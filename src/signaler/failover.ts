/**
 * Which signaler to try next, and when: the pure rotation decision behind
 * {@link SignalerClient}. No I/O; the clock and the backoff's randomness are injected.
 *
 *   attempt i fails (unreachable, untrusted) ──► i+1 at once, unless that was the last
 *                                                of a whole failed round: then i+1 after
 *                                                an exponential backoff with full jitter
 *   registered at i                          ──► stay; the round and the backoff restart
 *   session at i closes after STABLE_MS      ──► i+1 at once (a dead signaler costs one
 *                                                connect to the next, not a backoff)
 *   session at i closes sooner               ──► counted like a failed attempt, so a
 *                                                signaler that accepts and drops us at
 *                                                once cannot make us reconnect in a loop
 *
 * With a single address "i+1" is the same one: a lost session is retried at once, then
 * with backoff, as before lists existed.
 */
import { Backoff } from '../core/backoff.js';

/** First backoff ceiling after a whole round failed, and the largest one. */
export const FAILOVER_BACKOFF_BASE_MS = 500;
export const FAILOVER_BACKOFF_CAP_MS = 30_000;
/**
 * A session that lasted at least this long ended a good round: the next address is tried
 * at once. A shorter one counts as a failed attempt (see the diagram above).
 */
export const STABLE_SESSION_MS = 10_000;

/** How an attempt at the current address ended. */
export type AttemptOutcome =
  /** Could not connect, TLS failed, or it did not register us. */
  | 'failed'
  /** It did not prove the pinned or trusted id. */
  | 'untrusted'
  /** It registered us (the session is up). */
  | 'registered'
  /** The registered session closed (the signaler died, restarted or dropped us). */
  | 'closed';

/** The next attempt: which address (index into the list) after how long. */
export interface NextAttempt {
  index: number;
  delayMs: number;
}

export class FailoverPlanner {
  private index = 0;
  /** Failed attempts since the last good session; a whole round is `count` of them. */
  private failures = 0;
  private registeredAt: number | null = null;
  private readonly backoff: Backoff;

  /**
   * @param count number of addresses (at least 1)
   * @param now the clock, ms
   * @param random for the jitter, in [0, 1)
   */
  constructor(
    readonly count: number,
    private readonly now: () => number,
    random: () => number = Math.random,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`FailoverPlanner needs at least one address, got ${count}`);
    this.backoff = new Backoff(FAILOVER_BACKOFF_BASE_MS, FAILOVER_BACKOFF_CAP_MS, random);
  }

  /** The address being tried or used now. */
  get current(): number {
    return this.index;
  }

  /** The first attempt: the first address, at once. */
  first(): NextAttempt {
    return { index: this.index, delayMs: 0 };
  }

  /**
   * Record how the attempt at {@link current} ended. Returns the next attempt, or null
   * when there is none to make (`registered`: stay on this one).
   */
  next(outcome: AttemptOutcome): NextAttempt | null {
    switch (outcome) {
      case 'registered':
        this.registeredAt = this.now();
        return null;
      case 'closed': {
        const lasted = this.registeredAt === null ? 0 : this.now() - this.registeredAt;
        this.registeredAt = null;
        if (lasted >= STABLE_SESSION_MS) {
          this.failures = 0;
          this.backoff.reset();
          return this.advance(0);
        }
        return this.failed();
      }
      case 'failed':
      case 'untrusted':
        this.registeredAt = null;
        return this.failed();
    }
  }

  private failed(): NextAttempt {
    this.failures++;
    if (this.failures < this.count) return this.advance(0);
    // A whole round failed: start the next one after a pause.
    this.failures = 0;
    return this.advance(this.backoff.next());
  }

  private advance(delayMs: number): NextAttempt {
    this.index = (this.index + 1) % this.count;
    return { index: this.index, delayMs };
  }
}
