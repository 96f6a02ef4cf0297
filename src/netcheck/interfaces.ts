/** This host's global IPv6 addresses (2000::/3), for netcheck on both sides. */
import { networkInterfaces } from 'node:os';
import { isGlobalIpv6 } from '../core/ip-scope.js';
import type { InterfaceList } from '../core/link.js';

/**
 * Global IPv6 addresses of this host's interfaces (no link-local, no zone id), or none when
 * `host` is a listen address that excludes IPv6 (an IPv4 address, `0.0.0.0`).
 */
export function globalIpv6Addresses(host: string | undefined, interfaces: InterfaceList = networkInterfaces()): string[] {
  if (host !== undefined && host !== '::' && !host.includes(':')) return [];
  const out: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.family === 'IPv6' && !a.internal && (a.scopeid ?? 0) === 0 && isGlobalIpv6(a.address) && !out.includes(a.address)) out.push(a.address);
    }
  }
  if (host !== undefined && host !== '::') return out.includes(host) ? [host] : [];
  return out;
}
