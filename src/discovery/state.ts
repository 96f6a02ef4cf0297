/**
 * Pure discovery state: which hints to pass on and when we may answer. Time is passed in,
 * so the decisions are exact under test.
 */
import type { NodeId } from '../api.js';
import {
  HINT_REPEAT_MS,
  HINT_WINDOW_MS,
  MAX_HINTS_PER_ID,
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
    const h = this.touch(id);
    h.times = h.times.filter((t) => now - t < this.limits.windowMs);
    const last = h.lastByKey.get(key);
    if (last !== undefined && now - last < this.limits.repeatMs) return false;
    if (h.times.length >= this.limits.maxPerId) return false;
    h.times.push(now);
    h.lastByKey.delete(key);
    h.lastByKey.set(key, now);
    // Keys per id are bounded by what the window admits.
    while (h.lastByKey.size > this.limits.maxPerId) h.lastByKey.delete(h.lastByKey.keys().next().value as string);
    return true;
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
