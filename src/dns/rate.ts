/**
 * Per-source and total query rates of the DNS responder. Pure: the caller passes the time.
 * At most `maxSources` source addresses are tracked (core/lru-rate.ts); the least recently
 * seen one is forgotten first (it starts again with a full burst, which a flood of new
 * sources cannot exploit past the total rate).
 */
import { KeyedRate } from '../core/lru-rate.js';
import { TokenBucket, type Rate } from '../core/rate.js';

/** Why a query was not admitted. */
export type RateRefusal = 'source' | 'total';

export class QueryRateLimiter {
  private readonly sources: KeyedRate;
  private readonly total: TokenBucket;

  constructor(perSource: Rate, total: Rate, maxSources: number, now: number) {
    this.sources = new KeyedRate(perSource, maxSources);
    this.total = new TokenBucket(total.perSecond, total.burst, now);
  }

  /** Admits one query from `source` now, or says which limit refused it. */
  admit(source: string, now: number): RateRefusal | null {
    if (!this.sources.take(source, now)) return 'source';
    if (!this.total.take(now)) return 'total';
    return null;
  }

  /** Source addresses tracked now (at most `maxSources`). */
  get tracked(): number {
    return this.sources.size;
  }
}
