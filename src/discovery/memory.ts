/**
 * An in-memory mDNS "LAN" for tests: every member's multicast reaches every member
 * (itself included, like multicast loopback), unicast answers reach the one member at that
 * address and port. Packets are copied and shaped as dns-packet decodes them (TXT data as
 * a list of Buffers), synchronously.
 */
import { EventEmitter } from 'node:events';
import type { NetworkInterfaceInfo } from 'node:os';
import { MDNS_PORT, MDNS_TTL } from './limits.js';
import type { InterfaceList } from '../core/link.js';
import type { MdnsPacketIn, MdnsQueryOut, MdnsRemote, MdnsResponseOut, MdnsTransport, TtlSupport } from './transport.js';

/** One packet that crossed the fake network. */
export interface FakeMdnsDelivery {
  kind: 'query' | 'response';
  from: MdnsRemote;
  /** Null for multicast. */
  to: MdnsRemote | null;
  packet: MdnsPacketIn;
}

/** A member of a {@link FakeMdnsNetwork}. */
export class FakeMdnsTransport implements MdnsTransport {
  private readonly events = new EventEmitter();
  destroyed = false;
  /** Like the native transport: every delivery carries the TTL it was sent with. */
  readonly ttlSupport: TtlSupport = { ok: true };

  constructor(
    private readonly net: FakeMdnsNetwork,
    /** The address and port packets from this member come from. */
    readonly self: MdnsRemote,
  ) {}

  query(packet: MdnsQueryOut): void {
    this.net.send('query', this, packet, null);
  }

  respond(packet: MdnsResponseOut, to?: MdnsRemote): void {
    this.net.send('response', this, packet, to ?? null);
  }

  on(event: string, listener: (...args: never[]) => void): void {
    this.events.on(event, listener as (...args: unknown[]) => void);
  }

  destroy(): void {
    this.destroyed = true;
  }

  /** Delivers a packet to this member's listeners (what a socket does on receive). */
  deliver(kind: 'query' | 'response', packet: MdnsPacketIn, from: MdnsRemote): void {
    if (!this.destroyed) this.events.emit(kind, packet, from);
  }
}

/** The fake LAN. */
export class FakeMdnsNetwork {
  private readonly members: FakeMdnsTransport[] = [];
  /** Every packet sent, in order. */
  readonly log: FakeMdnsDelivery[] = [];

  /**
   * A new member at `address` sending from `port` (5353; another port makes it a legacy
   * unicast querier). Its packets arrive with TTL 255, as from a real host on the link.
   */
  join(address: string, port: number = MDNS_PORT): FakeMdnsTransport {
    const t = new FakeMdnsTransport(this, { address, port, ttl: MDNS_TTL });
    this.members.push(t);
    return t;
  }

  /**
   * Sends `packet` as if from `from` (which need not be a member): the way to inject
   * spoofed packets. `from.ttl` is what the receiver sees (absent: unknown).
   */
  inject(kind: 'query' | 'response', packet: MdnsPacketIn, from: MdnsRemote): void {
    this.send(kind, { self: from }, packet, null);
  }

  /** Routes one packet. */
  send(kind: 'query' | 'response', sender: { self: MdnsRemote; destroyed?: boolean }, packet: object, to: MdnsRemote | null): void {
    if (sender.destroyed) return;
    const copy = decodedShape(packet);
    this.log.push({ kind, from: sender.self, to, packet: copy });
    for (const m of [...this.members]) {
      if (to !== null && (m.self.address !== to.address || m.self.port !== to.port)) continue;
      // Only port-5353 sockets are in the multicast group.
      if (to === null && m.self.port !== MDNS_PORT) continue;
      m.deliver(kind, decodedShape(copy), { ...sender.self });
    }
  }
}

/** A deep copy shaped like dns-packet output: Buffers survive, TXT strings become Buffers. */
function decodedShape(packet: object): MdnsPacketIn {
  const copy = structuredClone(packet) as Record<string, unknown>;
  for (const section of ['answers', 'additionals']) {
    const list = copy[section];
    if (!Array.isArray(list)) continue;
    for (const r of list as Record<string, unknown>[]) {
      if (r?.['type'] !== 'TXT') continue;
      const data = r['data'];
      const items = Array.isArray(data) ? data : [data];
      r['data'] = items.map((d: unknown) => (typeof d === 'string' ? Buffer.from(d) : Buffer.from(d as Uint8Array)));
    }
  }
  return copy;
}

/**
 * An interface list (as `os.networkInterfaces()` returns it) with one interface per CIDR,
 * e.g. `fakeInterfaces('192.168.1.10/24', 'fd00::10/64')`, for the on-link checks in tests.
 */
export function fakeInterfaces(...cidrs: string[]): InterfaceList {
  const out: InterfaceList = {};
  cidrs.forEach((cidr, i) => {
    const address = cidr.slice(0, cidr.lastIndexOf('/'));
    const v6 = address.includes(':');
    const info = { address, cidr, netmask: '', mac: '02:00:00:00:00:00', internal: false, family: v6 ? 'IPv6' : 'IPv4', ...(v6 ? { scopeid: 0 } : {}) };
    out[`eth${i}`] = [info as NetworkInterfaceInfo];
  });
  return out;
}
