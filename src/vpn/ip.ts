/**
 * Minimal, strict IP packet parsing: just what the router needs (version, addresses, length).
 *
 *   IPv4 (RFC 791)                          IPv6 (RFC 8200)
 *   byte 0      version (4) | IHL (words)   byte 0      version (6) | traffic class
 *   bytes 2-3   total length                bytes 4-5   payload length
 *   bytes 12-15 source                      bytes 8-23  source
 *   bytes 16-19 destination                 bytes 24-39 destination
 *
 * A packet is malformed (null) when it is shorter than its fixed header, has a version
 * other than 4 or 6, an IPv4 IHL below 5 (20 bytes), or a declared length that is not
 * exactly the buffer length: IPv4 total length (which must also cover the IHL header)
 * or IPv6 40 + payload length. Trailing bytes are rejected too: a TUN read and a PACKETS
 * entry each carry exactly one packet, so a mismatch is a bug or an attack. Checksums and
 * options are not inspected (the receiving kernel checks them).
 */
import { formatIpv4, formatIpv6 } from '../wire/ip-text.js';

/** Bytes in an IPv4 header without options. */
export const IPV4_MIN_HEADER = 20;
/** Bytes in the fixed IPv6 header. */
export const IPV6_HEADER = 40;

const MIN_IHL = 5;
const V4_TOTAL_LENGTH = 2;
const V4_SRC = 12;
const V4_DST = 16;
const V6_PAYLOAD_LENGTH = 4;
const V6_SRC = 8;
const V6_DST = 24;

/** What the router needs to know about one packet. */
export interface IpPacketInfo {
  version: 4 | 6;
  /** Canonical source address text (see ip-text.ts). */
  src: string;
  /** Canonical destination address text. */
  dst: string;
  /** Declared packet length, equal to the buffer length. */
  length: number;
}

/** Parses the header of one IP packet; null if the packet is malformed. Never throws. */
export function parseIpPacket(buf: Uint8Array): IpPacketInfo | null {
  if (buf.length === 0) return null;
  const version = buf[0]! >> 4;
  if (version === 4) return parseIpv4Header(buf);
  if (version === 6) return parseIpv6Header(buf);
  return null;
}

function parseIpv4Header(buf: Uint8Array): IpPacketInfo | null {
  if (buf.length < IPV4_MIN_HEADER) return null;
  const ihl = buf[0]! & 0x0f;
  const total = u16(buf, V4_TOTAL_LENGTH);
  if (ihl < MIN_IHL || total < ihl * 4 || total !== buf.length) return null;
  return { version: 4, src: formatIpv4(buf, V4_SRC), dst: formatIpv4(buf, V4_DST), length: total };
}

function parseIpv6Header(buf: Uint8Array): IpPacketInfo | null {
  if (buf.length < IPV6_HEADER) return null;
  const total = IPV6_HEADER + u16(buf, V6_PAYLOAD_LENGTH);
  if (total !== buf.length) return null;
  return { version: 6, src: formatIpv6(buf, V6_SRC), dst: formatIpv6(buf, V6_DST), length: total };
}

function u16(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 8) | buf[offset + 1]!;
}
