/** The signaler's limits on punch coordination (pure: the caller passes the time). */
import type { NodeId } from '../api.js';
import { TokenBucket, type Rate } from '../core/rate.js';
import { MAX_PUNCH_IPS_PER_TARGET, MAX_PUNCH_PAIRS, PUNCH_PAIR_INTERVAL_MS, PUNCH_TARGET_IP_RATE, PUNCH_TARGET_RATE } from './limits.js';

/** Bounds of {@link PunchLimiter}. */
export interface PunchLimits {
  target: Rate;
  targetIp: Rate;
  pairIntervalMs: number;
  maxPairs: number;
  maxIpsPerTarget: number;
}

export const DEFAULT_PUNCH_LIMITS: PunchLimits = {
  target: PUNCH_TARGET_RATE,
  targetIp: PUNCH_TARGET_IP_RATE,
  pairIntervalMs: PUNCH_PAIR_INTERVAL_MS,
  maxPairs: MAX_PUNCH_PAIRS,
  maxIpsPerTarget: MAX_PUNCH_IPS_PER_TARGET,
};

/** Why a punch was refused; counted as `rate_limited.punch_<reason>`. */
export type PunchRefusal = 'pair' | 'target_ip' | 'target';

interface TargetState {
  total: TokenBucket;
  /** Requester public IP -> its bucket for this target, least recently used first. */
  byIp: Map<string, TokenBucket>;
}

/**
 * Which punch requests the signaler coordinates. In this order, so a refusal spends
 * nothing: one per (requester, target) per `pairIntervalMs`; a bucket per (target,
 * requester public IP); a bucket per target. Memory is bounded: pairs by `maxPairs`,
 * addresses per target by `maxIpsPerTarget`, targets by the registrations (call
 * {@link forget} when a target unregisters).
 */
export class PunchLimiter {
  private readonly pairs = new Map<string, number>();
  private readonly targets = new Map<NodeId, TargetState>();

  constructor(private readonly limits: PunchLimits = DEFAULT_PUNCH_LIMITS) {}

  /** Null when `requester` (at public address `requesterIp`) may have a punch with `target` now (and records it). */
  admit(requester: NodeId, requesterIp: string, target: NodeId, now: number): PunchRefusal | null {
    const pair = `${requester}|${target}`;
    const last = this.pairs.get(pair);
    if (last !== undefined && now - last < this.limits.pairIntervalMs) return 'pair';
    const t = this.target(target, now);
    const ip = t.byIp.get(requesterIp) ?? new TokenBucket(this.limits.targetIp.perSecond, this.limits.targetIp.burst, now);
    if (!ip.canTake(now)) return 'target_ip';
    if (!t.total.take(now)) return 'target';
    ip.take(now);
    t.byIp.delete(requesterIp);
    t.byIp.set(requesterIp, ip);
    while (t.byIp.size > this.limits.maxIpsPerTarget) t.byIp.delete(t.byIp.keys().next().value as string);
    this.pairs.delete(pair);
    this.pairs.set(pair, now);
    while (this.pairs.size > this.limits.maxPairs) this.pairs.delete(this.pairs.keys().next().value as string);
    return null;
  }

  /** Drops what is known about `target` (it unregistered). */
  forget(target: NodeId): void {
    this.targets.delete(target);
  }

  /** Entries held, for tests and status. */
  get size(): { pairs: number; targets: number; ips: number } {
    let ips = 0;
    for (const t of this.targets.values()) ips += t.byIp.size;
    return { pairs: this.pairs.size, targets: this.targets.size, ips };
  }

  private target(id: NodeId, now: number): TargetState {
    let t = this.targets.get(id);
    if (!t) this.targets.set(id, (t = { total: new TokenBucket(this.limits.target.perSecond, this.limits.target.burst, now), byIp: new Map() }));
    return t;
  }
}
