/**
 * Which self-reported local endpoints the signaler keeps and to whom it forwards them.
 * A node's local endpoints are only claims; a peer dials them first, so unchecked they
 * would let anyone aim a target's connection attempts at a victim. Pure.
 */
import { BlockList } from 'node:net';
import type { Endpoint } from '../wire/index.js';
import { isGlobalIpv6 } from '../core/ip-scope.js';
import { SIGNAL_MAX_GLOBAL_V6_ENDPOINTS, SIGNAL_MAX_LOCAL_ENDPOINTS } from './limits.js';

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

/**
 * Why a local endpoint was not kept; counted as `locals_dropped.<reason>`. `not_identity_port`:
 * a global IPv6 endpoint on another port than the node's listen port.
 */
export type LocalDrop = 'not_private' | 'not_identity_port' | 'bad_port' | 'duplicate' | 'too_many';

/** Limits of {@link filterLocals}. */
export interface LocalsLimits {
  /** The node's identity port (REGISTER listenPort): the only port a global IPv6 endpoint may carry. */
  listenPort?: number;
  /** Private endpoints kept (the observed host counts as one). */
  max?: number;
  /** Global IPv6 endpoints kept. */
  maxGlobalV6?: number;
}

/**
 * The local endpoints to keep from a REGISTER, in the order given: private unicast
 * addresses (or the node's own `observedHost`, which tells peers it is not behind a NAT),
 * at most `max`; and global IPv6 addresses (2000::/3, core/ip-scope.ts) on the node's
 * identity port, at most `maxGlobalV6`: with IPv6 there is no NAT, a node is reached at
 * its own address and identity port. Ports 1..65535, no duplicates.
 *
 * A global IPv6 endpoint is a claim the signaler cannot check (the node's session may
 * not even run over IPv6), so: two at most, the identity port only, told only to peers
 * that have IPv6 themselves ({@link localsFor}), carried by at most a few PUNCH_STARTs
 * per second per /64 whoever claims them (claims.ts), and each PUNCH_START is rate-limited
 * like any other (rate.ts). What a peer does with them is bounded by its punch guard. See
 * docs/PROTOCOL.md "IPv6".
 */
export function filterLocals(local: readonly Endpoint[], observedHost: string, limits: LocalsLimits = {}): { kept: Endpoint[]; dropped: LocalDrop[] } {
  const max = limits.max ?? SIGNAL_MAX_LOCAL_ENDPOINTS;
  const maxGlobal = limits.maxGlobalV6 ?? SIGNAL_MAX_GLOBAL_V6_ENDPOINTS;
  const kept: Endpoint[] = [];
  const dropped: LocalDrop[] = [];
  let privates = 0;
  let globals = 0;
  for (const e of local) {
    const global = e.host !== observedHost && isGlobalIpv6(e.host);
    if (!Number.isInteger(e.port) || e.port < 1 || e.port > 0xffff) dropped.push('bad_port');
    else if (!global && e.host !== observedHost && !isPrivateUnicast(e.host)) dropped.push('not_private');
    else if (global && e.port !== limits.listenPort) dropped.push('not_identity_port');
    else if (kept.some((k) => k.host === e.host && k.port === e.port)) dropped.push('duplicate');
    else if (global ? globals >= maxGlobal : privates >= max) dropped.push('too_many');
    else {
      kept.push({ host: e.host, port: e.port });
      if (global) globals++;
      else privates++;
    }
  }
  return { kept, dropped };
}

/** Whether a registration has a global IPv6 address (observed, or among its kept locals). */
export function hasGlobalV6(reg: { local: readonly Endpoint[]; observed: Endpoint }): boolean {
  return isGlobalIpv6(reg.observed.host) || reg.local.some((e) => isGlobalIpv6(e.host));
}

/**
 * The local endpoints of `owner` that may be told to a node seen at `askerHost`: all of
 * them behind the same public address (the same NAT: they can reach each other's LAN),
 * otherwise only the owner's own public address (present when it is not behind a NAT),
 * and its global IPv6 endpoints when the asker has IPv6 too (`askerHasV6`; useless to
 * anyone else).
 */
export function localsFor(owner: { local: readonly Endpoint[]; observed: Endpoint }, askerHost: string, askerHasV6 = false): Endpoint[] {
  if (owner.observed.host === askerHost) return [...owner.local];
  return owner.local.filter((e) => e.host === owner.observed.host || (askerHasV6 && isGlobalIpv6(e.host)));
}
