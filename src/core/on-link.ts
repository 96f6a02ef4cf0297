/**
 * Is an address on one of this host's links: inside the subnet of one of our interfaces
 * (IPv4 or IPv6, loopback excluded)? Used wherever a peer reports "local" addresses we
 * would otherwise dial blindly.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** The subnets of `interfaces` (default: this host's, read now). */
export function localSubnets(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): BlockList {
  const list = new BlockList();
  for (const infos of Object.values(interfaces)) {
    for (const a of infos ?? []) {
      if (a.internal || !a.cidr) continue;
      const [net, bits] = a.cidr.split('/');
      const prefix = Number(bits);
      const family = a.family === 'IPv4' ? 'ipv4' : 'ipv6';
      // An IPv6 link-local address carries no zone here: it cannot be dialed anyway.
      if (net === undefined || !Number.isInteger(prefix) || (family === 'ipv6' && /^fe80:/i.test(a.address))) continue;
      list.addSubnet(net, prefix, family);
    }
  }
  return list;
}

/** True when `host` (an IP) lies inside one of `subnets` (default: this host's subnets now). */
export function isOnLink(host: string, subnets: BlockList = localSubnets()): boolean {
  const ip = MAPPED_V4.exec(host)?.[1] ?? host;
  const family = isIP(ip);
  if (family === 0) return false;
  return subnets.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
