/** Token bucket rate limiter (pure: the caller passes the time). */
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

  /** Take one token if available. */
  take(now: number): boolean {
    if (!this.peek(now)) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether a token is available now (refills, takes nothing). */
  peek(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) / 1000) * this.perSecond);
    this.last = Math.max(this.last, now);
    return this.tokens >= 1;
  }
}
