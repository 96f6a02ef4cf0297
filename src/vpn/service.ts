/**
 * The VPN as the node runs it: the TUN device and router, the allow-list, and the two VPN
 * frames on peer sessions (VPN_ADDR announces our addresses at session start; PACKETS
 * carries IP packets in batches). Built by the composition root; without a TUN (VPN off
 * or unavailable) it still answers allow/deny and counts stray PACKETS frames.
 */
import type { NodeId, VpnStatus } from '../api.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { FrameType, decodePackets, decodeVpnAddr, encodePacketBatches, encodeVpnAddr } from '../wire/index.js';
import { vpnAddressesOf } from './addressing.js';
import type { AllowList } from './allow-list.js';
import { VpnRouter } from './router.js';
import type { TunDevice, VpnAddresses } from './types.js';

/** A session as the VPN needs it. */
export interface VpnChannel {
  readonly peerId: NodeId;
  /** Bytes queued on the session's socket, not yet sent. */
  readonly writableLength: number;
  send(type: number, payload: Uint8Array): boolean;
}

/**
 * Packets for a peer whose session already has this much queued are dropped, as a
 * congested link would: TCP inside the tunnel then slows down instead of the queue (and
 * the latency of everything behind it) growing.
 */
export const VPN_QUEUE_LIMIT_BYTES = 512 * 1024;
/** Announced peer addresses kept (oldest forgotten first; the derived ones are the fallback). */
export const MAX_LEARNED_PEERS = 4096;

export interface VpnServiceOptions {
  self: VpnAddresses;
  allow: AllowList;
  log: Logger;
  channelFor(peer: NodeId): VpnChannel | undefined;
}

export class VpnService {
  private router: VpnRouter | undefined;
  private tun: TunDevice | undefined;
  private state: VpnStatus['state'] = 'off';
  private reason: string | null = null;
  private readonly strayDrops = new Map<string, number>();
  private readonly learned = new Map<NodeId, VpnAddresses>();

  constructor(private readonly opts: VpnServiceOptions) {}

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
      env: {
        self: this.opts.self,
        isAllowed: (peer) => this.opts.allow.has(peer),
        sendToPeer: (peer, packets) => this.sendPackets(peer, packets),
      },
    });
  }

  /** The VPN was requested as optional and could not start. */
  unavailable(reason: string): void {
    this.state = 'unavailable';
    this.reason = reason;
  }

  /** A session became active: announce our addresses and route the peer's derived ones. */
  onSessionUp(ch: VpnChannel): void {
    if (!this.router) return;
    ch.send(FrameType.VPN_ADDR, encodeVpnAddr(this.opts.self));
    this.learn(ch.peerId, vpnAddressesOf(ch.peerId));
  }

  /** The peer announced the addresses it uses (they differ from the derived ones with --vpn-ip). */
  onVpnAddr(ch: VpnChannel, payload: Buffer): void {
    const addrs = decodeVpnAddr(payload);
    if (this.router) this.learn(ch.peerId, addrs);
  }

  onPackets(ch: VpnChannel, payload: Buffer): void {
    const packets = decodePackets(payload);
    if (!this.router) {
      this.strayDrops.set('vpn_disabled', (this.strayDrops.get('vpn_disabled') ?? 0) + packets.length);
      return;
    }
    this.router.fromPeer(ch.peerId, packets);
  }

  /** A peer's VPN addresses: as announced, else derived from its id. */
  addressesOf(peer: NodeId): VpnAddresses {
    return this.learned.get(peer) ?? vpnAddressesOf(peer);
  }

  private learn(peer: NodeId, addrs: VpnAddresses): void {
    // Bounded: peers announcing addresses come and go (new keys are free to make).
    if (!this.learned.has(peer) && this.learned.size >= MAX_LEARNED_PEERS) this.learned.delete(this.learned.keys().next().value as NodeId);
    this.learned.set(peer, addrs);
    const refused = this.router?.setPeer(peer, addrs);
    if (!refused) return;
    this.opts.log.warn(
      refused.reason === 'collision'
        ? `VPN address collision: ${refused.claimant} claims ${refused.address}, already held by ${refused.holder}; its VPN traffic is refused`
        : `VPN: ${refused.claimant} announced invalid addresses ${refused.ipv4} / ${refused.ipv6}`,
    );
  }

  /** Batch packets into as few PACKETS frames as the limits allow. */
  private sendPackets(peer: NodeId, packets: readonly Buffer[]): boolean {
    const ch = this.opts.channelFor(peer);
    if (!ch) return false;
    if (ch.writableLength > VPN_QUEUE_LIMIT_BYTES) {
      this.strayDrops.set('congested', (this.strayDrops.get('congested') ?? 0) + packets.length);
      return true;
    }
    for (const frame of encodePacketBatches(packets)) ch.send(FrameType.PACKETS, frame);
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
    try {
      await this.tun?.close();
    } catch (err) {
      this.opts.log.warn(`closing the TUN device: ${errorMessage(err)}`);
    }
  }
}
