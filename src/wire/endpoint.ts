/**
 * Transport endpoint (IP address + TCP port), used inside signaler messages.
 *
 *    IPv4:  +--------+----------+--------+        IPv6:  +--------+-----------+--------+
 *           | fam=4  | addr 4B  |  port  |               | fam=6  | addr 16B  |  port  |
 *           |   u8   |          |  u16   |               |   u8   |           |  u16   |
 *           +--------+----------+--------+               +--------+-----------+--------+
 *
 * An endpoint list is `u8 count (0..MAX_ENDPOINTS) | count x endpoint`.
 */
import { PayloadReader, PayloadWriter } from './bytes.js';
import { SentinelError } from '../errors.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ip-text.js';

/** Most endpoints in one list (a node's local addresses). */
export const MAX_ENDPOINTS = 16;

export interface Endpoint {
  /** Dotted IPv4 or canonical IPv6 text. */
  host: string;
  port: number;
}

const FAMILY_V4 = 4;
const FAMILY_V6 = 6;

function ipBytes(host: string): Buffer {
  const bytes = parseIpv4(host) ?? parseIpv6(host);
  if (!bytes) throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: "${host}" is not an IP address`);
  return bytes;
}

function ipText(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIpv4(bytes) : formatIpv6(bytes);
}

/** Encoded size of one endpoint. */
export function endpointSize(e: Endpoint): number {
  return parseIpv4(e.host) ? 7 : 19;
}

export function endpointListSize(list: readonly Endpoint[]): number {
  return 1 + list.reduce((n, e) => n + endpointSize(e), 0);
}

export function writeEndpoint(w: PayloadWriter, e: Endpoint): void {
  if (!Number.isInteger(e.port) || e.port < 0 || e.port > 0xffff) throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: bad port ${e.port}`);
  const ip = ipBytes(e.host);
  w.u8(ip.length === 4 ? FAMILY_V4 : FAMILY_V6).bytes(ip).u16(e.port);
}

export function readEndpoint(r: PayloadReader): Endpoint {
  const fam = r.u8();
  if (fam !== FAMILY_V4 && fam !== FAMILY_V6) r.fail(`unknown address family ${fam}`);
  const host = ipText(r.bytes(fam === FAMILY_V4 ? 4 : 16));
  return { host, port: r.u16() };
}

export function writeEndpointList(w: PayloadWriter, list: readonly Endpoint[]): void {
  if (list.length > MAX_ENDPOINTS) throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: at most ${MAX_ENDPOINTS} endpoints`);
  w.u8(list.length);
  for (const e of list) writeEndpoint(w, e);
}

export function readEndpointList(r: PayloadReader): Endpoint[] {
  const count = r.u8();
  if (count > MAX_ENDPOINTS) r.fail(`${count} endpoints (max ${MAX_ENDPOINTS})`);
  const out: Endpoint[] = [];
  for (let i = 0; i < count; i++) out.push(readEndpoint(r));
  return out;
}
