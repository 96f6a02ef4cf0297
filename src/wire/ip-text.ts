/**
 * IP address text <-> bytes, without node:net.
 *
 * Formatting is canonical so that addresses compare as strings: IPv4 is dotted decimal;
 * IPv6 follows RFC 5952 (lowercase hex, no leading zeros, the longest run of two or more
 * zero groups - the first one on a tie - written `::`, and IPv4-mapped addresses
 * `::ffff:0:0/96` in mixed notation `::ffff:192.0.2.1`). Parsing is strict: IPv4 must be
 * four decimal octets without leading zeros; IPv6 accepts any RFC 4291 text form (one
 * `::`, an optional dotted IPv4 tail) but no zone id.
 */

const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const IPV6_GROUPS = 8;
const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Dotted text of the 4 bytes at `offset`. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 text of the 16 bytes at `offset`. */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < IPV6_GROUPS; i++) groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  if (isV4Mapped(groups)) return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  const [start, length] = longestZeroRun(groups);
  if (length < 2) return groups.map(hex).join(':');
  const head = groups.slice(0, start).map(hex).join(':');
  const tail = groups.slice(start + length).map(hex).join(':');
  return `${head}::${tail}`;
}

/** The 4 bytes of a dotted IPv4 address, or null if `text` is not one. */
export function parseIpv4(text: string): Buffer | null {
  const parts = text.split('.');
  if (parts.length !== IPV4_BYTES) return null;
  const out = Buffer.alloc(IPV4_BYTES);
  for (let i = 0; i < IPV4_BYTES; i++) {
    const part = parts[i]!;
    if (!OCTET.test(part)) return null;
    const value = Number(part);
    if (value > 0xff) return null;
    out[i] = value;
  }
  return out;
}

/** The 16 bytes of an IPv6 address in any RFC 4291 text form, or null. */
export function parseIpv6(text: string): Buffer | null {
  const gap = text.indexOf('::');
  if (gap !== text.lastIndexOf('::')) return null;
  const head = splitGroups(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : splitGroups(text.slice(gap + 2));
  const last = gap < 0 ? head : tail;
  const v4 = last.length > 0 && last[last.length - 1]!.includes('.') ? parseIpv4(last.pop()!) : undefined;
  if (v4 === null) return null;
  const count = head.length + tail.length + (v4 ? 2 : 0);
  if (gap < 0 ? count !== IPV6_GROUPS : count > IPV6_GROUPS - 1) return null;
  const out = Buffer.alloc(IPV6_BYTES);
  if (!writeGroups(out, 0, head)) return null;
  const tailStart = IPV6_BYTES - 2 * tail.length - (v4 ? IPV4_BYTES : 0);
  if (!writeGroups(out, tailStart, tail)) return null;
  if (v4) out.set(v4, IPV6_BYTES - IPV4_BYTES);
  return out;
}

/** Canonical text of any IPv4 or IPv6 address text, or null if it is neither. */
export function canonicalIp(text: string): string | null {
  const v4 = parseIpv4(text);
  if (v4) return formatIpv4(v4);
  const v6 = parseIpv6(text);
  return v6 ? formatIpv6(v6) : null;
}

function hex(group: number): string {
  return group.toString(16);
}

function isV4Mapped(groups: number[]): boolean {
  for (let i = 0; i < 5; i++) if (groups[i] !== 0) return false;
  return groups[5] === 0xffff;
}

/** [start, length] of the first longest run of zero groups. */
function longestZeroRun(groups: number[]): [number, number] {
  let best: [number, number] = [0, 0];
  let start = -1;
  for (let i = 0; i <= groups.length; i++) {
    if (i < groups.length && groups[i] === 0) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      if (i - start > best[1]) best = [start, i - start];
      start = -1;
    }
  }
  return best;
}

/** Colon-separated parts of one side of `::` (an empty side has none). */
function splitGroups(side: string): string[] {
  return side === '' ? [] : side.split(':');
}

function writeGroups(out: Buffer, offset: number, groups: string[]): boolean {
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!;
    if (!HEX_GROUP.test(group)) return false;
    out.writeUInt16BE(parseInt(group, 16), offset + 2 * i);
  }
  return true;
}
