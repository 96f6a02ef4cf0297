/**
 * Pure discovery state: which hints to pass on and when we may answer. Time is passed in,
 * so the decisions are exact under test.
 */
import type { NodeId } from '../api.js';
import { TokenBucket } from '../core/rate.js';
import {
  ADDRESS_WINDOW_MS,
  HINT_RATE,
  HINT_REPEAT_MS,
  HINT_WINDOW_MS,
  MAX_HINTS_PER_ID,
  MAX_HINTS_PER_ADDRESS,
  MAX_TRACKED_ADDRESSES,
  MAX_TRACKED_IDS,
  MAX_UNICAST_RESPONSES_PER_S,
  MIN_MULTICAST_RESPONSE_INTERVAL_MS,
} from './limits.js';

/** Bounds of {@link HintLimiter}. */
export interface HintLimits {
  repeatMs: number;
  maxPerId: number;
  windowMs: number;
  maxTrackedIds: number;
}

export const DEFAULT_HINT_LIMITS: HintLimits = {
  repeatMs: HINT_REPEAT_MS,
  maxPerId: MAX_HINTS_PER_ID,
  windowMs: HINT_WINDOW_MS,
  maxTrackedIds: MAX_TRACKED_IDS,
};

interface IdHistory {
  /** Endpoint-set key -> when it was last reported. */
  lastByKey: Map<string, number>;
  /** When hints for this id were reported, within the window. */
  times: number[];
}

/**
 * Rate limit of `onPeer` hints. The same (id, endpoints) is reported at most once per
 * `repeatMs`, and any id at most `maxPerId` times per `windowMs`. The endpoints are part of
 * the key so that a spoofed announcement for an id does not silence the real one for
 * long; the per-id cap bounds what a flood of variants can cost.
 */
export class HintLimiter {
  private readonly ids = new Map<NodeId, IdHistory>();

  constructor(private readonly limits: HintLimits = DEFAULT_HINT_LIMITS) {}

  /** True when a hint for `id` with endpoint-set `key` should be reported now (and records it). */
  admit(id: NodeId, key: string, now: number): boolean {
    if (!this.allows(id, key, now)) return false;
    this.record(id, key, now);
    return true;
  }

  /** Whether {@link admit} would pass, without recording anything. */
  allows(id: NodeId, key: string, now: number): boolean {
    const h = this.ids.get(id);
    if (!h) return true;
    const last = h.lastByKey.get(key);
    if (last !== undefined && now - last < this.limits.repeatMs) return false;
    return h.times.filter((t) => now - t < this.limits.windowMs).length < this.limits.maxPerId;
  }

  /** Records a hint that was passed on. */
  record(id: NodeId, key: string, now: number): void {
    const h = this.touch(id);
    h.times = h.times.filter((t) => now - t < this.limits.windowMs);
    h.times.push(now);
    h.lastByKey.delete(key);
    h.lastByKey.set(key, now);
    // Keys per id are bounded by what the window admits.
    while (h.lastByKey.size > this.limits.maxPerId) h.lastByKey.delete(h.lastByKey.keys().next().value as string);
  }

  /** How many ids are remembered. */
  get size(): number {
    return this.ids.size;
  }

  /** The history of `id`, moved to the most recently used end; the oldest id is forgotten past the cap. */
  private touch(id: NodeId): IdHistory {
    const h = this.ids.get(id) ?? { lastByKey: new Map<string, number>(), times: [] };
    this.ids.delete(id);
    this.ids.set(id, h);
    if (this.ids.size > this.limits.maxTrackedIds) this.ids.delete(this.ids.keys().next().value as NodeId);
    return h;
  }
}

/** The key of an endpoint set: order-independent. */
export function endpointsKey(endpoints: readonly { host: string; port: number }[]): string {
  return endpoints.map((e) => `${e.host}|${e.port}`).sort().join(',');
}

/**
 * When we may answer a query: multicast answers at most once per interval (RFC 6762 §6),
 * unicast (legacy) answers at most a few per second.
 */
export class ResponseLimiter {
  private lastMulticast = Number.NEGATIVE_INFINITY;
  private unicast: number[] = [];

  constructor(
    private readonly multicastIntervalMs: number = MIN_MULTICAST_RESPONSE_INTERVAL_MS,
    private readonly unicastPerSecond: number = MAX_UNICAST_RESPONSES_PER_S,
  ) {}

  /** True when a multicast answer may go out now (and records it). */
  multicast(now: number): boolean {
    if (now - this.lastMulticast < this.multicastIntervalMs) return false;
    this.lastMulticast = now;
    return true;
  }

  /** True when a unicast answer may go out now (and records it). */
  unicastAllowed(now: number): boolean {
    this.unicast = this.unicast.filter((t) => now - t < 1_000);
    if (this.unicast.length >= this.unicastPerSecond) return false;
    this.unicast.push(now);
    return true;
  }
}

/** Bounds of {@link AddressHints}. */
export interface AddressLimits {
  maxHintsPerAddress: number;
  addressWindowMs: number;
  maxTrackedAddresses: number;
}

export const DEFAULT_ADDRESS_LIMITS: AddressLimits = {
  maxHintsPerAddress: MAX_HINTS_PER_ADDRESS,
  addressWindowMs: ADDRESS_WINDOW_MS,
  maxTrackedAddresses: MAX_TRACKED_ADDRESSES,
};

/**
 * When hints naming each IP address were passed on: at most `maxHintsPerAddress` per
 * address within `addressWindowMs`, whatever the ids, so fresh ids cannot aim dial after
 * dial at one victim.
 */
export class AddressHints {
  /** Address -> times of the hints passed on within the window (at most the cap). */
  private readonly byAddress = new Map<string, number[]>();

  constructor(private readonly limits: AddressLimits = DEFAULT_ADDRESS_LIMITS) {}

  /** Whether one more hint may name `address` now (nothing is recorded). */
  allows(address: string, now: number): boolean {
    return this.recent(address, now).length < this.limits.maxHintsPerAddress;
  }

  /** Records a hint naming `address`. */
  record(address: string, now: number): void {
    const times = [...this.recent(address, now), now];
    this.byAddress.delete(address);
    this.byAddress.set(address, times.slice(-this.limits.maxHintsPerAddress));
    while (this.byAddress.size > this.limits.maxTrackedAddresses) this.byAddress.delete(this.byAddress.keys().next().value as string);
  }

  /** How many addresses are remembered. */
  get size(): number {
    return this.byAddress.size;
  }

  /** The hint times of `address` within the window; an address with none is forgotten. */
  private recent(address: string, now: number): number[] {
    const times = (this.byAddress.get(address) ?? []).filter((t) => now - t < this.limits.addressWindowMs);
    if (times.length === 0) this.byAddress.delete(address);
    return times;
  }
}

/** A dialable endpoint of a hint. */
export interface HintEndpoint {
  host: string;
  port: number;
}

/** Why {@link HintGate.admit} refused a hint; counted as `mdns.hints_limited.<reason>`. */
export type HintRefusal = 'address' | 'id' | 'global';

/** What {@link HintGate.admit} decided. */
export type HintVerdict =
  | { ok: true; endpoints: HintEndpoint[]; limitedEndpoints: number }
  | { ok: false; reason: HintRefusal; limitedEndpoints: number };

/** Every bound of {@link HintGate}. */
export interface HintGateLimits extends HintLimits, AddressLimits {
  perSecond: number;
  burst: number;
}

export const DEFAULT_HINT_GATE_LIMITS: HintGateLimits = {
  ...DEFAULT_HINT_LIMITS,
  ...DEFAULT_ADDRESS_LIMITS,
  perSecond: HINT_RATE.perSecond,
  burst: HINT_RATE.burst,
};

/**
 * The one place a hint is admitted, in this order, so a refused hint spends nothing:
 *
 * 1. per address: endpoints at an address already named by `maxHintsPerAddress` hints
 *    within the window are removed ({@link AddressHints}); none left: refused (`address`);
 * 2. per id: {@link HintLimiter} on the remaining endpoints (`id`);
 * 3. global: one token from a bucket shared by all ids (`global`).
 *
 * Only an admitted hint is recorded by 1 and 2.
 */
export class HintGate {
  private readonly ids: HintLimiter;
  private readonly addresses: AddressHints;
  private bucket: TokenBucket | undefined;

  constructor(private readonly limits: HintGateLimits = DEFAULT_HINT_GATE_LIMITS) {
    this.ids = new HintLimiter(limits);
    this.addresses = new AddressHints(limits);
  }

  admit(id: NodeId, endpoints: readonly HintEndpoint[], now: number): HintVerdict {
    const allowed = endpoints.filter((e) => this.addresses.allows(e.host, now));
    const limitedEndpoints = endpoints.length - allowed.length;
    if (allowed.length === 0) return { ok: false, reason: 'address', limitedEndpoints };
    const key = endpointsKey(allowed);
    if (!this.ids.allows(id, key, now)) return { ok: false, reason: 'id', limitedEndpoints };
    this.bucket ??= new TokenBucket(this.limits.perSecond, this.limits.burst, now);
    if (!this.bucket.take(now)) return { ok: false, reason: 'global', limitedEndpoints };
    this.ids.record(id, key, now);
    for (const e of allowed) this.addresses.record(e.host, now);
    return { ok: true, endpoints: allowed, limitedEndpoints };
  }

  /** Ids and addresses remembered (both bounded). */
  get size(): { ids: number; addresses: number } {
    return { ids: this.ids.size, addresses: this.addresses.size };
  }
}
