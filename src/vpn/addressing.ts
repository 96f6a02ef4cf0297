/**
 * VPN addresses, derived deterministically from a node's Ed25519 public key.
 *
 * IPv4, in the shared address space 100.64.0.0/10 (RFC 6598, 22 host bits):
 *
 *   h    = first 22 bits (big-endian) of SHA-256( "sentinel/vpn-ipv4/v1" || pubkey )
 *   host = 1 + (h mod (2^22 - 2))            -> 1 .. 2^22-2, never all-zeros or all-ones
 *   ipv4 = 100.64.0.0 + host                 -> 100.64.0.1 .. 100.127.255.254
 *
 * IPv6, in Sentinel's unique local /48 (RFC 4193), subnet 0:
 *
 *   prefix = fd || SHA-256( "sentinel/vpn-ula/v1" )[0..5]   = fd58:1b41:5e5c::/48 (a constant)
 *   iid    = SHA-256( "sentinel/vpn-ipv6/v1" || pubkey )[0..8]
 *   ipv6   = prefix || 0000 (subnet) || iid                 e.g. fd58:1b41:5e5c:0:dacf:a0c3:86a8:2302
 *
 * Domain strings are ASCII, hashed without a terminator. 22 bits make IPv4 collisions
 * likely from about 2,000 nodes on (birthday bound), so a node may override its IPv4
 * (`--vpn-ip`) and announce it with VPN_ADDR; {@link findCollisions} spots clashes. The
 * 64-bit interface id makes IPv6 collisions negligible (an all-zero iid, probability
 * 2^-64, is not special-cased).
 */
import { createHash } from 'node:crypto';
import type { NodeId } from '../api.js';
import { publicKeyFromNodeId } from '../identity/node-id.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/ip-text.js';
import type { VpnAddresses } from './types.js';

/** The IPv4 range every VPN address lies in. */
export const VPN_IPV4_PREFIX = '100.64.0.0/10';
/** Prefix length of {@link VPN_IPV4_PREFIX}. */
export const VPN_IPV4_PREFIX_LENGTH = 10;
/** Sentinel's IPv6 unique local prefix: fd || SHA-256("sentinel/vpn-ula/v1")[0..5]. */
export const VPN_IPV6_PREFIX = 'fd58:1b41:5e5c::/48';
/** Prefix length of {@link VPN_IPV6_PREFIX}. */
export const VPN_IPV6_PREFIX_LENGTH = 48;

const IPV4_DOMAIN = 'sentinel/vpn-ipv4/v1';
const IPV6_DOMAIN = 'sentinel/vpn-ipv6/v1';
const ULA_DOMAIN = 'sentinel/vpn-ula/v1';
const ULA_FIRST_BYTE = 0xfd;
const ULA_GLOBAL_ID_BYTES = 5;
const IPV6_PREFIX_BYTES = VPN_IPV6_PREFIX_LENGTH / 8;
const IID_OFFSET = 8;
const IID_BYTES = 8;

const IPV4_BASE = 0x6440_0000; // 100.64.0.0
const IPV4_HOST_BITS = 32 - VPN_IPV4_PREFIX_LENGTH;
const IPV4_HOST_MASK = (1 << IPV4_HOST_BITS) - 1;
const IPV4_PREFIX_MASK = ~IPV4_HOST_MASK >>> 0;

function sha256(domain: string, data?: Uint8Array): Buffer {
  const h = createHash('sha256').update(domain);
  if (data) h.update(data);
  return h.digest();
}

const ULA_PREFIX = Buffer.concat([Buffer.of(ULA_FIRST_BYTE), sha256(ULA_DOMAIN).subarray(0, ULA_GLOBAL_ID_BYTES)]);

/** The two VPN addresses of a node. Throws E_BAD_ID on a malformed id. */
export function vpnAddressesOf(id: NodeId): VpnAddresses {
  const pub = publicKeyFromNodeId(id);
  return { ipv4: derivedIpv4(pub), ipv6: derivedIpv6(pub) };
}

function derivedIpv4(pub: Uint8Array): string {
  const h = sha256(IPV4_DOMAIN, pub).readUIntBE(0, 3) >>> (24 - IPV4_HOST_BITS);
  const host = 1 + (h % (IPV4_HOST_MASK - 1));
  return formatIpv4(u32Bytes(IPV4_BASE + host));
}

function derivedIpv6(pub: Uint8Array): string {
  const bytes = Buffer.alloc(16);
  ULA_PREFIX.copy(bytes, 0);
  sha256(IPV6_DOMAIN, pub).copy(bytes, IID_OFFSET, 0, IID_BYTES);
  return formatIpv6(bytes);
}

function u32Bytes(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/** True for IPv4 bytes inside 100.64.0.0/10 whose host part is neither all-zeros nor all-ones. */
function isVpnIpv4Bytes(bytes: Uint8Array): boolean {
  const value = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const host = value & IPV4_HOST_MASK;
  return (value & IPV4_PREFIX_MASK) >>> 0 === IPV4_BASE && host !== 0 && host !== IPV4_HOST_MASK;
}

function isVpnIpv6Bytes(bytes: Uint8Array): boolean {
  return ULA_PREFIX.equals(bytes.subarray(0, IPV6_PREFIX_BYTES));
}

/**
 * Canonical form of a peer's announced addresses, or null unless the IPv4 is a usable
 * host of 100.64.0.0/10 and the IPv6 lies in {@link VPN_IPV6_PREFIX}.
 */
export function canonicalVpnAddresses(addrs: VpnAddresses): VpnAddresses | null {
  const v4 = parseIpv4(addrs.ipv4);
  const v6 = parseIpv6(addrs.ipv6);
  if (!v4 || !v6 || !isVpnIpv4Bytes(v4) || !isVpnIpv6Bytes(v6)) return null;
  return { ipv4: formatIpv4(v4), ipv6: formatIpv6(v6) };
}

/**
 * Canonical text of a user-chosen VPN IPv4 (`--vpn-ip`), or null unless `text` is a
 * dotted IPv4 (no leading zeros) inside 100.64.0.0/10 other than 100.64.0.0 and
 * 100.127.255.255 (the all-zeros and all-ones hosts).
 */
export function parseVpnIpv4Override(text: string): string | null {
  const bytes = parseIpv4(text.trim());
  return bytes && isVpnIpv4Bytes(bytes) ? formatIpv4(bytes) : null;
}

/** One IPv4 claimed by several nodes. */
export interface Ipv4Collision {
  ipv4: string;
  /** Distinct claimants, in order of first appearance. */
  ids: NodeId[];
}

/**
 * IPv4 addresses claimed by two or more distinct ids, in order of first appearance.
 * Addresses are compared as given (pass canonical text).
 */
export function findCollisions(entries: ReadonlyArray<{ id: NodeId; ipv4: string }>): Ipv4Collision[] {
  const byIp = new Map<string, NodeId[]>();
  for (const { id, ipv4 } of entries) {
    const ids = byIp.get(ipv4);
    if (!ids) byIp.set(ipv4, [id]);
    else if (!ids.includes(id)) ids.push(id);
  }
  const out: Ipv4Collision[] = [];
  for (const [ipv4, ids] of byIp) if (ids.length > 1) out.push({ ipv4, ids });
  return out;
}
