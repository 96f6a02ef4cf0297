/**
 * Test helpers for the TUN offload tests: TCP packet builders and checksums written
 * independently of src/vpn/offload.ts (an explicit pseudo-header, RFC 1071 over it).
 */
import { parseIpv4, parseIpv6 } from '../../src/vpn/index.js';

export const ACK = 0x10;
export const PSH = 0x08;
export const FIN = 0x01;
export const CWR = 0x80;
export const SYN = 0x02;

/** RFC 1071 Internet checksum of the concatenated buffers (complemented). */
export function inetChecksum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts.map((p) => Buffer.from(p)));
  const even = all.length % 2 === 0 ? all : Buffer.concat([all, Buffer.alloc(1)]);
  let sum = 0;
  for (let i = 0; i < even.length; i += 2) {
    sum += even.readUInt16BE(i);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

/** The explicit pseudo-header of a TCP segment of `l4Len` bytes. */
export function pseudoHeader(p: Buffer, l4Len: number): Buffer {
  if (p[0]! >> 4 === 4) {
    const ph = Buffer.alloc(12);
    p.copy(ph, 0, 12, 20);
    ph[9] = 6;
    ph.writeUInt16BE(l4Len, 10);
    return ph;
  }
  const ph = Buffer.alloc(40);
  p.copy(ph, 0, 8, 40);
  ph.writeUInt32BE(l4Len, 32);
  ph[39] = 6;
  return ph;
}

export function ipHeaderLength(p: Buffer): number {
  return p[0]! >> 4 === 4 ? (p[0]! & 0x0f) * 4 : 40;
}

/** True when the TCP checksum of a whole segment verifies. */
export function tcpValid(p: Buffer): boolean {
  const ipLen = ipHeaderLength(p);
  return inetChecksum(pseudoHeader(p, p.length - ipLen), p.subarray(ipLen)) === 0;
}

/** True when the IPv4 header checksum verifies. */
export function ipv4Valid(p: Buffer): boolean {
  return inetChecksum(p.subarray(0, ipHeaderLength(p))) === 0;
}

export interface TcpOpts {
  version: 4 | 6;
  payload: Buffer;
  seq?: number;
  id?: number;
  flags?: number;
  /** TCP options (a multiple of 4 bytes); default a timestamp option (12 bytes). */
  options?: Buffer;
  src?: string;
  dst?: string;
  srcPort?: number;
}

export const V4 = { src: '100.64.1.1', dst: '100.64.2.2' };
export const V6 = { src: 'fd53:6e74:1::1', dst: 'fd53:6e74:2::2' };
const TS_OPTION = Buffer.from([1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78]);

/** A TCP segment (or super-segment) with valid IP and TCP checksums. */
export function tcpPacket(o: TcpOpts): Buffer {
  const options = o.options ?? TS_OPTION;
  const ipLen = o.version === 4 ? 20 : 40;
  const tcpLen = 20 + options.length;
  const p = Buffer.alloc(ipLen + tcpLen + o.payload.length);
  if (o.version === 4) {
    p.set([0x45, 0x00], 0);
    p.writeUInt16BE(p.length, 2);
    p.writeUInt16BE(o.id ?? 0x1234, 4);
    p.set([0x40, 0x00, 64, 6], 6);
    p.set(parseIpv4(o.src ?? V4.src)!, 12);
    p.set(parseIpv4(o.dst ?? V4.dst)!, 16);
    p.writeUInt16BE(inetChecksum(p.subarray(0, 20)), 10);
  } else {
    p.writeUInt32BE(0x6000_0000, 0);
    p.writeUInt16BE(p.length - 40, 4);
    p.set([6, 64], 6);
    p.set(parseIpv6(o.src ?? V6.src)!, 8);
    p.set(parseIpv6(o.dst ?? V6.dst)!, 24);
  }
  p.writeUInt16BE(o.srcPort ?? 40000, ipLen);
  p.writeUInt16BE(5201, ipLen + 2);
  p.writeUInt32BE((o.seq ?? 1000) >>> 0, ipLen + 4);
  p.writeUInt32BE(777, ipLen + 8);
  p[ipLen + 12] = (tcpLen / 4) << 4;
  p[ipLen + 13] = o.flags ?? ACK;
  p.writeUInt16BE(512, ipLen + 14);
  options.copy(p, ipLen + 20);
  o.payload.copy(p, ipLen + tcpLen);
  p.writeUInt16BE(inetChecksum(pseudoHeader(p, p.length - ipLen), p.subarray(ipLen)), ipLen + 16);
  return p;
}

/** Deterministic payload bytes. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}
