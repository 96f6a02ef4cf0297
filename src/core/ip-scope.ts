/**
 * Which IPv6 addresses a node may announce as reachable from the internet. Pure.
 *
 * "Global" here is the IANA global unicast block 2000::/3, the only block addresses are
 * handed out from today. Everything outside it is not announced as global: the
 * unspecified address, loopback `::1`, IPv4-mapped `::ffff:0:0/96` and IPv4-compatible
 * `::/96`, link-local `fe80::/10` (needs a zone, means nothing off the link), deprecated
 * site-local `fec0::/10`, unique local `fc00::/7` (a private network's addresses, treated
 * like 10/8 or 192.168/16: announced only as LAN addresses), multicast `ff00::/8`.
 *
 * The documentation prefix 2001:db8::/32 lies inside 2000::/3 and is accepted on purpose:
 * the NAT lab uses it as "the IPv6 internet", and it is never routed on the real one, so
 * it appears on no real interface. The kernel also gives it global scope.
 */
import { parseIpv4, parseIpv6 } from '../wire/ip-text.js';

/** The 16 bytes of an IPv6 address text (a zone id `%eth0` is ignored), or null. */
function v6Bytes(host: string): Buffer | null {
  const zoneless = host.split('%', 1)[0] ?? '';
  if (parseIpv4(zoneless)) return null;
  return parseIpv6(zoneless);
}

/** True for an IPv6 global unicast address (2000::/3); never for IPv4 text. */
export function isGlobalIpv6(host: string): boolean {
  const b = v6Bytes(host);
  return b !== null && (b[0]! & 0xe0) === 0x20;
}

/** True for an IPv6 unique local address (fc00::/7). */
export function isUniqueLocalIpv6(host: string): boolean {
  const b = v6Bytes(host);
  return b !== null && (b[0]! & 0xfe) === 0xfc;
}

/** True for an IPv6 link-local address (fe80::/10). */
export function isLinkLocalIpv6(host: string): boolean {
  const b = v6Bytes(host);
  return b !== null && b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
}
