/**
 * The DNS-SD records of one Sentinel node (RFC 6763), all built from the node id:
 *
 *   _sentinel._tcp.local            PTR  <id>._sentinel._tcp.local          (answer)
 *   <id>._sentinel._tcp.local       SRV  0 0 <port> <short-id>.sentinel.local
 *   <id>._sentinel._tcp.local       TXT  "id=<56-char node id>" "v=1"
 *   <short-id>.sentinel.local       A    <LAN IPv4>   (one per address)
 *   <short-id>.sentinel.local       AAAA <LAN IPv6>
 *
 * `<id>` is the full 56-character node id (a DNS label may hold 63), so instance names
 * never collide. Everything here is pure.
 */
import type { NodeId } from '../api.js';
import { shortId } from '../identity/index.js';
import { isIP } from 'node:net';
import { HOST_DOMAIN, RECORD_TTL_S, SERVICE_TYPE, TXT_VERSION } from './limits.js';
import type { MdnsRecordOut, MdnsResponseOut } from './transport.js';

/** DNS-SD service type enumeration name (RFC 6763 §9), asked by `avahi-browse -a`. */
export const SERVICES_ENUMERATION = '_services._dns-sd._udp.local';

/** What one node announces. */
export interface Announcement {
  id: NodeId;
  /** Identity (TLS) port. */
  port: number;
  /** Dialable LAN addresses. */
  addresses: string[];
}

/** `<id>._sentinel._tcp.local`. */
export function instanceName(id: NodeId): string {
  return `${id}.${SERVICE_TYPE}`;
}

/** `<short-id>.sentinel.local`, the SRV target. */
export function hostName(id: NodeId): string {
  return `${shortId(id)}.${HOST_DOMAIN}`;
}

/** The TXT strings of `id`. */
export function txtEntries(id: NodeId): string[] {
  return [`id=${id}`, `v=${TXT_VERSION}`];
}

/**
 * The response announcing `a`: the PTR as the answer, SRV, TXT and address records as
 * additionals. `ttl` 0 makes it a goodbye.
 */
export function buildAnnouncement(a: Announcement, ttl: number = RECORD_TTL_S): MdnsResponseOut {
  const instance = instanceName(a.id);
  const target = hostName(a.id);
  const additionals: MdnsRecordOut[] = [
    { name: instance, type: 'SRV', ttl, flush: true, data: { port: a.port, target, priority: 0, weight: 0 } },
    { name: instance, type: 'TXT', ttl, flush: true, data: txtEntries(a.id).map((s) => Buffer.from(s, 'utf8')) },
  ];
  for (const ip of a.addresses) {
    additionals.push({ name: target, type: isIP(ip) === 6 ? 'AAAA' : 'A', ttl, flush: true, data: ip });
  }
  return { answers: [{ name: SERVICE_TYPE, type: 'PTR', ttl, data: instance }], additionals };
}

/** The answer to a service type enumeration query: `_services._dns-sd._udp.local PTR _sentinel._tcp.local`. */
export function buildEnumeration(ttl: number = RECORD_TTL_S): MdnsRecordOut {
  return { name: SERVICES_ENUMERATION, type: 'PTR', ttl, data: SERVICE_TYPE };
}
