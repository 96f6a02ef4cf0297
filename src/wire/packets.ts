/**
 * VPN payloads: PACKETS (frame type 0x30), VPN_ADDR (0x31) and PACKETS_GSO (0x32).
 *
 * PACKETS carries a batch of whole IP packets between the VPN routers of two nodes:
 *
 *    0        2        4              4+len[0]  6+len[0]
 *    +--------+--------+--------------+---------+--------------+-----+
 *    | count  | len[0] |  packet[0]   | len[1]  |  packet[1]   | ... |
 *    |  u16   |  u16   | len[0] bytes |   u16   | len[1] bytes |     |
 *    +--------+--------+--------------+---------+--------------+-----+
 *
 * count is 1..MAX_PACKETS_PER_FRAME (256); each len is 1..65535; the entries must fill
 * the payload exactly, and the whole payload is at most MAX_PAYLOAD_SIZE (the frame cap).
 * The codec does not look inside the packets (the router parses them).
 *
 * PACKETS_GSO carries the same batches, each entry with the GSO metadata of a TCP
 * super-segment (the fields of Linux's struct virtio_net_hdr, here big-endian), so that a
 * 64 KiB TSO read from one TUN is written whole to the other. Sent only to a peer whose
 * HELLO has HELLO_FLAG_GSO (0x02):
 *
 *    0        2         6        8       9          10        12         14           16            18
 *    +--------+---------+--------+-------+----------+---------+----------+------------+-------------+--------+-----
 *    | count  | sent_us | len[0] | flags | gso_type | hdr_len | gso_size | csum_start | csum_offset | packet | len[1] ...
 *    |  u16   |   u32   |  u16   |  u8   |    u8    |   u16   |   u16    |    u16     |     u16     | len[0] |
 *    +--------+---------+--------+-------+----------+---------+----------+------------+-------------+--------+-----
 *
 * sent_us is the sender's monotonic clock in microseconds, modulo 2^32, when it encoded the
 * frame: the receiver measures the queueing delay from it (src/vpn/aqm.ts). count is
 * 1..MAX_PACKETS_PER_FRAME, len 1..65535 (the packet only), and the entries fill
 * the payload exactly. gso_type is 0 (NONE: a whole packet with complete checksums; every
 * other field 0), 1 (TCPV4) or 4 (TCPV6); for a super-segment flags is 1 (NEEDS_CSUM),
 * gso_size >= 1, hdr_len <= len and csum_start + csum_offset + 2 <= hdr_len. The codec
 * checks only these bounds; the receiver's router recomputes every field from the
 * packet's own headers and drops the entry unless they match (src/vpn/offload.ts).
 *
 * VPN_ADDR announces the VPN addresses the sender uses (its derived ones, or an IPv4
 * chosen with --vpn-ip):
 *
 *    0        4                  20
 *    +--------+------------------+
 *    |  ipv4  |       ipv6       |
 *    |   4B   |       16B        |
 *    +--------+------------------+
 *
 * The payload is exactly 20 bytes; the codec turns the addresses into canonical text
 * (ip-text.ts). Whether they lie in the VPN prefixes is the receiver's check (the VPN
 * router refuses them otherwise), not the codec's.
 */
import { PayloadReader, PayloadWriter } from './bytes.js';
import { MAX_PAYLOAD_SIZE } from './frame.js';
import { FrameType } from './types.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ip-text.js';
import { SentinelError } from '../errors.js';

/** Most packets one PACKETS frame may carry. */
export const MAX_PACKETS_PER_FRAME = 256;
/** Largest packet a PACKETS entry can carry (its u16 length). */
export const MAX_PACKET_SIZE = 0xffff;
/** Size of a VPN_ADDR payload. */
export const VPN_ADDR_SIZE = 20;

/** GSO metadata of a PACKETS_GSO entry (struct virtio_net_hdr's fields). */
export interface PacketGso {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/** Decoded PACKETS_GSO: packets (views into the payload) and, per packet, its GSO metadata (undefined: none). */
export interface PacketsGso {
  /** The sender's clock (microseconds modulo 2^32) when it encoded the frame. */
  sentUs: number;
  packets: Buffer[];
  gso: (PacketGso | undefined)[];
}

const GSO_ENTRY_META = 10;
/** count u16 + sent_us u32. */
const GSO_HEAD_SIZE = 6;
const GSO_TYPES = new Set([0, 1, 4]);

const COUNT_SIZE = 2;
const LENGTH_SIZE = 2;
const IPV4_SIZE = 4;
const IPV6_SIZE = 16;

function malformed(detail: string): never {
  throw new SentinelError('E_PAYLOAD_MALFORMED', detail);
}

function checkPacket(packet: Uint8Array, index: number): void {
  if (!(packet instanceof Uint8Array) || packet.length < 1 || packet.length > MAX_PACKET_SIZE) {
    malformed(`encode: PACKETS entry ${index} must be 1..${MAX_PACKET_SIZE} bytes`);
  }
}

/**
 * Encodes one PACKETS payload. Throws E_PAYLOAD_MALFORMED on a bad count, a bad packet
 * size or a payload over MAX_PAYLOAD_SIZE (use {@link encodePacketBatches} to split).
 */
export function encodePackets(packets: readonly Uint8Array[]): Buffer {
  const count = packets.length;
  if (count < 1 || count > MAX_PACKETS_PER_FRAME) {
    malformed(`encode: PACKETS needs 1..${MAX_PACKETS_PER_FRAME} packets, got ${count}`);
  }
  let size = COUNT_SIZE;
  packets.forEach((p, i) => {
    checkPacket(p, i);
    size += LENGTH_SIZE + p.length;
  });
  if (size > MAX_PAYLOAD_SIZE) malformed(`encode: PACKETS payload of ${size} bytes exceeds ${MAX_PAYLOAD_SIZE}`);
  const w = new PayloadWriter(size, FrameType.PACKETS).u16(count);
  for (const p of packets) w.u16(p.length).bytes(p);
  return w.done();
}

/**
 * Encodes any number of packets as the fewest PACKETS payloads that respect both caps,
 * keeping their order. An empty list gives no payloads. Same errors as {@link encodePackets}.
 */
export function encodePacketBatches(packets: readonly Uint8Array[]): Buffer[] {
  const payloads: Buffer[] = [];
  let batch: Uint8Array[] = [];
  let size = COUNT_SIZE;
  packets.forEach((p, i) => {
    checkPacket(p, i);
    const entry = LENGTH_SIZE + p.length;
    if (batch.length === MAX_PACKETS_PER_FRAME || size + entry > MAX_PAYLOAD_SIZE) {
      payloads.push(encodePackets(batch));
      batch = [];
      size = COUNT_SIZE;
    }
    batch.push(p);
    size += entry;
  });
  if (batch.length > 0) payloads.push(encodePackets(batch));
  return payloads;
}

/**
 * Decodes a PACKETS payload strictly. Throws E_PAYLOAD_MALFORMED.
 *
 * Unlike the other decoders, the packets are views into `payload`, not copies: this is
 * the data path, and the frame decoder gives every frame a payload buffer of its own.
 * Copy them if `payload` will be reused.
 */
export function decodePackets(payload: Uint8Array): Buffer[] {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buf.length > MAX_PAYLOAD_SIZE) malformed(`PACKETS: payload of ${buf.length} bytes exceeds ${MAX_PAYLOAD_SIZE}`);
  if (buf.length < COUNT_SIZE) malformed('PACKETS: truncated count');
  const count = buf.readUInt16BE(0);
  if (count < 1 || count > MAX_PACKETS_PER_FRAME) malformed(`PACKETS: count ${count} not in 1..${MAX_PACKETS_PER_FRAME}`);
  const packets: Buffer[] = [];
  let offset = COUNT_SIZE;
  for (let i = 0; i < count; i++) {
    if (buf.length - offset < LENGTH_SIZE) malformed(`PACKETS: truncated length of entry ${i}`);
    const length = buf.readUInt16BE(offset);
    offset += LENGTH_SIZE;
    if (length === 0) malformed(`PACKETS: entry ${i} is empty`);
    if (buf.length - offset < length) malformed(`PACKETS: entry ${i} needs ${length} byte(s), ${buf.length - offset} left`);
    packets.push(buf.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== buf.length) malformed(`PACKETS: ${buf.length - offset} trailing byte(s)`);
  return packets;
}

function gsoProblem(g: PacketGso | undefined, len: number): string | null {
  if (g === undefined) return null;
  if (!GSO_TYPES.has(g.gsoType)) return `gso_type ${g.gsoType} is not NONE, TCPV4 or TCPV6`;
  if (g.gsoType === 0) {
    return g.flags || g.hdrLen || g.gsoSize || g.csumStart || g.csumOffset ? 'gso_type NONE with non-zero metadata' : null;
  }
  if (g.flags !== 1) return `flags ${g.flags} (a super-segment needs NEEDS_CSUM only)`;
  if (g.gsoSize < 1 || g.gsoSize > 0xffff) return `gso_size ${g.gsoSize}`;
  if (g.hdrLen > len || g.hdrLen > 0xffff) return `hdr_len ${g.hdrLen} beyond the packet (${len})`;
  if (g.csumStart + g.csumOffset + 2 > g.hdrLen || g.csumStart > 0xffff || g.csumOffset > 0xffff) return 'csum_start/csum_offset beyond hdr_len';
  return null;
}

/**
 * Encodes packets and their GSO metadata (undefined = a plain packet) as the fewest
 * PACKETS_GSO payloads within both caps, in order. Throws E_PAYLOAD_MALFORMED on a bad
 * packet size or metadata out of the codec's bounds.
 */
export function encodePacketsGsoBatches(packets: readonly Uint8Array[], gso: readonly (PacketGso | undefined)[], sentUs: number): Buffer[] {
  const payloads: Buffer[] = [];
  let start = 0;
  let size = GSO_HEAD_SIZE;
  const stamp = sentUs >>> 0;
  const flush = (end: number): void => {
    // Built in place behind its frame header: one buffer for the session's write (frame.ts).
    const w = new PayloadWriter(size, FrameType.PACKETS_GSO).u16(end - start).u32(stamp);
    for (let i = start; i < end; i++) {
      const p = packets[i]!;
      const g = gso[i];
      w.u16(p.length).u8(g?.flags ?? 0).u8(g?.gsoType ?? 0).u16(g?.hdrLen ?? 0).u16(g?.gsoSize ?? 0).u16(g?.csumStart ?? 0).u16(g?.csumOffset ?? 0).bytes(p);
    }
    payloads.push(w.done());
    start = end;
    size = GSO_HEAD_SIZE;
  };
  packets.forEach((p, i) => {
    checkPacket(p, i);
    const problem = gsoProblem(gso[i], p.length);
    if (problem) malformed(`encode: PACKETS_GSO entry ${i}: ${problem}`);
    const entry = LENGTH_SIZE + GSO_ENTRY_META + p.length;
    if (i - start === MAX_PACKETS_PER_FRAME || size + entry > MAX_PAYLOAD_SIZE) flush(i);
    size += entry;
  });
  if (start < packets.length) flush(packets.length);
  return payloads;
}

/**
 * Decodes a PACKETS_GSO payload strictly (layout and metadata bounds; see the diagram).
 * Throws E_PAYLOAD_MALFORMED. Packets are views into `payload`, as for PACKETS.
 */
export function decodePacketsGso(payload: Uint8Array): PacketsGso {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buf.length > MAX_PAYLOAD_SIZE) malformed(`PACKETS_GSO: payload of ${buf.length} bytes exceeds ${MAX_PAYLOAD_SIZE}`);
  if (buf.length < GSO_HEAD_SIZE) malformed('PACKETS_GSO: truncated head');
  const count = buf.readUInt16BE(0);
  if (count < 1 || count > MAX_PACKETS_PER_FRAME) malformed(`PACKETS_GSO: count ${count} not in 1..${MAX_PACKETS_PER_FRAME}`);
  const out: PacketsGso = { sentUs: buf.readUInt32BE(2), packets: [], gso: [] };
  let o = GSO_HEAD_SIZE;
  for (let i = 0; i < count; i++) {
    if (buf.length - o < LENGTH_SIZE + GSO_ENTRY_META) malformed(`PACKETS_GSO: truncated entry ${i}`);
    const length = buf.readUInt16BE(o);
    const g: PacketGso = {
      flags: buf[o + 2]!,
      gsoType: buf[o + 3]!,
      hdrLen: buf.readUInt16BE(o + 4),
      gsoSize: buf.readUInt16BE(o + 6),
      csumStart: buf.readUInt16BE(o + 8),
      csumOffset: buf.readUInt16BE(o + 10),
    };
    o += LENGTH_SIZE + GSO_ENTRY_META;
    if (length === 0) malformed(`PACKETS_GSO: entry ${i} is empty`);
    if (buf.length - o < length) malformed(`PACKETS_GSO: entry ${i} needs ${length} byte(s), ${buf.length - o} left`);
    const problem = gsoProblem(g, length);
    if (problem) malformed(`PACKETS_GSO: entry ${i}: ${problem}`);
    out.packets.push(buf.subarray(o, o + length));
    out.gso.push(g.gsoType === 0 ? undefined : g);
    o += length;
  }
  if (o !== buf.length) malformed(`PACKETS_GSO: ${buf.length - o} trailing byte(s)`);
  return out;
}

/** Decoded VPN_ADDR: the sender's addresses as canonical text (see ip-text.ts). */
export interface VpnAddr {
  /** Dotted IPv4. */
  ipv4: string;
  /** RFC 5952 IPv6. */
  ipv6: string;
}

/** Encodes a VPN_ADDR payload. Throws E_PAYLOAD_MALFORMED unless both texts are addresses of their family. */
export function encodeVpnAddr(addr: VpnAddr): Buffer {
  const ipv4 = parseIpv4(addr.ipv4);
  const ipv6 = parseIpv6(addr.ipv6);
  if (!ipv4) malformed(`encode: VPN_ADDR ipv4 "${addr.ipv4}" is not a dotted IPv4 address`);
  if (!ipv6) malformed(`encode: VPN_ADDR ipv6 "${addr.ipv6}" is not an IPv6 address`);
  return new PayloadWriter(VPN_ADDR_SIZE).bytes(ipv4).bytes(ipv6).done();
}

/** Decodes a VPN_ADDR payload strictly (exactly 20 bytes). Throws E_PAYLOAD_MALFORMED. */
export function decodeVpnAddr(payload: Uint8Array): VpnAddr {
  const r = new PayloadReader(payload, 'VPN_ADDR');
  const ipv4 = r.bytes(IPV4_SIZE);
  const ipv6 = r.bytes(IPV6_SIZE);
  r.end();
  return { ipv4: formatIpv4(ipv4), ipv6: formatIpv6(ipv6) };
}
