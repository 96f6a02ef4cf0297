/**
 * The budget of global IPv6 claims (locals.ts) per /64: pure bookkeeping, the caller
 * passes the time. A registration's global IPv6 endpoints are claims the signaler cannot
 * check, and every PUNCH_START that carries them makes the receiving node send SYNs there.
 * However many ids claim addresses in one /64 and however many targets they punch, at most
 * V6_CLAIM_RATE PUNCH_STARTs per second (burst included) carry claims inside it; beyond
 * that the claims are withheld from the PUNCH_START (the IPv4 part of the punch is not
 * affected). A node's address the signaler observed itself is proven, not a claim: never
 * withheld.
 */
import { isGlobalIpv6 } from '../core/ip-scope.js';
import { parseIpv6 } from '../wire/ip-text.js';
import type { Endpoint } from '../wire/index.js';
import { MAX_V6_CLAIM_PREFIXES, V6_CLAIM_RATE } from './limits.js';
import { TokenBucket, type Rate } from '../core/rate.js';

/** The /64 of an IPv6 address as 16 hex digits (the key of the budget). */
export function prefix64(host: string): string {
  return (parseIpv6(host.split('%', 1)[0] ?? '') ?? Buffer.alloc(16)).subarray(0, 8).toString('hex');
}

export class V6ClaimLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: Rate = V6_CLAIM_RATE,
    private readonly maxPrefixes: number = MAX_V6_CLAIM_PREFIXES,
  ) {}

  /**
   * `endpoints` (what localsFor chose for one PUNCH_START) with the global IPv6 claims of
   * each /64 kept only if that /64 has budget left (one token per /64 per PUNCH_START).
   * `observedHost`: the owner's observed address, never a claim.
   */
  pass(endpoints: readonly Endpoint[], observedHost: string, now: number): { endpoints: Endpoint[]; withheld: number } {
    const verdict = new Map<string, boolean>();
    const out: Endpoint[] = [];
    let withheld = 0;
    for (const e of endpoints) {
      if (e.host === observedHost || !isGlobalIpv6(e.host)) {
        out.push(e);
        continue;
      }
      const key = prefix64(e.host);
      let ok = verdict.get(key);
      if (ok === undefined) verdict.set(key, (ok = this.bucket(key, now).take(now)));
      if (ok) out.push(e);
      else withheld++;
    }
    return { endpoints: out, withheld };
  }

  /** Prefixes remembered (for tests). */
  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string, now: number): TokenBucket {
    let b = this.buckets.get(key);
    if (b) {
      // Most recently used last: the first entry is the one to forget.
      this.buckets.delete(key);
    } else {
      b = new TokenBucket(this.rate.perSecond, this.rate.burst, now);
      if (this.buckets.size >= this.maxPrefixes) this.buckets.delete(this.buckets.keys().next().value as string);
    }
    this.buckets.set(key, b);
    return b;
  }
}
