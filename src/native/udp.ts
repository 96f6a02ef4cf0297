/**
 * UDP sockets that report the IP TTL (IPv6 hop limit) of each datagram they receive,
 * through the addon (native/udp.c: recvmsg with IP_RECVTTL / IPV6_RECVHOPLIMIT).
 * Node's dgram cannot: mDNS needs it to drop responses that were routed (RFC 6762 §11).
 *
 * {@link TtlUdpSocket} offers the part of `dgram.Socket` that multicast-dns uses, so it
 * can be passed as its `socket` option; `message` events carry `rinfo.ttl`.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { SentinelError, errorMessage } from '../errors.js';
import { loadNative } from './load.js';
import type { NativeErrnoError, SockName } from './types.js';

/** One datagram as the addon reads it; `ttl` is -1 when the kernel did not say. */
export interface UdpDatagram {
  data: Buffer;
  address: string;
  port: number;
  ttl: number;
}

/** Integer socket options the addon can set (its `udp_options` table). */
export type UdpOption = 'IP_TTL' | 'IP_MULTICAST_TTL' | 'IP_MULTICAST_LOOP' | 'IPV6_UNICAST_HOPS' | 'IPV6_MULTICAST_HOPS' | 'IPV6_MULTICAST_LOOP' | 'SO_RCVBUF' | 'SO_SNDBUF';

/** The addon's UDP exports. Errno failures throw {@link NativeErrnoError}. */
export interface UdpNative {
  /**
   * socket(SOCK_DGRAM), non-blocking + close-on-exec, SO_REUSEADDR if asked, TTL reporting on, bind.
   * An IPv6 host is IPV6_V6ONLY unless `v6only` is false (dual-stack `::`).
   */
  udpBind(host: string, port: number, reuseAddr: boolean, v6only?: boolean): number;
  udpSetOption(fd: number, name: UdpOption, value: number): void;
  /** IPv4 multicast join (or leave) of `group` on the interface holding `ifaceAddr`. */
  udpMembership(fd: number, group: string, ifaceAddr: string, join: boolean): void;
  /** IPv4 interface for outgoing multicast ('0.0.0.0': the routing default). */
  udpMulticastInterface(fd: number, ifaceAddr: string): void;
  /** Reads datagrams of up to `size` bytes (longer ones are dropped) in batches. Throws EBUSY if fd is already read. */
  udpStartReading(fd: number, size: number, cb: (datagrams: UdpDatagram[], err?: NativeErrnoError) => void): void;
  udpStopReading(fd: number): boolean;
  /** One non-blocking sendto(2); returns the bytes sent. */
  udpSend(fd: number, data: Buffer, host: string, port: number): number;
  /** close(2), stopping a reader on fd first. */
  close(fd: number): void;
  sockname(fd: number): SockName;
}

/**
 * The addon's exports for the VPN datagram path (native/dgram.c): batched UDP I/O and
 * AES-256-GCM on the datagram layout of src/wire/datagram.ts.
 */
export interface DatagramNative extends UdpNative {
  /**
   * sendmmsg(2) of `datagrams` to host:port; returns how many were sent (a refused one is
   * skipped, a full socket buffer drops the rest). Throws only for bad arguments.
   */
  udpSendBatch(fd: number, datagrams: readonly Buffer[], host: string, port: number): number;
  /** Like udpStartReading, data only (no source, no TTL): cb(buffers) per wake-up, up to 64. */
  udpStartReadingData(fd: number, size: number, cb: (datagrams: Buffer[], err?: NativeErrnoError) => void): void;
  /** Seals in place: `datagram` = 13-byte header, plaintext, 16 spare bytes for the tag. */
  dgramSeal(key: Buffer, datagram: Buffer): void;
  /** The plaintext of a sealed datagram, or null if it does not authenticate. */
  dgramOpen(key: Buffer, datagram: Buffer): Buffer | null;
}

const DATAGRAM_EXPORTS = ['udpSendBatch', 'udpStartReadingData', 'dgramSeal', 'dgramOpen'] as const;

/** The addon's datagram-path functions, or null (no addon, or one built before them). Never throws. */
export function loadDatagramNative(): DatagramNative | null {
  const r = loadUdpNative();
  if (!r.ok) return null;
  const mod = r.native as unknown as Record<string, unknown>;
  return DATAGRAM_EXPORTS.every((k) => typeof mod[k] === 'function') ? (r.native as DatagramNative) : null;
}

const UDP_EXPORTS = ['udpBind', 'udpSetOption', 'udpMembership', 'udpMulticastInterface', 'udpStartReading', 'udpStopReading', 'udpSend', 'close', 'sockname'] as const;

/** The addon's UDP functions, or why they cannot be used. Never throws. */
export function loadUdpNative(): { ok: true; native: UdpNative } | { ok: false; reason: string } {
  const r = loadNative();
  if (!r.ok) return r;
  const mod = r.native as unknown as Record<string, unknown>;
  if (!UDP_EXPORTS.every((k) => typeof mod[k] === 'function')) return { ok: false, reason: 'the addon has no UDP support (rebuild it with `npm run install`)' };
  return { ok: true, native: r.native as unknown as UdpNative };
}

/** The addon's UDP functions, or SentinelError('E_NATIVE_UNAVAILABLE') saying why not. */
export function requireUdpNative(): UdpNative {
  const r = loadUdpNative();
  if (!r.ok) throw new SentinelError('E_NATIVE_UNAVAILABLE', r.reason);
  return r.native;
}

/** `rinfo` of a {@link TtlUdpSocket} `message` event: dgram's, plus the TTL when known. */
export interface TtlRemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
  ttl?: number;
}

/** Options of {@link TtlUdpSocket}. */
export interface TtlUdpSocketOptions {
  type: 'udp4' | 'udp6';
  reuseAddr?: boolean;
  /** Longest datagram read; longer ones are dropped. */
  maxBytes: number;
}

/**
 * A UDP socket on the addon, shaped like the `dgram.Socket` methods multicast-dns calls:
 * bind, send, address, setTTL, setMulticastTTL, setMulticastLoopback, addMembership,
 * dropMembership, setMulticastInterface, close; events `listening`, `message`, `error`,
 * `close`. Like dgram, setters throw errno errors synchronously and bind/send report
 * asynchronously.
 */
export class TtlUdpSocket extends EventEmitter {
  private fd: number | null = null;
  private closed = false;

  constructor(
    private readonly native: UdpNative,
    private readonly opts: TtlUdpSocketOptions,
  ) {
    super();
  }

  private get v6(): boolean {
    return this.opts.type === 'udp6';
  }

  bind(port: number, address?: string | (() => void), cb?: () => void): this {
    const done = typeof address === 'function' ? address : cb;
    const host = typeof address === 'string' && address !== '' ? address : this.v6 ? '::' : '0.0.0.0';
    try {
      const fd = this.native.udpBind(host, port, this.opts.reuseAddr === true);
      this.fd = fd;
      this.native.udpStartReading(fd, this.opts.maxBytes, (datagrams, err) => this.onRead(datagrams, err));
    } catch (err) {
      if (this.fd !== null) this.native.close(this.fd);
      this.fd = null;
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    process.nextTick(() => {
      if (this.closed) return;
      this.emit('listening');
      done?.();
    });
    return this;
  }

  send(msg: Buffer, offset: number, length: number, port: number, address: string, cb?: (err: Error | null) => void): void {
    let err: Error | null = null;
    try {
      this.native.udpSend(this.open('send'), msg.subarray(offset, offset + length), address, port);
    } catch (e) {
      err = e instanceof Error ? e : new Error(errorMessage(e));
    }
    process.nextTick(() => cb?.(err));
  }

  address(): { address: string; family: string; port: number } {
    const a = this.native.sockname(this.open('address'));
    return { ...a, family: isIP(a.address) === 6 ? 'IPv6' : 'IPv4' };
  }

  setTTL(ttl: number): number {
    this.native.udpSetOption(this.open('setTTL'), this.v6 ? 'IPV6_UNICAST_HOPS' : 'IP_TTL', ttl);
    return ttl;
  }

  setMulticastTTL(ttl: number): number {
    this.native.udpSetOption(this.open('setMulticastTTL'), this.v6 ? 'IPV6_MULTICAST_HOPS' : 'IP_MULTICAST_TTL', ttl);
    return ttl;
  }

  setMulticastLoopback(on: boolean): boolean {
    this.native.udpSetOption(this.open('setMulticastLoopback'), this.v6 ? 'IPV6_MULTICAST_LOOP' : 'IP_MULTICAST_LOOP', on ? 1 : 0);
    return on;
  }

  addMembership(group: string, iface?: string): void {
    this.native.udpMembership(this.open('addMembership'), group, iface ?? '0.0.0.0', true);
  }

  dropMembership(group: string, iface?: string): void {
    this.native.udpMembership(this.open('dropMembership'), group, iface ?? '0.0.0.0', false);
  }

  setMulticastInterface(iface: string): void {
    this.native.udpMulticastInterface(this.open('setMulticastInterface'), iface);
  }

  close(cb?: () => void): this {
    if (!this.closed) {
      this.closed = true;
      if (this.fd !== null) this.native.close(this.fd);
      this.fd = null;
      process.nextTick(() => this.emit('close'));
    }
    if (cb) process.nextTick(cb);
    return this;
  }

  private open(what: string): number {
    if (this.fd === null) throw Object.assign(new Error(`${what}: socket is not bound or already closed`), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    return this.fd;
  }

  private onRead(datagrams: UdpDatagram[], err?: NativeErrnoError): void {
    for (const d of datagrams) {
      const rinfo: TtlRemoteInfo = { address: d.address, family: isIP(d.address) === 6 ? 'IPv6' : 'IPv4', port: d.port, size: d.data.length };
      if (d.ttl >= 0) rinfo.ttl = d.ttl;
      this.emit('message', d.data, rinfo);
    }
    if (err) this.emit('error', err);
  }
}
