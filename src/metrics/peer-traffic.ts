/**
 * Session bytes per peer with a bounded label set, for `sentinel_peer_bytes_*_total`.
 *
 * Labels: a contact gets `peer="<its id>"` while it holds one of `slots` label slots;
 * other contacts are counted under `peer="other"`, strangers and blocked peers under
 * `peer="stranger"`. Why contacts only: a contact is a peer the operator chose, so its id
 * means something on a dashboard, and there are few of them; strangers are anyone who
 * connects, so their ids would let a stranger mint label values (series in the operator's
 * Prometheus) at will.
 *
 * Every counter only grows: bytes are attributed to a series when they flow and never moved
 * between series. A slot is reused only when its contact has no live session (the
 * least recently active one); from then on the new contact's bytes go to its own series
 * and the old series simply ends. Sessions report cumulative bytes; we fold their deltas
 * at each scrape and when a session ends, so nothing is lost between scrapes. Memory is
 * bounded by the live sessions plus `slots` rows. Pure apart from the sessions it reads.
 */
import type { NodeId } from '../api.js';

/** What is read from a session: cumulative bytes, and whether it has ended. */
export interface TrafficSession {
  readonly peerId: NodeId;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly isClosed: boolean;
  /** `relay` when the session runs through a relay, else direct. */
  readonly method: string;
}

export type TrustOf = (peer: NodeId) => 'contact' | 'stranger' | 'blocked';

/** One series: bytes received from and sent to the peer(s) it stands for. */
export interface TrafficRow {
  peer: string;
  bytesIn: number;
  bytesOut: number;
}

export const OTHER = 'other';
export const STRANGER = 'stranger';

interface Seen {
  bytesIn: number;
  bytesOut: number;
}

interface Slot extends TrafficRow {
  lastActive: number;
}

export class PeerTraffic {
  private readonly seen = new Map<TrafficSession, Seen>();
  private readonly slots = new Map<NodeId, Slot>();
  private readonly buckets = new Map<string, TrafficRow>([
    [OTHER, { peer: OTHER, bytesIn: 0, bytesOut: 0 }],
    [STRANGER, { peer: STRANGER, bytesIn: 0, bytesOut: 0 }],
  ]);
  /** Bytes by path (`direct`, `relay`): the relay client side of `sentinel_session_bytes_total`. */
  private readonly paths = new Map<'direct' | 'relay', Seen>([
    ['direct', { bytesIn: 0, bytesOut: 0 }],
    ['relay', { bytesIn: 0, bytesOut: 0 }],
  ]);
  private tick = 0;

  constructor(
    private readonly trustOf: TrustOf,
    private readonly maxSlots: number,
  ) {}

  /** A session came up (lifecycle hook). */
  onSessionUp(s: TrafficSession): void {
    this.seen.set(s, { bytesIn: 0, bytesOut: 0 });
    this.fold();
  }

  /** A session went down (lifecycle hook): its last bytes are folded in and it is forgotten. */
  onSessionDown(): void {
    this.fold();
  }

  /** One row per labelled contact, then `other` and `stranger` (always present). */
  rows(): TrafficRow[] {
    this.fold();
    const out = [...this.slots.values()].map(({ peer, bytesIn, bytesOut }) => ({ peer, bytesIn, bytesOut }));
    return [...out, ...[...this.buckets.values()].map((r) => ({ ...r }))];
  }

  /** Bytes by path, all peers. */
  byPath(): Array<{ path: 'direct' | 'relay'; bytesIn: number; bytesOut: number }> {
    this.fold();
    return [...this.paths.entries()].map(([path, v]) => ({ path, ...v }));
  }

  private fold(): void {
    this.tick++;
    for (const [s, last] of this.seen) {
      const dIn = s.bytesIn - last.bytesIn;
      const dOut = s.bytesOut - last.bytesOut;
      if (dIn > 0 || dOut > 0) {
        const row = this.rowFor(s.peerId);
        row.bytesIn += dIn;
        row.bytesOut += dOut;
        const path = this.paths.get(s.method === 'relay' ? 'relay' : 'direct') as Seen;
        path.bytesIn += dIn;
        path.bytesOut += dOut;
        last.bytesIn = s.bytesIn;
        last.bytesOut = s.bytesOut;
      }
      if (s.isClosed) this.seen.delete(s);
    }
  }

  private rowFor(peer: NodeId): TrafficRow {
    const held = this.slots.get(peer);
    if (held) {
      held.lastActive = this.tick;
      return held;
    }
    if (this.trustOf(peer) !== 'contact') return this.buckets.get(STRANGER) as TrafficRow;
    if (this.slots.size >= this.maxSlots && !this.freeSlot()) return this.buckets.get(OTHER) as TrafficRow;
    const slot: Slot = { peer, bytesIn: 0, bytesOut: 0, lastActive: this.tick };
    this.slots.set(peer, slot);
    return slot;
  }

  /** Frees the least recently active slot whose contact has no live session; false when none. */
  private freeSlot(): boolean {
    const live = new Set([...this.seen.keys()].filter((s) => !s.isClosed).map((s) => s.peerId));
    let victim: Slot | undefined;
    for (const slot of this.slots.values()) {
      if (live.has(slot.peer)) continue;
      if (!victim || slot.lastActive < victim.lastActive) victim = slot;
    }
    if (!victim) return false;
    this.slots.delete(victim.peer);
    return true;
  }
}
