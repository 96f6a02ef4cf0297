/**
 * The real {@link MdnsTransport}: `multicast-dns` on a socket bound to 0.0.0.0:5353 with
 * SO_REUSEADDR (so it coexists with avahi and other nodes on the host), joined to
 * 224.0.0.251 on every IPv4 interface, with multicast loopback on (two nodes on one host
 * see each other; our own packets come back and are recognised by id).
 *
 * The socket is the addon's {@link TtlUdpSocket} when it is built, so every received
 * packet carries its IP TTL (`from.ttl`) for the RFC 6762 §11 check; otherwise a plain
 * dgram socket, and `ttlSupport` says why the TTL is unknown. Everything we send goes out
 * with TTL 255, multicast and unicast alike (RFC 6762 §11).
 */
import makeMdns from 'multicast-dns';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { errorMessage } from '../errors.js';
import { TtlUdpSocket, loadUdpNative, type TtlRemoteInfo } from '../native/index.js';
import { MDNS_IPV4_GROUP, MDNS_MAX_PACKET_BYTES, MDNS_PORT, MDNS_TTL } from './limits.js';
import { checkPacketHeader, type DropReason } from './parse.js';
import type { MdnsPacketIn, MdnsQueryOut, MdnsRemote, MdnsResponseOut, MdnsTransport, TtlSupport } from './transport.js';

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
  /** `native` (default): the addon's socket, reporting received TTLs, when built; `off`: plain dgram. */
  ttl?: 'native' | 'off';
}

/** The socket multicast-dns runs on, and whether it reports TTLs. */
function openSocket(opts: MulticastTransportOptions): { socket: dgram.Socket | TtlUdpSocket; ttlSupport: TtlSupport } {
  if (opts.ttl === 'off') return { socket: dgram.createSocket({ type: 'udp4', reuseAddr: true }), ttlSupport: { ok: false, reason: 'disabled by configuration' } };
  const udp = loadUdpNative();
  if (!udp.ok) return { socket: dgram.createSocket({ type: 'udp4', reuseAddr: true }), ttlSupport: { ok: false, reason: udp.reason } };
  return { socket: new TtlUdpSocket(udp.native, { type: 'udp4', reuseAddr: true, maxBytes: MDNS_MAX_PACKET_BYTES }), ttlSupport: { ok: true } };
}

/** Where a packet came from, with its TTL when the socket reported it. */
function remote(rinfo: TtlRemoteInfo | dgram.RemoteInfo): MdnsRemote {
  const ttl = (rinfo as TtlRemoteInfo).ttl;
  return ttl === undefined ? { address: rinfo.address, port: rinfo.port } : { address: rinfo.address, port: rinfo.port, ttl };
}

/**
 * multicast-dns decodes every datagram with dns-packet before we see it, and some packets
 * make that decoder loop (parse.ts `checkPacketHeader`, found by fuzzing): those are
 * refused from the raw bytes first and reported as `dropped`.
 */
function guardDecoding(socket: EventEmitter, onDrop: (reason: DropReason) => void): void {
  const on = socket.on.bind(socket);
  socket.on = ((event: string, listener: (...args: unknown[]) => void) => {
    if (event !== 'message') return on(event, listener);
    return on(event, (data: Buffer, rinfo: unknown) => {
      const refused = checkPacketHeader(data);
      if (refused) onDrop(refused);
      else listener(data, rinfo);
    });
  }) as typeof socket.on;
}

/** Opens the mDNS socket. Bind errors arrive as `error` events, never as throws. */
export function createMulticastTransport(opts: MulticastTransportOptions = {}): MdnsTransport {
  const { socket, ttlSupport } = openSocket(opts);
  const events = new EventEmitter();
  guardDecoding(socket, (reason) => events.emit('dropped', reason));
  // Unicast answers too (multicast-dns sets the multicast TTL itself).
  socket.once('listening', () => {
    try {
      socket.setTTL(MDNS_TTL);
    } catch (err) {
      events.emit('warning', new Error(`cannot set the unicast TTL: ${errorMessage(err)}`));
    }
  });
  const m = makeMdns({
    port: opts.port ?? MDNS_PORT,
    ip: opts.group ?? MDNS_IPV4_GROUP,
    loopback: true,
    ttl: MDNS_TTL,
    // Our socket implements the part of dgram.Socket multicast-dns uses.
    socket: socket as dgram.Socket,
    ...(opts.interface !== undefined ? { interface: opts.interface } : {}),
  });
  // Always listened to: an unhandled 'error' would crash the node.
  m.on('error', (err) => (events.listenerCount('error') > 0 ? events.emit('error', err) : undefined));
  m.on('warning', (err) => events.emit('warning', err));
  m.on('query', (p, rinfo) => events.emit('query', p as MdnsPacketIn, remote(rinfo)));
  m.on('response', (p, rinfo) => events.emit('response', p as MdnsPacketIn, remote(rinfo)));
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
    ttlSupport,
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
