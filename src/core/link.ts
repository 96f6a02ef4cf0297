/**
 * What "on this link" means: an address inside the subnet of one of our interfaces, or an
 * IPv6 link-local address. mDNS uses it for sources and announced endpoints (RFC 6762
 * §11), hole punching for the "local" endpoints a peer reports. Built from an interface
 * list (what `os.networkInterfaces()` returns, injectable for tests); pure otherwise.
 */
import { BlockList, isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';

/** An interface list as `os.networkInterfaces()` returns it. */
export type InterfaceList = NodeJS.Dict<NetworkInterfaceInfo[]>;

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** `ip` without a zone id, IPv4-mapped IPv6 as IPv4; null when it is not an IP address. */
function plain(ip: string): { addr: string; type: 'ipv4' | 'ipv6' } | null {
  const zoneless = ip.split('%', 1)[0] ?? '';
  const addr = MAPPED_V4.exec(zoneless)?.[1] ?? zoneless;
  const family = isIP(addr);
  if (family === 0) return null;
  return { addr, type: family === 4 ? 'ipv4' : 'ipv6' };
}

/** Prefix length of a netmask (`255.255.255.0` -> 24, `ffff:ffff::` -> 32); null when not contiguous. */
export function prefixLength(netmask: string): number | null {
  const m = plain(netmask);
  if (!m) return null;
  const bits =
    m.type === 'ipv4'
      ? m.addr.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('')
      : expandV6(m.addr).map((g) => g.toString(2).padStart(16, '0')).join('');
  const len = bits.indexOf('0') === -1 ? bits.length : bits.indexOf('0');
  return bits.slice(len).includes('1') ? null : len;
}

function expandV6(addr: string): number[] {
  const [head = '', tail] = addr.split('::');
  const part = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = part(head);
  const t = tail === undefined ? [] : part(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/** The subnets of our interfaces: the on-link test for mDNS sources and announced endpoints. */
export class LinkSubnets {
  private readonly list = new BlockList();
  /** Subnets as `address/prefix`, for messages and tests. */
  readonly subnets: readonly string[];

  private constructor(subnets: { addr: string; prefix: number; type: 'ipv4' | 'ipv6' }[]) {
    // IPv6 link-local is on-link by definition, whatever the interface list says.
    this.list.addSubnet('fe80::', 10, 'ipv6');
    for (const s of subnets) this.list.addSubnet(s.addr, s.prefix, s.type);
    this.subnets = subnets.map((s) => `${s.addr}/${s.prefix}`);
  }

  /** The subnets of every interface in `interfaces` (loopback included: it is this host). */
  static of(interfaces: InterfaceList): LinkSubnets {
    const out: { addr: string; prefix: number; type: 'ipv4' | 'ipv6' }[] = [];
    for (const list of Object.values(interfaces)) {
      for (const a of list ?? []) {
        const ip = plain(a.address);
        const prefix = a.cidr ? Number(a.cidr.slice(a.cidr.lastIndexOf('/') + 1)) : prefixLength(a.netmask);
        if (ip && prefix !== null && Number.isInteger(prefix)) out.push({ ...ip, prefix });
      }
    }
    return new LinkSubnets(out);
  }

  /** True when `ip` is inside one of the subnets (or IPv6 link-local). Never throws. */
  contains(ip: string): boolean {
    const p = plain(ip);
    return p !== null && this.list.check(p.addr, p.type);
  }
}
