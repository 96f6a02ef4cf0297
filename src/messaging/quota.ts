/**
 * Quotas on what strangers can make us store: messages and bytes held per stranger and in
 * total (limits in peers/limits.ts). Pure bookkeeping over the store's held index: the
 * messenger reserves before it verifies and stores, commits on success, cancels on
 * failure, so concurrent messages never overshoot. Expiry decides which held messages
 * end their hold: requests nobody answered are deleted, messages taken under
 * `--strangers accept` are released (they stay, they just stop counting).
 */
import type { NodeId } from '../api.js';
import type { HeldMessage } from '../store/types.js';
import {
  ACCEPTED_HOLD_MS,
  MAX_HELD_BYTES_PER_STRANGER,
  MAX_HELD_BYTES_TOTAL,
  MAX_HELD_PER_STRANGER,
  MAX_HELD_TOTAL,
  REQUEST_TTL_MS,
} from '../peers/limits.js';

/** Limits of a {@link HeldQuota}; defaults from peers/limits.ts. */
export interface HeldLimits {
  perStranger: number;
  bytesPerStranger: number;
  total: number;
  bytesTotal: number;
  requestTtlMs: number;
  acceptedHoldMs: number;
}

export const DEFAULT_HELD_LIMITS: HeldLimits = {
  perStranger: MAX_HELD_PER_STRANGER,
  bytesPerStranger: MAX_HELD_BYTES_PER_STRANGER,
  total: MAX_HELD_TOTAL,
  bytesTotal: MAX_HELD_BYTES_TOTAL,
  requestTtlMs: REQUEST_TTL_MS,
  acceptedHoldMs: ACCEPTED_HOLD_MS,
};

/** Which quota a message would exceed. */
export type QuotaRefusal = 'per_stranger' | 'bytes_per_stranger' | 'total' | 'bytes_total';

interface Usage {
  count: number;
  bytes: number;
}

export class HeldQuota {
  readonly limits: HeldLimits;
  private readonly byPeer = new Map<NodeId, Usage>();
  private readonly held = new Map<string, HeldMessage>();
  private total: Usage = { count: 0, bytes: 0 };

  constructor(existing: readonly HeldMessage[] = [], limits: Partial<HeldLimits> = {}) {
    this.limits = { ...DEFAULT_HELD_LIMITS, ...limits };
    for (const h of existing) this.commit(h);
  }

  /** Reserves room for one message of `bytes` from `peer`: null, or the quota it exceeds. */
  reserve(peer: NodeId, bytes: number): QuotaRefusal | null {
    const u = this.byPeer.get(peer) ?? { count: 0, bytes: 0 };
    const l = this.limits;
    if (u.count + 1 > l.perStranger) return 'per_stranger';
    if (u.bytes + bytes > l.bytesPerStranger) return 'bytes_per_stranger';
    if (this.total.count + 1 > l.total) return 'total';
    if (this.total.bytes + bytes > l.bytesTotal) return 'bytes_total';
    this.add(peer, 1, bytes);
    return null;
  }

  /** A reservation that was not stored after all (duplicate, store failure). */
  cancel(peer: NodeId, bytes: number): void {
    this.add(peer, -1, -bytes);
  }

  /** A reservation became a stored held message. */
  confirm(h: HeldMessage): void {
    this.held.set(h.id, { ...h });
  }

  /** Held messages of `peer` (all of them when undefined), oldest first. */
  list(peer?: NodeId): HeldMessage[] {
    return [...this.held.values()].filter((h) => peer === undefined || h.peer === peer).map((h) => ({ ...h }));
  }

  /** Forget held messages (accepted, deleted or released in the store). */
  forget(ids: readonly string[]): void {
    for (const id of ids) {
      const h = this.held.get(id);
      if (!h) continue;
      this.held.delete(id);
      this.add(h.peer, -1, -h.bytes);
    }
  }

  /** Usage of one stranger, or in total. */
  usage(peer?: NodeId): Usage {
    return { ...(peer === undefined ? this.total : (this.byPeer.get(peer) ?? { count: 0, bytes: 0 })) };
  }

  /** Held messages whose hold ends at `now`: requests past their TTL (delete), others past the hold (release). */
  expired(now: number): { remove: string[]; release: string[] } {
    const remove: string[] = [];
    const release: string[] = [];
    for (const h of this.held.values()) {
      if (h.request && now - h.at >= this.limits.requestTtlMs) remove.push(h.id);
      else if (!h.request && now - h.at >= this.limits.acceptedHoldMs) release.push(h.id);
    }
    return { remove, release };
  }

  private commit(h: HeldMessage): void {
    this.add(h.peer, 1, h.bytes);
    this.confirm(h);
  }

  private add(peer: NodeId, count: number, bytes: number): void {
    const u = this.byPeer.get(peer) ?? { count: 0, bytes: 0 };
    u.count += count;
    u.bytes += bytes;
    if (u.count <= 0) this.byPeer.delete(peer);
    else this.byPeer.set(peer, u);
    this.total = { count: this.total.count + count, bytes: this.total.bytes + bytes };
  }
}
