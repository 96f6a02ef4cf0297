/** Token buckets per key (an IP address), at most `maxKeys` of them, least recently used forgotten first. Pure. */
import { TokenBucket, type Rate } from './rate.js';

export class KeyedRate {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: Rate,
    private readonly maxKeys: number,
  ) {}

  /** Take one token for `key` if it has one now. */
  take(key: string, now: number): boolean {
    const b = this.buckets.get(key) ?? new TokenBucket(this.rate.perSecond, this.rate.burst, now);
    this.buckets.delete(key);
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return b.take(now);
  }

  /** Keys held. */
  get size(): number {
    return this.buckets.size;
  }
}
