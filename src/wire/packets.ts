/**
 * VPN payloads: PACKETS (frame type 0x30) and VPN_ADDR (0x31).
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
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ip-text.js';
import { SentinelError } from '../errors.js';

/** Most packets one PACKETS frame may carry. */
export const MAX_PACKETS_PER_FRAME = 256;
/** Largest packet a PACKETS entry can carry (its u16 length). */
export const MAX_PACKET_SIZE = 0xffff;
/** Size of a VPN_ADDR payload. */
export const VPN_ADDR_SIZE = 20;

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
  const w = new PayloadWriter(size).u16(count);
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
