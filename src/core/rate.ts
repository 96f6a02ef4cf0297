/** A token bucket rate limiter, pure: the caller passes the time. */

/** Rounding slack when comparing a refilled count with one token. */
const TOKEN_EPSILON = 1e-9;

/** Token bucket rate limiter (tokens are requests, or bytes for the relay). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Whether `n` tokens (default one) are available now (nothing is taken). */
  canTake(now: number, n = 1): boolean {
    this.refill(now);
    // Refills add fractions (0.1 token per 50 ms at 2/s); their rounding error must not
    // cost a whole token.
    return this.tokens >= n - TOKEN_EPSILON;
  }

  /** Take `n` tokens (default one) if available. */
  take(now: number, n = 1): boolean {
    if (!this.canTake(now, n)) return false;
    this.tokens = Math.max(0, this.tokens - n);
    return true;
  }

  /** Milliseconds until `n` tokens are available (at least 1). */
  waitMs(now: number, n = 1): number {
    this.refill(now);
    return Math.max(1, Math.ceil(((n - this.tokens) * 1000) / this.perSecond));
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }
}

/** A rate as a number of tokens per second and a burst. */
export interface Rate {
  perSecond: number;
  burst: number;
}
