/**
 * TUN offloads in software: the virtio_net_hdr that an offload TUN (IFF_VNET_HDR +
 * TUNSETOFFLOAD, see native/tun.c) puts before each packet, the strict check of a TCP
 * super-segment's GSO metadata, its segmentation into MSS-sized packets, and checksum
 * completion. Pure functions over Buffers: no I/O, never throws on bad input (a reason or
 * null comes back instead).
 *
 * struct virtio_net_hdr (10 bytes, host order: little-endian, the only order we enable):
 *
 *    0       1          2         4          6            8             10
 *    +-------+----------+---------+----------+------------+-------------+
 *    | flags | gso_type | hdr_len | gso_size | csum_start | csum_offset |
 *    |  u8   |    u8    |   u16   |   u16    |    u16     |     u16     |
 *    +-------+----------+---------+----------+------------+-------------+
 *
 * Only what TCP segmentation offload produces is accepted: gso_type NONE (a whole packet,
 * possibly with a partial checksum: flags NEEDS_CSUM) or TCPV4 / TCPV6 (a super-segment:
 * one IP + TCP header and up to 64 KiB of payload, to be cut into gso_size pieces). For a
 * super-segment every field is recomputed from the packet's own headers and must match:
 * csum_start = the IP header length (IPv4 without fragmentation, IPv6 without extension
 * headers, protocol TCP), csum_offset = 16, hdr_len = csum_start + the TCP header length,
 * and each resulting segment fits the MTU. (A kernel's read sets hdr_len to its linear
 * head, which need not be the TCP header end; {@link gsoFromTun} recomputes it.)
 */
import type { PacketGso } from '../wire/packets.js';

export const VNET_HDR_SIZE = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_TCPV6 = 4;
/** Most segments one super-segment may expand to (both sides refuse more). */
export const MAX_GSO_SEGMENTS = 128;
/** Largest super-segment carried (a u16 length on the wire; IPv4's own limit). */
export const MAX_GSO_PACKET = 0xffff;

const TCP_PROTO = 6;
const TCP_CSUM_OFFSET = 16;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** A decoded virtio_net_hdr: the same fields a PACKETS_GSO entry carries. */
export type VnetHeader = PacketGso;

/** Reads the little-endian header at `offset` (the caller checked the length). */
export function readVnetHeader(buf: Uint8Array, offset = 0): VnetHeader {
  const u16 = (o: number): number => buf[offset + o]! | (buf[offset + o + 1]! << 8);
  return { flags: buf[offset]!, gsoType: buf[offset + 1]!, hdrLen: u16(2), gsoSize: u16(4), csumStart: u16(6), csumOffset: u16(8) };
}

/** Writes `h` little-endian at `offset`; undefined writes zeros (a plain packet). */
export function writeVnetHeader(buf: Uint8Array, offset: number, h: VnetHeader | undefined): void {
  const put = (o: number, v: number): void => {
    buf[offset + o] = v & 0xff;
    buf[offset + o + 1] = (v >> 8) & 0xff;
  };
  buf[offset] = h?.flags ?? 0;
  buf[offset + 1] = h?.gsoType ?? 0;
  put(2, h?.hdrLen ?? 0);
  put(4, h?.gsoSize ?? 0);
  put(6, h?.csumStart ?? 0);
  put(8, h?.csumOffset ?? 0);
}

/** Headers of a TCP packet over IPv4 (no fragment) or IPv6 (no extension header). */
interface TcpLayout {
  version: 4 | 6;
  ipLen: number;
  tcpLen: number;
}

function u16be(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function tcpLayout(p: Uint8Array): TcpLayout | null {
  if (p.length < 1) return null;
  const version = p[0]! >> 4;
  let ipLen: number;
  if (version === 4) {
    if (p.length < 20) return null;
    ipLen = (p[0]! & 0x0f) * 4;
    if (ipLen < 20 || p[9] !== TCP_PROTO || u16be(p, 2) !== p.length) return null;
    if ((u16be(p, 6) & 0x3fff) !== 0) return null; // MF or a fragment offset
  } else if (version === 6) {
    ipLen = 40;
    if (p.length < 40 || p[6] !== TCP_PROTO || 40 + u16be(p, 4) !== p.length) return null;
  } else {
    return null;
  }
  if (p.length < ipLen + 20) return null;
  const tcpLen = (p[ipLen + 12]! >> 4) * 4;
  if (tcpLen < 20 || ipLen + tcpLen > p.length) return null;
  return { version, ipLen, tcpLen };
}

/**
 * The GSO metadata of a TCP super-segment, recomputed from its headers: null unless the
 * packet is TCP over IPv4/IPv6 of a matching `gsoType`, with 1..MAX_GSO_SEGMENTS segments
 * of gsoSize that each fit `mtu`, and at most MAX_GSO_PACKET bytes.
 */
export function tcpGsoHeader(packet: Uint8Array, gsoType: number, gsoSize: number, mtu: number, bounded = true): VnetHeader | null {
  if (bounded && packet.length > MAX_GSO_PACKET) return null;
  const l = tcpLayout(packet);
  if (!l || gsoType !== (l.version === 4 ? GSO_TCPV4 : GSO_TCPV6)) return null;
  const hdrLen = l.ipLen + l.tcpLen;
  const payload = packet.length - hdrLen;
  if (!Number.isInteger(gsoSize) || gsoSize < 1 || hdrLen + gsoSize > mtu || payload < 1) return null;
  if (bounded && Math.ceil(payload / gsoSize) > MAX_GSO_SEGMENTS) return null;
  return { flags: VNET_F_NEEDS_CSUM, gsoType, hdrLen, gsoSize, csumStart: l.ipLen, csumOffset: TCP_CSUM_OFFSET };
}

/** Strict check of a peer's super-segment metadata: every field must equal the recomputed one. */
export function checkGso(packet: Uint8Array, h: VnetHeader, mtu: number): boolean {
  const want = tcpGsoHeader(packet, h.gsoType, h.gsoSize, mtu);
  return (
    want !== null && h.flags === want.flags && h.hdrLen === want.hdrLen && h.csumStart === want.csumStart && h.csumOffset === want.csumOffset
  );
}

/**
 * What a TUN read's header says about its packet: 'plain' (checksums complete; a partial
 * one has just been completed in place), a super-segment's recomputed header, or null
 * (something TCP segmentation offload does not produce, or out of bounds). A super-segment
 * from our own kernel may exceed MAX_GSO_PACKET or MAX_GSO_SEGMENTS: see {@link withinGsoLimits}.
 */
export function gsoFromTun(packet: Buffer, h: VnetHeader, mtu: number): VnetHeader | 'plain' | null {
  if (h.gsoType === GSO_NONE) {
    if ((h.flags & VNET_F_NEEDS_CSUM) === 0) return 'plain';
    return completeChecksum(packet, h.csumStart, h.csumOffset) ? 'plain' : null;
  }
  return tcpGsoHeader(packet, h.gsoType, h.gsoSize, mtu, false);
}

/** Whether a super-segment may be sent to a peer as one (else it is segmented here). */
export function withinGsoLimits(packet: Uint8Array, h: VnetHeader): boolean {
  return packet.length <= MAX_GSO_PACKET && Math.ceil((packet.length - h.hdrLen) / h.gsoSize) <= MAX_GSO_SEGMENTS;
}

/** One's-complement sum of bytes [start, end) as 16-bit big-endian words, added to `sum`. */
export function sum16(b: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}

/** Folds a sum to 16 bits (not complemented). */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The pseudo-header sum of a TCP packet with `l4Len` bytes of TCP header + data. */
function pseudoSum(p: Uint8Array, version: 4 | 6, l4Len: number): number {
  const s = version === 4 ? sum16(p, 12, 20) : sum16(p, 8, 40);
  return s + TCP_PROTO + l4Len;
}

/**
 * Completes a partial checksum (flags NEEDS_CSUM): the field at csumStart + csumOffset
 * holds the pseudo-header sum; the sum from csumStart to the end goes there, complemented.
 * False (packet untouched) when the offsets fall outside the packet.
 */
export function completeChecksum(packet: Uint8Array, csumStart: number, csumOffset: number): boolean {
  const field = csumStart + csumOffset;
  if (csumStart < 1 || field + 2 > packet.length || (csumOffset & 1) !== 0) return false;
  let c = ~fold(sum16(packet, csumStart, packet.length)) & 0xffff;
  if (c === 0 && csumOffset === 6) c = 0xffff; // UDP: zero means "no checksum"
  packet[field] = c >> 8;
  packet[field + 1] = c & 0xff;
  return true;
}

function ipv4HeaderChecksum(p: Uint8Array, ipLen: number): void {
  p[10] = 0;
  p[11] = 0;
  const c = ~fold(sum16(p, 0, ipLen)) & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

/**
 * Prepares a checked super-segment for an offload TUN write, in place: the IPv4 header
 * checksum and the TCP checksum field as the kernel expects for a partial checksum (the
 * folded pseudo-header sum over the whole TCP length), whatever the peer put there.
 */
export function prepareGsoWrite(packet: Uint8Array, h: VnetHeader): void {
  const version = h.gsoType === GSO_TCPV4 ? 4 : 6;
  if (version === 4) ipv4HeaderChecksum(packet, h.csumStart);
  const field = h.csumStart + h.csumOffset;
  const s = fold(pseudoSum(packet, version, packet.length - h.csumStart));
  packet[field] = s >> 8;
  packet[field + 1] = s & 0xff;
}

/**
 * Cuts a checked super-segment into packets of at most hdrLen + gsoSize bytes, as the
 * kernel's TCP segmentation would: sequence numbers advance by the payload, the IPv4 id
 * increments per segment, FIN and PSH stay on the last segment only and CWR on the first,
 * and every IP and TCP checksum is computed in full. `h` must come from
 * {@link tcpGsoHeader} or have passed {@link checkGso}.
 */
export function segmentTso(packet: Uint8Array, h: VnetHeader): Buffer[] {
  const version = h.gsoType === GSO_TCPV4 ? 4 : 6;
  const ipLen = h.csumStart;
  const hdrLen = h.hdrLen;
  const payload = packet.length - hdrLen;
  const count = Math.ceil(payload / h.gsoSize);
  const seq0 = ((packet[ipLen + 4]! << 24) | (packet[ipLen + 5]! << 16) | (packet[ipLen + 6]! << 8) | packet[ipLen + 7]!) >>> 0;
  const id0 = version === 4 ? u16be(packet, 4) : 0;
  const flags0 = packet[ipLen + 13]!;
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const start = hdrLen + k * h.gsoSize;
    const n = Math.min(h.gsoSize, packet.length - start);
    const seg = Buffer.allocUnsafe(hdrLen + n);
    seg.set(packet.subarray(0, hdrLen), 0);
    seg.set(packet.subarray(start, start + n), hdrLen);
    if (version === 4) {
      seg.writeUInt16BE(hdrLen + n, 2);
      seg.writeUInt16BE((id0 + k) & 0xffff, 4);
      ipv4HeaderChecksum(seg, ipLen);
    } else {
      seg.writeUInt16BE(hdrLen - 40 + n, 4);
    }
    seg.writeUInt32BE((seq0 + k * h.gsoSize) >>> 0, ipLen + 4);
    let flags = flags0;
    if (k < count - 1) flags &= ~(TCP_FIN | TCP_PSH);
    if (k > 0) flags &= ~TCP_CWR;
    seg[ipLen + 13] = flags;
    seg[ipLen + 16] = 0;
    seg[ipLen + 17] = 0;
    const c = ~fold(sum16(seg, ipLen, seg.length, pseudoSum(seg, version, seg.length - ipLen))) & 0xffff;
    seg.writeUInt16BE(c, ipLen + 16);
    out.push(seg);
  }
  return out;
}

/**
 * The super-segment without its last segment (a view of `packet` with the IP length
 * fixed; FIN goes with the last segment), or null when it has only one. For dropping one
 * inner packet (see aqm.ts); the caller recomputes checksums ({@link prepareGsoWrite} or
 * {@link segmentTso}).
 */
export function withoutLastSegment(packet: Buffer, h: VnetHeader): Buffer | null {
  const payload = packet.length - h.hdrLen;
  if (payload <= h.gsoSize) return null;
  const last = payload % h.gsoSize || h.gsoSize;
  const p = packet.subarray(0, packet.length - last);
  if (h.gsoType === GSO_TCPV4) p.writeUInt16BE(p.length, 2);
  else p.writeUInt16BE(p.length - 40, 4);
  p[h.csumStart + 13] = p[h.csumStart + 13]! & ~TCP_FIN;
  return p;
}

/** The TCP checksum of a whole packet is right (over the pseudo-header and the segment). */
export function tcpChecksumOk(packet: Uint8Array): boolean {
  const l = tcpLayout(packet);
  if (!l) return false;
  const len = packet.length - l.ipLen;
  return fold(sum16(packet, l.ipLen, packet.length, pseudoSum(packet, l.version, len))) === 0xffff;
}

function sameBytes(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Can `q` follow a run that starts with `first` (k segments of `size` bytes so far)? */
function continues(first: Uint8Array, l: TcpLayout, q: Uint8Array, k: number, size: number, runLen: number): boolean {
  const m = tcpLayout(q);
  if (!m || m.version !== l.version || m.ipLen !== l.ipLen || m.tcpLen !== l.tcpLen) return false;
  const hdrLen = l.ipLen + l.tcpLen;
  const n = q.length - hdrLen;
  if (n < 1 || n > size || runLen + n > MAX_GSO_PACKET || k + 1 > MAX_GSO_SEGMENTS) return false;
  const t = l.ipLen;
  if (l.version === 4) {
    // Same header but the length, the id (consecutive) and the checksum.
    if (!sameBytes(first, q, 0, 2) || !sameBytes(first, q, 6, 10) || !sameBytes(first, q, 12, t)) return false;
    if (u16be(q, 4) !== ((u16be(first, 4) + k) & 0xffff)) return false;
  } else if (!sameBytes(first, q, 0, 4) || !sameBytes(first, q, 6, 40)) {
    return false;
  }
  // Same ports, ack, window and options; the sequence number follows on; ACK (+ PSH on the last) only.
  if (!sameBytes(first, q, t, t + 4) || !sameBytes(first, q, t + 8, t + 13) || !sameBytes(first, q, t + 14, t + 16)) return false;
  if (!sameBytes(first, q, t + 18, t + l.tcpLen)) return false;
  const seq = (u16be(first, t + 4) * 0x10000 + u16be(first, t + 6) + runLen - hdrLen) % 0x100000000;
  if (u16be(q, t + 4) * 0x10000 + u16be(q, t + 6) !== seq) return false;
  return (q[t + 13]! & ~(TCP_PSH | 0x10)) === 0 && tcpChecksumOk(q);
}

/** Does a run starting with `p` qualify (a TCP segment with ACK, no PSH/FIN/SYN/RST/URG, a right checksum)? */
function startsRun(p: Uint8Array): TcpLayout | null {
  const l = tcpLayout(p);
  if (!l || p.length - l.ipLen - l.tcpLen < 1) return null;
  return (p[l.ipLen + 13]! & ~0x10) === 0 && tcpChecksumOk(p) ? l : null;
}

/**
 * Merges runs of consecutive TCP segments of one flow into super-segments for an offload
 * TUN write (software GRO): same headers but for lengths, IPv4 ids (consecutive) and
 * sequence numbers (contiguous), equal sizes but for a shorter last one, flags ACK only
 * (PSH allowed on the last), checksums verified first, and within MAX_GSO_PACKET and
 * MAX_GSO_SEGMENTS. Everything else passes through unchanged, in order. A merged packet is
 * a new Buffer, ready for the write (its checksum fields as {@link prepareGsoWrite} sets them).
 */
export function coalesceTcp(packets: readonly Buffer[]): { packets: Buffer[]; vnet: (VnetHeader | undefined)[] } {
  const out: Buffer[] = [];
  const vnet: (VnetHeader | undefined)[] = [];
  let i = 0;
  while (i < packets.length) {
    const first = packets[i]!;
    const l = startsRun(first);
    let j = i + 1;
    if (l) {
      const hdrLen = l.ipLen + l.tcpLen;
      const size = first.length - hdrLen;
      let runLen = first.length;
      while (j < packets.length && continues(first, l, packets[j]!, j - i, size, runLen)) {
        runLen += packets[j]!.length - hdrLen;
        j++;
        if (packets[j - 1]!.length - hdrLen < size || (packets[j - 1]![l.ipLen + 13]! & TCP_PSH) !== 0) break;
      }
      if (j - i > 1) {
        const merged = Buffer.allocUnsafe(runLen);
        merged.set(first, 0);
        let o = first.length;
        for (let k = i + 1; k < j; k++) {
          merged.set(packets[k]!.subarray(hdrLen), o);
          o += packets[k]!.length - hdrLen;
        }
        const last = packets[j - 1]!;
        merged[l.ipLen + 13] = last[l.ipLen + 13]!;
        if (l.version === 4) merged.writeUInt16BE(runLen, 2);
        else merged.writeUInt16BE(runLen - 40, 4);
        const h: VnetHeader = {
          flags: VNET_F_NEEDS_CSUM,
          gsoType: l.version === 4 ? GSO_TCPV4 : GSO_TCPV6,
          hdrLen,
          gsoSize: size,
          csumStart: l.ipLen,
          csumOffset: TCP_CSUM_OFFSET,
        };
        prepareGsoWrite(merged, h);
        out.push(merged);
        vnet.push(h);
        i = j;
        continue;
      }
    }
    out.push(first);
    vnet.push(undefined);
    i++;
  }
  return { packets: out, vnet };
}

/** The TSval of a TCP packet's timestamp option (RFC 7323), or undefined without one. */
export function tcpTsval(packet: Uint8Array, h: VnetHeader): number | undefined {
  const t = h.csumStart;
  for (let o = t + 20; o < h.hdrLen; ) {
    const kind = packet[o]!;
    if (kind === 0) return undefined;
    if (kind === 1) {
      o++;
      continue;
    }
    const len = packet[o + 1] ?? 0;
    if (len < 2 || o + len > h.hdrLen) return undefined;
    if (kind === 8 && len === 10) return ((packet[o + 2]! << 24) | (packet[o + 3]! << 16) | (packet[o + 4]! << 8) | packet[o + 5]!) >>> 0;
    o += len;
  }
  return undefined;
}

/** A key for the TCP flow of a packet: its addresses and ports. */
export function tcpFlowKey(packet: Buffer, h: VnetHeader): string {
  const t = h.csumStart;
  return h.gsoType === GSO_TCPV4 ? packet.toString('latin1', 12, 20) + packet.toString('latin1', t, t + 4) : packet.toString('latin1', 8, 40) + packet.toString('latin1', t, t + 4);
}
