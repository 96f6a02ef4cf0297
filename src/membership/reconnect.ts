/**
 * When to redial peers: after a session is lost, retry with exponential backoff and full
 * jitter; keep at least `minPeers` sessions by dialing known peers. Pure: the caller passes
 * the time and does the dialing; randomness is injected.
 */
import type { NodeId } from '../api.js';
import { Backoff } from '../core/backoff.js';

/** First retry after a loss waits up to this long; each failure doubles it... */
export const RECONNECT_BASE_MS = 1_000;
/** ...up to this cap. */
export const RECONNECT_CAP_MS = 60_000;
/** How often the node checks for due retries and the minimum peer count. */
export const MAINTAIN_INTERVAL_MS = 1_000;
/** Default for --min-peers. */
export const DEFAULT_MIN_PEERS = 3;
/** Peers with a pending retry, at most (the oldest is given up first): bounded whatever gossip brings. */
export const MAX_RETRY_ENTRIES = 1_024;

interface Entry {
  backoff: Backoff;
  at: number;
  inFlight: boolean;
}

export class ReconnectPlanner {
  private readonly entries = new Map<NodeId, Entry>();

  constructor(private readonly random: () => number = Math.random) {}

  /** A session with `peer` went down: schedule a retry. */
  lost(peer: NodeId, now: number): void {
    const backoff = new Backoff(RECONNECT_BASE_MS, RECONNECT_CAP_MS, this.random);
    this.put(peer, { backoff, at: now + backoff.next(), inFlight: false });
  }

  /** A dial attempt failed: back off further. */
  failed(peer: NodeId, now: number): void {
    const e = this.entries.get(peer) ?? { backoff: new Backoff(RECONNECT_BASE_MS, RECONNECT_CAP_MS, this.random), at: now, inFlight: false };
    e.at = now + e.backoff.next();
    e.inFlight = false;
    this.put(peer, e);
  }

  /** How many peers have a retry pending. */
  get size(): number {
    return this.entries.size;
  }

  private put(peer: NodeId, e: Entry): void {
    if (!this.entries.has(peer) && this.entries.size >= MAX_RETRY_ENTRIES) this.entries.delete(this.entries.keys().next().value as NodeId);
    this.entries.set(peer, e);
  }

  /** Connected (by any means) or given up on: stop retrying. */
  forget(peer: NodeId): void {
    this.entries.delete(peer);
  }

  /** Is `peer` waiting for its next retry (so min-peers should not dial it now)? */
  backingOff(peer: NodeId, now: number): boolean {
    const e = this.entries.get(peer);
    return e !== undefined && (e.inFlight || e.at > now);
  }

  /** Peers whose retry is due; they are marked in flight until failed() or forget(). */
  due(now: number): NodeId[] {
    const out: NodeId[] = [];
    for (const [peer, e] of this.entries) {
      if (e.inFlight || e.at > now) continue;
      e.inFlight = true;
      out.push(peer);
    }
    return out;
  }

  /**
   * Known peers to dial so that at least `minPeers` sessions exist: not connected, not
   * backing off; contacts first, then most recently seen first.
   */
  toFill(known: ReadonlyArray<{ id: NodeId; lastSeen: number | null; dialable: boolean; contact?: boolean }>, connected: ReadonlySet<NodeId>, minPeers: number, now: number): NodeId[] {
    const missing = minPeers - connected.size;
    if (missing <= 0) return [];
    return known
      .filter((k) => k.dialable && !connected.has(k.id) && !this.backingOff(k.id, now))
      .sort((a, b) => Number(b.contact === true) - Number(a.contact === true) || (b.lastSeen ?? 0) - (a.lastSeen ?? 0))
      .slice(0, missing)
      .map((k) => k.id);
  }
}
