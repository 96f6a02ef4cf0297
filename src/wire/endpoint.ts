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
import { isIP } from 'node:net';
import { PayloadReader, PayloadWriter } from './bytes.js';
import { SentinelError } from '../errors.js';

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
  const fam = isIP(host);
  if (fam === 4) return Buffer.from(host.split('.').map(Number));
  if (fam === 6) {
    const [head = '', tail = ''] = host.split('::');
    const parse = (s: string): number[] => (s ? s.split(':').flatMap((g) => (g.includes('.') ? [...ipBytesPairs(g)] : [parseInt(g, 16)])) : []);
    const h = parse(head);
    const t = host.includes('::') ? parse(tail) : [];
    const groups = host.includes('::') ? [...h, ...new Array(8 - h.length - t.length).fill(0), ...t] : h;
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
    return out;
  }
  throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: "${host}" is not an IP address`);
}

/** An embedded dotted IPv4 tail (::ffff:1.2.3.4) as two 16-bit groups. */
function ipBytesPairs(v4: string): number[] {
  const b = v4.split('.').map(Number);
  return [((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0)];
}

function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Encoded size of one endpoint. */
export function endpointSize(e: Endpoint): number {
  return isIP(e.host) === 6 ? 19 : 7;
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
