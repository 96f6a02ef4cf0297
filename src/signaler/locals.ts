/**
 * Which self-reported local endpoints the signaler keeps and to whom it forwards them.
 * A node's local endpoints are only claims; a peer dials them first, so unchecked they
 * would let anyone aim a target's connection attempts at a victim. Pure.
 */
import { BlockList } from 'node:net';
import type { Endpoint } from '../wire/index.js';
import { SIGNAL_MAX_LOCAL_ENDPOINTS } from './limits.js';

const privateUnicast = new BlockList();
privateUnicast.addSubnet('10.0.0.0', 8, 'ipv4');
privateUnicast.addSubnet('172.16.0.0', 12, 'ipv4');
privateUnicast.addSubnet('192.168.0.0', 16, 'ipv4');
privateUnicast.addSubnet('100.64.0.0', 10, 'ipv4'); // shared address space (carrier-grade NAT)
privateUnicast.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local
privateUnicast.addSubnet('fc00::', 7, 'ipv6'); // unique local

/** True for an address in the private unicast ranges above (IPv4-mapped IPv6 as IPv4). */
export function isPrivateUnicast(host: string): boolean {
  return privateUnicast.check(host, host.includes(':') ? 'ipv6' : 'ipv4');
}

/** Why a local endpoint was not kept; counted as `locals_dropped.<reason>`. */
export type LocalDrop = 'not_private' | 'bad_port' | 'duplicate' | 'too_many';

/**
 * The local endpoints to keep from a REGISTER: private unicast addresses (or the node's
 * own `observedHost`, which tells peers it is not behind a NAT), ports 1..65535, no
 * duplicates, at most `max`, in the order given.
 */
export function filterLocals(local: readonly Endpoint[], observedHost: string, max: number = SIGNAL_MAX_LOCAL_ENDPOINTS): { kept: Endpoint[]; dropped: LocalDrop[] } {
  const kept: Endpoint[] = [];
  const dropped: LocalDrop[] = [];
  for (const e of local) {
    if (!Number.isInteger(e.port) || e.port < 1 || e.port > 0xffff) dropped.push('bad_port');
    else if (e.host !== observedHost && !isPrivateUnicast(e.host)) dropped.push('not_private');
    else if (kept.some((k) => k.host === e.host && k.port === e.port)) dropped.push('duplicate');
    else if (kept.length >= max) dropped.push('too_many');
    else kept.push({ host: e.host, port: e.port });
  }
  return { kept, dropped };
}

/**
 * The local endpoints of `owner` that may be told to a node seen at `askerHost`: all of
 * them behind the same public address (the same NAT: they can reach each other's LAN),
 * otherwise only the owner's own public address (present when it is not behind a NAT).
 */
export function localsFor(owner: { local: readonly Endpoint[]; observed: Endpoint }, askerHost: string): Endpoint[] {
  if (owner.observed.host === askerHost) return [...owner.local];
  return owner.local.filter((e) => e.host === owner.observed.host);
}
