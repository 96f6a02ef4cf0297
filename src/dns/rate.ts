/**
 * Per-source and total query rates of the DNS responder. Pure: the caller passes the time.
 * At most `maxSources` source addresses are tracked; the least recently seen one is
 * forgotten first (it starts again with a full burst, which a flood of new sources cannot
 * exploit past the total rate).
 */
import { TokenBucket, type Rate } from '../core/rate.js';

/** Why a query was not admitted. */
export type RateRefusal = 'source' | 'total';

export class QueryRateLimiter {
  private readonly sources = new Map<string, TokenBucket>();
  private readonly total: TokenBucket;

  constructor(
    private readonly perSource: Rate,
    total: Rate,
    private readonly maxSources: number,
    now: number,
  ) {
    this.total = new TokenBucket(total.perSecond, total.burst, now);
  }

  /** Admits one query from `source` now, or says which limit refused it. */
  admit(source: string, now: number): RateRefusal | null {
    let bucket = this.sources.get(source);
    if (bucket) this.sources.delete(source);
    else bucket = new TokenBucket(this.perSource.perSecond, this.perSource.burst, now);
    // Re-inserted: the map's order is least recently seen first.
    this.sources.set(source, bucket);
    if (this.sources.size > this.maxSources) this.sources.delete(this.sources.keys().next().value as string);
    if (!bucket.take(now)) return 'source';
    if (!this.total.take(now)) return 'total';
    return null;
  }

  /** Source addresses tracked now (at most `maxSources`). */
  get tracked(): number {
    return this.sources.size;
  }
}
