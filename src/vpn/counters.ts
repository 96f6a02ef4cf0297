/**
 * Traffic and drop counters of the VPN router: per peer (PeerTraffic) and global.
 *
 * The global drop counters count every drop, including those also counted for a peer,
 * so they are always at least the sum of the per-peer ones.
 */
import type { NodeId } from '../api.js';
import type { DropReason, PeerTraffic } from './types.js';

/** Counting helper owned by one router. */
export class TrafficCounters {
  private readonly peers = new Map<NodeId, PeerTraffic>();
  private readonly global: Partial<Record<DropReason, number>> = {};

  /** Counts `count` packets dropped for `reason`, also for `peer` when it is known. */
  drop(reason: DropReason, count = 1, peer?: NodeId): void {
    if (count <= 0) return;
    this.global[reason] = (this.global[reason] ?? 0) + count;
    if (peer === undefined) return;
    const drops = this.of(peer).drops;
    drops[reason] = (drops[reason] ?? 0) + count;
  }

  /** Counts packets handed to `peer`'s session. */
  sent(peer: NodeId, packets: readonly Buffer[]): void {
    const t = this.of(peer);
    t.packetsOut += packets.length;
    t.bytesOut += totalBytes(packets);
  }

  /** Counts one packet from `peer` delivered to the TUN. */
  received(peer: NodeId, bytes: number): void {
    const t = this.of(peer);
    t.packetsIn += 1;
    t.bytesIn += bytes;
  }

  /** Drops `peer`'s counters (the global drop counters keep their totals). */
  forget(peer: NodeId): void {
    this.peers.delete(peer);
  }

  /** A snapshot of every peer's counters. */
  traffic(): Record<NodeId, PeerTraffic> {
    const out: Record<NodeId, PeerTraffic> = {};
    for (const [peer, t] of this.peers) out[peer] = { ...t, drops: { ...t.drops } };
    return out;
  }

  /** A snapshot of the global drop counters. */
  drops(): Partial<Record<DropReason, number>> {
    return { ...this.global };
  }

  private of(peer: NodeId): PeerTraffic {
    let t = this.peers.get(peer);
    if (!t) {
      t = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, drops: {} };
      this.peers.set(peer, t);
    }
    return t;
  }
}

function totalBytes(packets: readonly Buffer[]): number {
  let n = 0;
  for (const p of packets) n += p.length;
  return n;
}
