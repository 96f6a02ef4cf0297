/**
 * Which IP addresses an announcement may carry: real unicast addresses another host on the
 * LAN can dial. Loopback, unspecified, multicast, reserved and (zone-less, so undialable)
 * IPv6 link-local addresses are refused, whether we send them or receive them.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

const refused = new BlockList();
refused.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network", incl. unspecified
refused.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
refused.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
refused.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, incl. limited broadcast
refused.addAddress('::', 'ipv6'); // unspecified
refused.addAddress('::1', 'ipv6'); // loopback
refused.addSubnet('fe80::', 10, 'ipv6'); // link-local: needs a zone id we cannot carry
refused.addSubnet('ff00::', 8, 'ipv6'); // multicast

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The canonical form of `ip` if it is a dialable unicast address (IPv4-mapped IPv6 becomes
 * IPv4), or null. Never throws.
 */
export function usableAddress(ip: string): string | null {
  const mapped = MAPPED_V4.exec(ip);
  const addr = mapped?.[1] ?? ip;
  const family = isIP(addr);
  if (family === 0) return null;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return refused.check(addr, type) ? null : addr.toLowerCase();
}

/**
 * This host's real LAN addresses (non-internal IPv4 and global IPv6 of every interface),
 * for {@link MdnsDiscoveryOptions.addresses}. `interfaces` is injectable for tests.
 */
export function lanAddresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  const out: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      const ok = usableAddress(a.address);
      if (ok !== null && !out.includes(ok)) out.push(ok);
    }
  }
  return out;
}
