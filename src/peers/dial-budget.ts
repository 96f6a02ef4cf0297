/**
 * The budget of automatic dials to strangers: connections this node opens on its own
 * (mDNS hints, gossip-learned addresses, redials to keep --min-peers) towards peers the
 * user did not choose. Anyone can announce any id at any address, so without a budget a
 * stranger could make this node flood a third party. Three limits, all named in limits.ts:
 * dials in flight, a node-wide rate, and a rate per destination IP whatever the ids.
 * Dials the user asks for, and redials of contacts, do not use this budget.
 * Pure: time is passed in.
 */
import { TokenBucket } from '../core/rate.js';
import { MAX_STRANGER_DIALS_IN_FLIGHT, MAX_TRACKED_DIAL_HOSTS, STRANGER_DIALS_PER_HOST, STRANGER_DIAL_RATE } from './limits.js';

/** Why {@link DialBudget.take} refused. */
export type DialRefusal = 'in_flight' | 'rate' | 'host_rate';

/** Limits of a {@link DialBudget}; defaults from limits.ts. */
export interface DialBudgetLimits {
  maxInFlight: number;
  rate: { perSecond: number; burst: number };
  perHost: { perSecond: number; burst: number };
  maxTrackedHosts: number;
}

export const DEFAULT_DIAL_BUDGET: DialBudgetLimits = {
  maxInFlight: MAX_STRANGER_DIALS_IN_FLIGHT,
  rate: STRANGER_DIAL_RATE,
  perHost: STRANGER_DIALS_PER_HOST,
  maxTrackedHosts: MAX_TRACKED_DIAL_HOSTS,
};

/** A granted dial: call `release` exactly once when the attempt ends (either way). */
export interface DialTicket {
  release(): void;
}

export class DialBudget {
  private inFlight = 0;
  private readonly global: TokenBucket;
  private readonly hosts = new Map<string, TokenBucket>();
  private readonly limits: DialBudgetLimits;

  constructor(now: number, limits: Partial<DialBudgetLimits> = {}) {
    this.limits = { ...DEFAULT_DIAL_BUDGET, ...limits };
    this.global = new TokenBucket(this.limits.rate.perSecond, this.limits.rate.burst, now);
  }

  /** Dials in flight now. */
  get active(): number {
    return this.inFlight;
  }

  /** Asks to dial a stranger at `host` (an IP) now: a ticket, or why not. */
  take(host: string, now: number): DialTicket | DialRefusal {
    if (this.inFlight >= this.limits.maxInFlight) return 'in_flight';
    const bucket = this.hostBucket(host, now);
    // Check the host first: a refused host must not use up the node-wide rate.
    if (!bucket.canTake(now)) return 'host_rate';
    if (!this.global.take(now)) return 'rate';
    bucket.take(now);
    this.inFlight++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
      },
    };
  }

  private hostBucket(host: string, now: number): TokenBucket {
    let b = this.hosts.get(host);
    if (b) {
      this.hosts.delete(host);
    } else {
      b = new TokenBucket(this.limits.perHost.perSecond, this.limits.perHost.burst, now);
      if (this.hosts.size >= this.limits.maxTrackedHosts) this.hosts.delete(this.hosts.keys().next().value as string);
    }
    this.hosts.set(host, b);
    return b;
  }
}
