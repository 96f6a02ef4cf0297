/**
 * VPN contracts shared by the TUN devices (native and in-memory), the router and the node.
 */
import type { NodeId } from '../api.js';
import type { VnetHeader } from './offload.js';

/**
 * A layer-3 TUN device: whole IPv4/IPv6 packets, no extra header (IFF_TUN | IFF_NO_PI).
 * An offload device (`offload` true) also reads and writes TCP super-segments with their
 * virtio_net_hdr (see offload.ts), passed beside the packets.
 */
export interface TunDevice {
  readonly name: string;
  readonly mtu: number;
  /** True when the device reads and writes super-segments (TUN offloads on). */
  readonly offload?: boolean;
  /**
   * Deliver packets read from the device (sent by local programs), in batches. Set once;
   * reading starts when a handler is set. Each Buffer is one whole IP packet, owned by the
   * handler. An offload device also passes each packet's header as read (`vnet[i]`,
   * undefined for a plain one); a header may ask for a checksum or segmentation.
   */
  onPackets(handler: (packets: Buffer[], vnet?: readonly (VnetHeader | undefined)[]) => void): void;
  /**
   * Write packets to the device (delivered to local programs). Never throws for one bad
   * packet. `vnet` (offload devices only) gives checked super-segments their header.
   */
  write(packets: readonly Buffer[], vnet?: readonly (VnetHeader | undefined)[]): void;
  /** Stop reading and release the device (the kernel removes the interface). Idempotent. */
  close(): Promise<void>;
}

/** A node's two VPN addresses. */
export interface VpnAddresses {
  /** Dotted IPv4 in 100.64.0.0/10. */
  ipv4: string;
  /** IPv6 in Sentinel's ULA prefix (see addressing.ts). */
  ipv6: string;
}

/** Why a packet was dropped (counters are keyed by these). */
export type DropReason =
  | 'malformed' // not a well-formed IPv4/IPv6 packet
  | 'no_route' // destination is no known peer's VPN address
  | 'not_connected' // the peer for that address has no session
  | 'not_allowed' // the peer is not on the allow-list (either direction)
  | 'spoofed' // arrived from peer P with a source address that is not P's
  | 'not_for_us' // arrived from a peer with a destination that is not our address
  | 'too_big' // larger than the MTU
  | 'queue_delay' // dropped on purpose: the queue between the nodes stayed above its delay target (aqm.ts)
  | 'bad_gso' // a super-segment whose GSO metadata does not match its headers or the MTU
  | 'vpn_disabled'; // a PACKETS frame reached a node that runs no VPN

/** Per-peer traffic counters, as shown in `status --json`. */
export interface PeerTraffic {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  drops: Partial<Record<DropReason, number>>;
}

/** What the router needs from the rest of the node. */
export interface RouterEnv {
  /** Our own addresses. */
  self: VpnAddresses;
  /**
   * Send a batch of packets to a peer over its session; false if there is no session.
   * `vnet` (only when {@link takesGso} said yes) holds each super-segment's metadata.
   */
  sendToPeer(peer: NodeId, packets: readonly Buffer[], vnet?: readonly (VnetHeader | undefined)[]): boolean;
  /** Does this peer take super-segments (PACKETS_GSO)? Default: no, they are segmented here. */
  takesGso?(peer: NodeId): boolean;
  /** Counts an offload event (e.g. 'vpn.gso.sent'). */
  count?(name: string, by?: number): void;
  /** Is this peer allowed to exchange VPN traffic? */
  isAllowed(peer: NodeId): boolean;
}
