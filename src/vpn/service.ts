/**
 * The VPN as the node runs it: the TUN device and router, the allow-list, and the two VPN
 * frames on peer sessions (VPN_ADDR announces our addresses at session start; PACKETS
 * carries IP packets in batches). Built by the composition root; without a TUN (VPN off
 * or unavailable) it still answers allow/deny and counts stray PACKETS frames.
 */
import type { NodeId, VpnStatus } from '../api.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import {
  FrameType,
  HELLO_FLAG_GSO,
  decodePackets,
  decodePacketsGso,
  decodeDgramOffer,
  decodeVpnAddr,
  encodePacketBatches,
  encodePacketsGsoBatches,
  encodeVpnAddr,
} from '../wire/index.js';
import { canonicalVpnAddresses, vpnAddressesOf } from './addressing.js';
import type { AllowList } from './allow-list.js';
import { VpnRouter } from './router.js';
import type { VnetHeader } from './offload.js';
import { DatagramService, type DatagramChannel, type DatagramServiceOptions } from './datagram-service.js';
import { VpnSendQueue } from './send-queue.js';
import type { TunDevice, VpnAddresses } from './types.js';

/** A session as the VPN needs it (the datagram path's optional fields included). */
export interface VpnChannel extends DatagramChannel {
  readonly peerId: NodeId;
  /** Bytes queued on the session's socket, not yet sent. */
  readonly writableLength: number;
  /** The peer's HELLO (its flags say whether it takes PACKETS_GSO), once received. */
  readonly peerHello?: { readonly flags?: number } | null;
  send(type: number, payload: Uint8Array): boolean;
  /** Call `cb` once when the socket's buffer drains; with it, bulk frames queue in the VPN (send-queue.ts). */
  onDrain?(cb: () => void): void;
}

/** Whether a session's peer takes PACKETS_GSO frames (HELLO_FLAG_GSO). */
export const takesGso = (ch: VpnChannel | undefined): boolean => ((ch?.peerHello?.flags ?? 0) & HELLO_FLAG_GSO) !== 0;

export { VPN_QUEUE_LIMIT_BYTES } from './send-queue.js';

/** Packets in a PACKETS or PACKETS_GSO payload (both start with count u16, big-endian). */
const packetCount = (frame: Uint8Array): number => (frame[0]! << 8) | frame[1]!;

/** Packets up to this size skip ahead of a batch's super-segments (see sendPackets). */
const SMALL_PACKET = 256;

export interface VpnServiceOptions {
  self: VpnAddresses;
  allow: AllowList;
  log: Logger;
  channelFor(peer: NodeId): VpnChannel | undefined;
  counters?: { inc(name: string, by?: number): void };
  /** Monotonic clock in microseconds (frame stamps and queue delay). Default: performance.now(). */
  nowUs?: () => number;
  /**
   * The UDP datagram path (datagram-service.ts), started with the TUN; absent or mode
   * 'off': VPN packets only ever go over the sessions.
   */
  datagram?: Omit<DatagramServiceOptions, 'mtu' | 'isAllowed' | 'deliver' | 'counters' | 'log' | 'mode'> & { mode: DatagramServiceOptions['mode'] | 'off' };
}

/**
 * Who routes where. Only allowed peers are in the router's table. A peer's VPN_ADDR is
 * taken only from an allowed peer and only for as long as its session lasts (kept per
 * connected peer, so bounded by the session slots); when the session ends its claim is
 * removed. An allowed peer's derived addresses are reserved for it (see PeerTable), so
 * nobody can claim them with --vpn-ip.
 */
export class VpnService {
  private router: VpnRouter | undefined;
  private tun: TunDevice | undefined;
  private state: VpnStatus['state'] = 'off';
  private reason: string | null = null;
  private readonly strayDrops = new Map<string, number>();
  /** What each connected peer announced (VPN_ADDR), while its session lasts. */
  private readonly announced = new Map<NodeId, VpnAddresses>();
  /** Derived address -> the allowed peer it belongs to. */
  private readonly reserved = new Map<string, NodeId>();
  /** Send queue per connected peer (bounded by the session slots; dropped with the session). */
  private readonly queues = new Map<NodeId, VpnSendQueue>();
  /** The refusal last logged per connected peer: the same one is not logged again (bounded by sessions). */
  private readonly warned = new Map<NodeId, string>();

  private readonly nowUs: () => number;
  private dgram: DatagramService | undefined;

  constructor(private readonly opts: VpnServiceOptions) {
    this.nowUs = opts.nowUs ?? (() => performance.now() * 1000);
    for (const id of opts.allow.list()) this.reserve(id, true);
  }

  get addresses(): VpnAddresses {
    return this.opts.self;
  }

  /** Start routing through `tun`. */
  attach(tun: TunDevice, mtu: number): void {
    this.tun = tun;
    this.state = 'up';
    this.router = new VpnRouter({
      tun,
      mtu,
      reservedFor: (address) => this.reserved.get(address),
      nowUs: this.nowUs,
      env: {
        self: this.opts.self,
        isAllowed: (peer) => this.opts.allow.has(peer),
        sendToPeer: (peer, packets, vnet) => this.sendPackets(peer, packets, vnet),
        // A peer on the datagram path gets segments (one inner packet per datagram).
        takesGso: (peer) => takesGso(this.opts.channelFor(peer)) && this.dgram?.route(peer) !== 'udp',
        count: (name, by) => this.opts.counters?.inc(name, by),
      },
    });
    const d = this.opts.datagram;
    if (d && d.mode !== 'off') {
      const router = this.router;
      this.dgram = new DatagramService({
        ...d,
        mode: d.mode,
        mtu,
        log: this.opts.log,
        ...(this.opts.counters ? { counters: this.opts.counters } : {}),
        isAllowed: (peer) => this.opts.allow.has(peer),
        deliver: (peer, packets) => router.fromPeer(peer, packets),
      });
    }
  }

  /** HELLO flags of the VPN: HELLO_FLAG_DGRAM while the datagram path runs. */
  get helloFlags(): number {
    return this.dgram?.helloFlags ?? 0;
  }

  /** The datagram path of each peer that has one (state and the route its packets take). */
  datagramPaths(): ReturnType<DatagramService['paths']> {
    return this.dgram?.paths() ?? {};
  }

  /** A DGRAM_OFFER frame: for the datagram path, else checked and ignored (counted). */
  onDgramOffer(ch: VpnChannel, payload: Buffer): void {
    if (this.dgram) return this.dgram.onOffer(ch, payload);
    decodeDgramOffer(payload);
    this.opts.counters?.inc('vpn.dgram.offers_ignored');
  }

  /** The VPN was requested as optional and could not start. */
  unavailable(reason: string): void {
    this.state = 'unavailable';
    this.reason = reason;
  }

  /** A session became active: announce our addresses, and route the peer if it is allowed. */
  onSessionUp(ch: VpnChannel): void {
    if (!this.router) return;
    ch.send(FrameType.VPN_ADDR, encodeVpnAddr(this.opts.self));
    if (this.opts.allow.has(ch.peerId)) this.route(ch.peerId);
    this.dgram?.onSessionUp(ch);
  }

  /** The peer's last session ended: its claim ends with it. */
  onSessionDown(peer: NodeId): void {
    this.announced.delete(peer);
    this.warned.delete(peer);
    this.queues.get(peer)?.clear();
    this.queues.delete(peer);
    this.router?.removePeer(peer);
    this.dgram?.onSessionDown(peer);
  }

  /** The peer announced the addresses it uses (they differ from the derived ones with --vpn-ip). */
  onVpnAddr(ch: VpnChannel, payload: Buffer): void {
    const addrs = decodeVpnAddr(payload);
    this.announced.set(ch.peerId, addrs);
    if (!this.router) return;
    if (!this.opts.allow.has(ch.peerId)) {
      this.opts.counters?.inc('vpn.addr_ignored.not_allowed');
      return;
    }
    this.route(ch.peerId);
  }

  /** The allow-list changed for `peer` (call after the change). */
  onAllowChanged(peer: NodeId, allowed: boolean, connected: boolean): void {
    this.reserve(peer, allowed);
    this.dgram?.onAllowChanged(peer, allowed);
    if (!this.router) return;
    if (allowed && connected) this.route(peer);
    if (!allowed) this.router.removePeer(peer);
  }

  onPackets(ch: VpnChannel, payload: Buffer): void {
    const packets = decodePackets(payload);
    if (!this.router) {
      this.strayDrops.set('vpn_disabled', (this.strayDrops.get('vpn_disabled') ?? 0) + packets.length);
      return;
    }
    this.router.fromPeer(ch.peerId, packets);
  }

  /** A PACKETS_GSO frame: packets with their super-segment metadata (checked by the router). */
  onPacketsGso(ch: VpnChannel, payload: Buffer): void {
    const { packets, gso, sentUs } = decodePacketsGso(payload);
    if (!this.router) {
      this.strayDrops.set('vpn_disabled', (this.strayDrops.get('vpn_disabled') ?? 0) + packets.length);
      return;
    }
    this.router.fromPeer(ch.peerId, packets, gso, sentUs);
  }

  /** A peer's VPN addresses: as routed, else as announced, else derived from its id. */
  addressesOf(peer: NodeId): VpnAddresses {
    return this.router?.addressesOf(peer) ?? this.announced.get(peer) ?? vpnAddressesOf(peer);
  }

  private reserve(peer: NodeId, allowed: boolean): void {
    const derived = canonicalVpnAddresses(vpnAddressesOf(peer));
    if (!derived) return;
    for (const a of [derived.ipv4, derived.ipv6]) {
      if (allowed) this.reserved.set(a, peer);
      else if (this.reserved.get(a) === peer) this.reserved.delete(a);
    }
  }

  private route(peer: NodeId): void {
    const addrs = this.announced.get(peer) ?? vpnAddressesOf(peer);
    const refused = this.router?.setPeer(peer, addrs);
    if (!refused) return void this.warned.delete(peer);
    this.opts.counters?.inc(`vpn.claims_refused.${refused.reason}`);
    const key = JSON.stringify(refused);
    if (this.warned.get(peer) === key) return;
    this.warned.set(peer, key);
    this.opts.log.warn(
      refused.reason === 'collision'
        ? `VPN address collision: ${refused.claimant} claims ${refused.address}, already held by ${refused.holder}; its VPN traffic is refused`
        : `VPN: ${refused.claimant} announced invalid addresses ${refused.ipv4} / ${refused.ipv6}`,
    );
  }
  /**
   * Batch packets into as few frames as the limits allow. Small packets (pings, ACKs, DNS)
   * go first, in a frame of their own, straight to the socket; the rest waits in the peer's
   * send queue (send-queue.ts) until the socket has room, so small ones overtake it.
   */
  private sendPackets(peer: NodeId, packets: readonly Buffer[], vnet?: readonly (VnetHeader | undefined)[]): boolean {
    if (!this.opts.channelFor(peer)) return false;
    if (this.dgram?.route(peer) === 'udp' && !vnet?.some((h) => h !== undefined)) {
      // On the datagram path (the router segmented for it): what it does not take (too big) stays on the session.
      packets = this.dgram.send(peer, packets);
      vnet = undefined;
      if (packets.length === 0) return true;
    }
    let queue = this.queues.get(peer);
    if (!queue) {
      queue = new VpnSendQueue(() => this.opts.channelFor(peer));
      this.queues.set(peer, queue);
    }
    const small: Buffer[] = [];
    const bulk: Buffer[] = [];
    const bulkVnet: (VnetHeader | undefined)[] = [];
    packets.forEach((p, i) => {
      if (vnet?.[i] === undefined && p.length <= SMALL_PACKET) small.push(p);
      else {
        bulk.push(p);
        bulkVnet.push(vnet?.[i]);
      }
    });
    let refused = 0;
    const push = (type: number, frame: Uint8Array, count: number, urgent: boolean): void => {
      if (queue.push(type, frame, urgent) === 'congested') refused += count;
    };
    for (const frame of encodePacketBatches(small)) push(FrameType.PACKETS, frame, packetCount(frame), true);
    if (!vnet) for (const frame of encodePacketBatches(bulk)) push(FrameType.PACKETS, frame, packetCount(frame), false);
    else for (const frame of encodePacketsGsoBatches(bulk, bulkVnet, this.nowUs())) push(FrameType.PACKETS_GSO, frame, packetCount(frame), false);
    if (refused > 0) this.strayDrops.set('congested', (this.strayDrops.get('congested') ?? 0) + refused);
    return true;
  }

  status(tunName: string | null, mtu: number | null): VpnStatus {
    const drops: Record<string, number> = Object.fromEntries(this.strayDrops);
    for (const [k, v] of Object.entries(this.router?.drops() ?? {})) drops[k] = (drops[k] ?? 0) + (v ?? 0);
    const peers: VpnStatus['peers'] = {};
    for (const [id, t] of Object.entries(this.router?.traffic() ?? {})) {
      peers[id] = { packetsIn: t.packetsIn, packetsOut: t.packetsOut, bytesIn: t.bytesIn, bytesOut: t.bytesOut, drops: { ...t.drops } as Record<string, number> };
    }
    const collisions = (this.router?.collisions() ?? []).map((c) => ({ peer: c.claimant, address: c.address, heldBy: c.holder }));
    return { state: this.state, reason: this.reason, ipv4: this.opts.self.ipv4, ipv6: this.opts.self.ipv6, tun: this.tun ? tunName : null, mtu: this.tun ? mtu : null, drops, collisions, peers };
  }

  async close(): Promise<void> {
    this.dgram?.close();
    try {
      await this.tun?.close();
    } catch (err) {
      this.opts.log.warn(`closing the TUN device: ${errorMessage(err)}`);
    }
  }
}
