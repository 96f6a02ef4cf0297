/**
 * The real {@link MdnsTransport}: a `multicast-dns` socket bound to 0.0.0.0:5353 with
 * SO_REUSEADDR (so it coexists with avahi and other nodes on the host), joined to
 * 224.0.0.251 on every IPv4 interface, with multicast loopback on (two nodes on one host
 * see each other; our own packets come back and are recognised by id).
 */
import makeMdns from 'multicast-dns';
import { EventEmitter } from 'node:events';
import { MDNS_IPV4_GROUP, MDNS_PORT } from './limits.js';
import type { MdnsPacketIn, MdnsQueryOut, MdnsRemote, MdnsResponseOut, MdnsTransport } from './transport.js';

/** Longest wait for pending sends (e.g. the goodbye) before the socket is closed anyway. */
const DESTROY_GRACE_MS = 500;

/** Options of {@link createMulticastTransport}. */
export interface MulticastTransportOptions {
  /** IPv4 address of the one interface to use; default all interfaces. */
  interface?: string;
  /** UDP port; default 5353 (tests may use another to stay private). */
  port?: number;
  /** Multicast group; default 224.0.0.251. */
  group?: string;
}

/** Opens the mDNS socket. Bind errors arrive as `error` events, never as throws. */
export function createMulticastTransport(opts: MulticastTransportOptions = {}): MdnsTransport {
  const m = makeMdns({
    port: opts.port ?? MDNS_PORT,
    ip: opts.group ?? MDNS_IPV4_GROUP,
    reuseAddr: true,
    loopback: true,
    ...(opts.interface !== undefined ? { interface: opts.interface } : {}),
  });
  const events = new EventEmitter();
  // Always listened to: an unhandled 'error' would crash the node.
  m.on('error', (err) => (events.listenerCount('error') > 0 ? events.emit('error', err) : undefined));
  m.on('warning', (err) => events.emit('warning', err));
  m.on('query', (p, rinfo) => events.emit('query', p as MdnsPacketIn, { address: rinfo.address, port: rinfo.port }));
  m.on('response', (p, rinfo) => events.emit('response', p as MdnsPacketIn, { address: rinfo.address, port: rinfo.port }));
  // Sends are asynchronous: destroy waits for them so a goodbye still goes out.
  let pending = 0;
  let destroyed = false;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    m.destroy();
  };
  const sent = (err: Error | null): void => {
    if (err) events.emit('warning', err);
    if (--pending === 0 && destroyed) close();
  };
  const track = (): typeof sent => {
    pending++;
    return sent;
  };
  return {
    // Our record shapes are a subset of dns-packet's; its types are stricter about unions.
    query: (packet: MdnsQueryOut) => m.query(packet as unknown as makeMdns.QueryOutgoingPacket, track()),
    respond: (packet: MdnsResponseOut, to?: MdnsRemote) => {
      const out = packet as unknown as makeMdns.ResponseOutgoingPacket;
      if (to) m.respond(out, { address: to.address, port: to.port }, track());
      else m.respond(out, track());
    },
    on: (event: string, listener: (...args: never[]) => void) => {
      events.on(event, listener as (...args: unknown[]) => void);
    },
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      if (pending === 0) close();
      else setTimeout(close, DESTROY_GRACE_MS).unref();
    },
  };
}
