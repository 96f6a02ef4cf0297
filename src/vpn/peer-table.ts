/**
 * The router's table peer id <-> VPN addresses.
 *
 * Every node's addresses are derived from its id, and an allowed peer's derived addresses
 * are reserved for it (`reservedFor`): nobody else may claim them (with --vpn-ip), even
 * while their owner is offline, and an owner claiming its own derived address takes it
 * back from whoever held it. Other addresses are first come first served.
 *
 * A claim is refused when an address is outside the VPN prefixes, is one of our own
 * addresses, is reserved for another peer, or is already held by another peer (its IPv4
 * or, far less likely, its IPv6). A refused claim also removes the claimant's previous
 * addresses: the peer has moved to addresses it may not use, so traffic from its old ones
 * would be stale. The refusal is kept (one per claimant) until the claimant is set
 * successfully or removed.
 */
import type { NodeId } from '../api.js';
import { canonicalVpnAddresses } from './addressing.js';
import type { VpnAddresses } from './types.js';

/** An address a peer claimed while another holder had it. */
export interface PeerCollision {
  reason: 'collision';
  /** The peer whose claim was refused. */
  claimant: NodeId;
  /** The contested address (canonical text). */
  address: string;
  /** Who holds it: another peer, or `'self'` for our own address. */
  holder: NodeId | 'self';
}

/** Addresses that are not a usable VPN IPv4 and IPv6 (outside the prefixes, or not addresses). */
export interface InvalidClaim {
  reason: 'invalid_address';
  claimant: NodeId;
  /** The addresses as claimed. */
  ipv4: string;
  ipv6: string;
}

/** Why {@link PeerTable.set} refused a claim. */
export type PeerRefusal = PeerCollision | InvalidClaim;

/** Bidirectional map with collision refusal. */
export class PeerTable {
  private readonly byPeer = new Map<NodeId, VpnAddresses>();
  private readonly byAddress = new Map<string, NodeId>();
  private readonly refused = new Map<NodeId, PeerCollision>();
  private refusedTotal = 0;

  /**
   * `self` must already be canonical. `reservedFor(address)`: the peer an address is
   * reserved for (an allowed peer's derived address), if any.
   */
  constructor(
    private readonly self: VpnAddresses,
    private readonly reservedFor: (address: string) => NodeId | undefined = () => undefined,
  ) {}

  /** Sets (or replaces) the addresses of `peer`: null if accepted, else why not. Never throws. */
  set(peer: NodeId, addrs: VpnAddresses): PeerRefusal | null {
    const canonical = canonicalVpnAddresses(addrs);
    this.remove(peer);
    if (!canonical) return { reason: 'invalid_address', claimant: peer, ipv4: addrs.ipv4, ipv6: addrs.ipv6 };
    for (const address of [canonical.ipv4, canonical.ipv6]) {
      const owner = this.reservedFor(address);
      const holder = owner !== undefined && owner !== peer ? owner : this.holderOf(address);
      if (holder === undefined || holder === peer) continue;
      if (owner === peer && holder !== 'self') {
        // Its own derived address, held by someone else's claim: the owner takes it back.
        this.remove(holder);
        this.refuse({ reason: 'collision', claimant: holder, address, holder: peer });
        continue;
      }
      return this.refuse({ reason: 'collision', claimant: peer, address, holder });
    }
    this.byPeer.set(peer, canonical);
    this.byAddress.set(canonical.ipv4, peer);
    this.byAddress.set(canonical.ipv6, peer);
    return null;
  }

  /** Forgets `peer`'s addresses and any refused claim of it. */
  remove(peer: NodeId): void {
    this.refused.delete(peer);
    const old = this.byPeer.get(peer);
    if (!old) return;
    this.byPeer.delete(peer);
    this.byAddress.delete(old.ipv4);
    this.byAddress.delete(old.ipv6);
  }

  /** The peer holding `address` (canonical text). */
  peerAt(address: string): NodeId | undefined {
    return this.byAddress.get(address);
  }

  /** The addresses `peer` holds. */
  addressesOf(peer: NodeId): VpnAddresses | undefined {
    return this.byPeer.get(peer);
  }

  /** Currently refused claims, one per claimant. */
  collisions(): PeerCollision[] {
    return [...this.refused.values()].map((c) => ({ ...c }));
  }

  /** How many claims have been refused for a collision since the table was created. */
  get collisionsRefused(): number {
    return this.refusedTotal;
  }

  private refuse(collision: PeerCollision): PeerCollision {
    this.refused.set(collision.claimant, collision);
    this.refusedTotal += 1;
    return { ...collision };
  }

  private holderOf(address: string): NodeId | 'self' | undefined {
    if (address === this.self.ipv4 || address === this.self.ipv6) return 'self';
    return this.byAddress.get(address);
  }
}
