/**
 * The VPN router: moves IP packets between the local TUN device and peer sessions.
 *
 * Outbound (TUN -> peers), per packet, the first failing check names the drop:
 *   malformed   not a well-formed IPv4/IPv6 packet (ip.ts)
 *   no_route    the destination is no peer's VPN address
 *   too_big     longer than the MTU
 * then, once per peer per TUN batch:
 *   not_allowed the peer is not on the allow-list
 *   not_connected env.sendToPeer returned false (no session): the whole batch
 * Good packets go to each peer in one env.sendToPeer call per TUN batch.
 *
 * Inbound (peer P -> TUN): if P is not allowed every packet is 'not_allowed' (not even
 * parsed); otherwise, per packet: malformed, too_big, 'spoofed' (the source is not P's
 * address of that family, like WireGuard's allowed IPs), 'not_for_us' (the destination is
 * not our address of that family). Good packets are written to the TUN in one batch.
 *
 * Offloads (offload.ts): an offload TUN hands over TCP super-segments with their header.
 * Outbound, a header that TCP segmentation offload would not produce is 'bad_gso'; a
 * partial checksum is completed here; a super-segment goes whole to a peer that takes
 * them (env.takesGso, PACKETS_GSO), else it is segmented here (its segments fit the MTU).
 * Inbound, a super-segment's metadata must equal what its own headers give ('bad_gso'
 * otherwise); it is then written whole to an offload TUN, or segmented for a plain one.
 * Plain segments from a peer without PACKETS_GSO are merged (coalesceTcp) for an offload TUN.
 *
 * Queue delay (aqm.ts, off unless SENTINEL_VPN_AQM is set): a PACKETS_GSO frame carries its send time; when the queueing delay
 * between the nodes stays above target, one inner packet is dropped ('queue_delay'): the
 * last segment of the frame's last super-segment that has several, i.e. new bulk data,
 * never a small packet (a ping, an ACK) nor a lone segment (often a retransmission, whose
 * loss would stall the inner TCP), so the inner TCP slows down before the queue grows. A
 * frame with nothing to cut leaves the drop owed to the next one. Outbound, the same control
 * runs per local TCP flow on the time its super-segments waited before we read them (their
 * TCP timestamp against our clock): the TUN's own queue is the one that grows when this
 * node is slow to read.
 *
 * Bad input never throws; it is dropped and counted (counters.ts). The env callbacks and
 * the TUN's write must not throw either.
 */
import type { NodeId } from '../api.js';
import { canonicalVpnAddresses } from './addressing.js';
import { TrafficCounters } from './counters.js';
import { parseIpPacket, type IpPacketInfo } from './ip.js';
import { DelayAqm, aqmSettings } from './aqm.js';
import { checkGso, coalesceTcp, gsoFromTun, tcpFlowKey, tcpTsval, prepareGsoWrite, segmentTso, withinGsoLimits, withoutLastSegment, type VnetHeader } from './offload.js';
import { PeerTable, type PeerCollision, type PeerRefusal } from './peer-table.js';
import type { DropReason, PeerTraffic, RouterEnv, TunDevice, VpnAddresses } from './types.js';

/** Smallest MTU accepted: the IPv6 minimum link MTU (RFC 8200). */
export const MIN_VPN_MTU = 1280;
/** Largest MTU accepted: the largest IPv4 packet (and PACKETS entry). */
export const MAX_VPN_MTU = 0xffff;

/** What a {@link VpnRouter} is built from. */
export interface VpnRouterOptions {
  tun: TunDevice;
  env: RouterEnv;
  /** Largest packet routed in either direction, MIN_VPN_MTU..MAX_VPN_MTU. */
  mtu: number;
  /** The peer an address is reserved for (see PeerTable), if any. */
  reservedFor?: (address: string) => NodeId | undefined;
  /** Monotonic clock in microseconds for the queue delay control. Default: performance.now(). */
  nowUs?: () => number;
  /** Queue delay control settings; null turns it off. Default: {@link aqmSettings}() (the environment). */
  aqm?: { targetUs: number; intervalUs: number } | null;
}


/** Local TCP flows whose outbound queue delay is tracked at once (the table is reset beyond). */
const MAX_AQM_FLOWS = 1024;

/** Packets for one peer, with each one's super-segment header (undefined: plain). */
interface Batch {
  packets: Buffer[];
  vnet: (VnetHeader | undefined)[];
  supers: number;
}

/** Routes packets between one TUN device and the peers' sessions. */
export class VpnRouter {
  private readonly tun: TunDevice;
  private readonly env: RouterEnv;
  private readonly mtu: number;
  private readonly self: VpnAddresses;
  private readonly table: PeerTable;
  private readonly counters = new TrafficCounters();
  private readonly aqm = new Map<NodeId, DelayAqm>();
  /** Outbound queue delay control per local TCP flow (keyed by addresses and ports), bounded. */
  private readonly flowAqm = new Map<string, DelayAqm>();
  private readonly nowUs: () => number;
  private readonly aqmConfig: { targetUs: number; intervalUs: number } | null;

  /**
   * Starts reading the TUN. Throws RangeError on an MTU out of range or own addresses
   * outside the VPN prefixes (local misuse).
   */
  constructor(options: VpnRouterOptions) {
    const { tun, env, mtu } = options;
    if (!Number.isInteger(mtu) || mtu < MIN_VPN_MTU || mtu > MAX_VPN_MTU) {
      throw new RangeError(`VPN MTU must be an integer in ${MIN_VPN_MTU}..${MAX_VPN_MTU}`);
    }
    const self = canonicalVpnAddresses(env.self);
    if (!self) throw new RangeError(`own VPN addresses ${env.self.ipv4} ${env.self.ipv6} are outside the VPN prefixes`);
    this.tun = tun;
    this.env = env;
    this.mtu = mtu;
    this.self = self;
    this.table = new PeerTable(self, options.reservedFor);
    this.nowUs = options.nowUs ?? (() => performance.now() * 1000);
    this.aqmConfig = options.aqm === undefined ? aqmSettings() : options.aqm;
    tun.onPackets((packets, vnet) => this.fromTun(packets, vnet));
  }

  /**
   * Records (or replaces) the addresses `peer` uses; returns null when accepted. Refused,
   * with the reason returned, when an address is outside the VPN prefixes, and when it is
   * ours or held by another peer (a collision, also listed by {@link collisions}). A
   * refused peer keeps no addresses. Never throws.
   */
  setPeer(peer: NodeId, addrs: VpnAddresses): PeerRefusal | null {
    return this.table.set(peer, addrs);
  }

  /** Forgets `peer`: its addresses, refused claim and counters. */
  removePeer(peer: NodeId): void {
    this.table.remove(peer);
    this.counters.forget(peer);
    this.aqm.delete(peer);
  }

  /** The addresses `peer` holds in the table. */
  addressesOf(peer: NodeId): VpnAddresses | undefined {
    const addrs = this.table.addressesOf(peer);
    return addrs && { ...addrs };
  }

  /** The peer holding a VPN address (canonical text). */
  peerAt(address: string): NodeId | undefined {
    return this.table.peerAt(address);
  }

  /** Currently refused address claims, one per claimant. */
  collisions(): PeerCollision[] {
    return this.table.collisions();
  }

  /** Claims refused for a collision since the router started. */
  get collisionsRefused(): number {
    return this.table.collisionsRefused;
  }

  /** Per-peer counters (a snapshot). */
  traffic(): Record<NodeId, PeerTraffic> {
    return this.counters.traffic();
  }

  /** Global drop counters, including the drops also counted for a peer (a snapshot). */
  drops(): Partial<Record<DropReason, number>> {
    return this.counters.drops();
  }

  /** Routes a batch read from the TUN (the TUN handler; public for benchmarks). */
  fromTun(packets: readonly Buffer[], vnet?: readonly (VnetHeader | undefined)[]): void {
    const batches = new Map<NodeId, Batch>();
    for (let i = 0; i < packets.length; i++) {
      let packet = packets[i]!;
      const h = vnet?.[i];
      let gso: VnetHeader | undefined;
      if (h) {
        const r = gsoFromTun(packet, h, this.mtu);
        if (r === null) {
          this.dropped('bad_gso');
          continue;
        }
        if (r !== 'plain') gso = r;
      }
      if (gso) packet = this.outboundAqm(packet, gso);
      const peer = this.routeOutbound(packet, gso !== undefined);
      if (peer === undefined) continue;
      let batch = batches.get(peer);
      if (!batch) batches.set(peer, (batch = { packets: [], vnet: [], supers: 0 }));
      batch.packets.push(packet);
      batch.vnet.push(gso);
      if (gso) batch.supers++;
    }
    for (const [peer, batch] of batches) this.sendBatch(peer, batch);
  }

  /**
   * Delivers a batch received from `peer`'s session to the TUN, after the inbound checks.
   * `vnet[i]` is packet i's super-segment metadata as the peer sent it, and `sentUs` the
   * frame's send time on the peer's clock (PACKETS_GSO).
   */
  fromPeer(peer: NodeId, packets: readonly Buffer[], vnet?: readonly (VnetHeader | undefined)[], sentUs?: number): void {
    if (!this.env.isAllowed(peer)) {
      this.counters.drop('not_allowed', packets.length, peer);
      return;
    }
    const cut = this.aqmCut(peer, packets, vnet, sentUs);
    const good: Buffer[] = [];
    const goodVnet: (VnetHeader | undefined)[] = [];
    let supers = 0;
    let segmented = 0;
    for (let i = 0; i < packets.length; i++) {
      let packet = packets[i]!;
      const g = vnet?.[i];
      const reason = this.checkInbound(peer, packet, g);
      if (reason) {
        this.counters.drop(reason, 1, peer);
        continue;
      }
      if (i === cut && g) {
        const rest = withoutLastSegment(packet, g);
        if (rest) {
          this.counters.drop('queue_delay', 1, peer);
          this.aqm.get(peer)!.owed = 0;
          packet = rest;
        }
      }
      this.counters.received(peer, packet.length);
      if (!g) {
        good.push(packet);
        goodVnet.push(undefined);
      } else if (this.tun.offload) {
        prepareGsoWrite(packet, g);
        good.push(packet);
        goodVnet.push(g);
        supers++;
      } else {
        for (const seg of segmentTso(packet, g)) {
          good.push(seg);
          goodVnet.push(undefined);
        }
        segmented++;
      }
    }
    if (supers > 0) this.env.count?.('vpn.gso.written', supers);
    if (segmented > 0) this.env.count?.('vpn.gso.segmented_in', segmented);
    if (good.length > 1 && supers === 0 && this.tun.offload) {
      // Plain segments (from a peer without PACKETS_GSO) merged into super-segments: fewer writes.
      const merged = coalesceTcp(good);
      const count = merged.vnet.reduce((n, h) => n + (h ? 1 : 0), 0);
      if (count > 0) this.env.count?.('vpn.gso.coalesced', count);
      return this.tun.write(merged.packets, count > 0 ? merged.vnet : undefined);
    }
    if (good.length > 0) this.tun.write(good, supers > 0 ? goodVnet : undefined);
  }

  /** The peer a TUN packet goes to, or undefined after counting its drop. */
  private routeOutbound(packet: Buffer, isSuper: boolean): NodeId | undefined {
    const info = parseIpPacket(packet);
    if (!info) return this.dropped('malformed');
    const peer = this.table.peerAt(info.dst);
    if (peer === undefined) return this.dropped('no_route');
    if (!isSuper && packet.length > this.mtu) return this.dropped('too_big', peer);
    return peer;
  }

  private sendBatch(peer: NodeId, batch: Batch): void {
    const count = batch.packets.length;
    if (!this.env.isAllowed(peer)) return this.counters.drop('not_allowed', count, peer);
    const whole = batch.supers > 0 && (this.env.takesGso?.(peer) ?? false);
    if (batch.supers > 0) this.segmentOutbound(batch, whole);
    if (!this.env.sendToPeer(peer, batch.packets, batch.supers > 0 ? batch.vnet : undefined)) this.counters.drop('not_connected', count, peer);
    else this.counters.sent(peer, batch.packets);
  }

  /** Segments the batch's super-segments here: all of them, or (whole) those over the GSO limits. */
  private segmentOutbound(batch: Batch, whole: boolean): void {
    const packets: Buffer[] = [];
    const vnet: (VnetHeader | undefined)[] = [];
    let supers = 0;
    let segmented = 0;
    batch.packets.forEach((p, i) => {
      const h = batch.vnet[i];
      if (h && whole && withinGsoLimits(p, h)) {
        packets.push(p);
        vnet.push(h);
        supers++;
      } else if (h) {
        for (const seg of segmentTso(p, h)) {
          packets.push(seg);
          vnet.push(undefined);
        }
        segmented++;
      } else {
        packets.push(p);
        vnet.push(undefined);
      }
    });
    if (supers > 0) this.env.count?.('vpn.gso.sent', supers);
    if (segmented > 0) this.env.count?.('vpn.gso.segmented_out', segmented);
    batch.packets = packets;
    batch.vnet = vnet;
    batch.supers = supers;
  }

  private checkInbound(peer: NodeId, packet: Buffer, gso: VnetHeader | undefined): DropReason | undefined {
    const info = parseIpPacket(packet);
    if (!info) return 'malformed';
    if (gso ? !checkGso(packet, gso, this.mtu) : packet.length > this.mtu) return gso ? 'bad_gso' : 'too_big';
    const theirs = this.table.addressesOf(peer);
    if (!theirs || info.src !== addressFor(theirs, info)) return 'spoofed';
    if (info.dst !== addressFor(this.self, info)) return 'not_for_us';
    return undefined;
  }

  /**
   * Queue delay in front of us: the time a local super-segment waited between its TCP
   * sending it (its timestamp option, in ms) and our read (the TUN's queue, which drops
   * only when full and which the kernel's TCP does not see). CoDel per flow, as inbound;
   * a drop cuts the super-segment's last segment.
   */
  private outboundAqm(packet: Buffer, h: VnetHeader): Buffer {
    if (this.aqmConfig === null || packet.length - h.hdrLen <= h.gsoSize) return packet;
    const tsval = tcpTsval(packet, h);
    if (tsval === undefined) return packet;
    const key = tcpFlowKey(packet, h);
    let a = this.flowAqm.get(key);
    if (!a) {
      if (this.flowAqm.size >= MAX_AQM_FLOWS) this.flowAqm.clear();
      this.flowAqm.set(key, (a = new DelayAqm(this.aqmConfig.targetUs, this.aqmConfig.intervalUs)));
    }
    if (!a.onFrame((tsval * 1000) >>> 0, this.nowUs())) return packet;
    const rest = withoutLastSegment(packet, h);
    if (!rest) return packet;
    this.counters.drop('queue_delay');
    return rest;
  }

  /** The index of the entry to cut one segment from for queue delay, or -1. */
  private aqmCut(peer: NodeId, packets: readonly Buffer[], vnet: readonly (VnetHeader | undefined)[] | undefined, sentUs: number | undefined): number {
    if (sentUs === undefined || this.aqmConfig === null || !vnet) return -1;
    let a = this.aqm.get(peer);
    if (!a) this.aqm.set(peer, (a = new DelayAqm(this.aqmConfig.targetUs, this.aqmConfig.intervalUs)));
    if (a.onFrame(sentUs, this.nowUs())) a.owed = 1;
    if (a.owed === 0) return -1;
    for (let i = packets.length - 1; i >= 0; i--) {
      const g = vnet[i];
      if (g && packets[i]!.length - g.hdrLen > g.gsoSize) return i;
    }
    return -1;
  }

  private dropped(reason: DropReason, peer?: NodeId): undefined {
    this.counters.drop(reason, 1, peer);
    return undefined;
  }
}

function addressFor(addrs: VpnAddresses, info: IpPacketInfo): string {
  return info.version === 4 ? addrs.ipv4 : addrs.ipv6;
}
