/**
 * Strict reading of untrusted mDNS packets (already decoded by dns-packet, but every
 * field is checked here). Nothing throws: what does not fit is dropped with a reason the
 * caller counts.
 */
import type { NodeId } from '../api.js';
import { isNodeId } from '../identity/index.js';
import { usableAddress } from './address.js';
import {
  MAX_ADDRESSES_PER_ANNOUNCEMENT,
  MAX_INSTANCES_PER_PACKET,
  MAX_PACKET_BYTES,
  MAX_RECORDS_PER_PACKET,
  MAX_TXT_ENTRY_BYTES,
  SERVICE_TYPE,
  TXT_VERSION,
} from './limits.js';
import { SERVICES_ENUMERATION, hostName, instanceName, type Announcement } from './records.js';
import type { MdnsPacketIn, MdnsQuestionOut } from './transport.js';

/** Why (part of) a packet was dropped; each is counted as `mdns.dropped.<reason>`. */
export type DropReason =
  | 'bad_packet'
  | 'too_many_records'
  | 'too_many_instances'
  | 'bad_instance'
  | 'bad_srv'
  | 'bad_txt'
  | 'bad_version'
  | 'bad_id'
  | 'name_mismatch'
  | 'bad_address'
  | 'too_many_addresses'
  | 'no_address'
  | 'too_large';

/** What a response packet told us. */
export interface ParsedResponse {
  /** Well-formed announcements of other nodes. */
  peers: Announcement[];
  /** Well-formed announcements carrying our own id (our own multicast, looped back). */
  own: number;
  /** Goodbye PTRs (TTL 0): ignored, an announcement is only a hint. */
  goodbyes: number;
  dropped: DropReason[];
}

/** A record as decoded, checked for the fields every record has. */
interface RecordIn {
  name: string;
  /** `name` lowercased once: names are compared per instance, and lowercasing each time cost O(instances x records) copies (found by fuzzing). */
  key: string;
  type: string;
  ttl: number;
  data: unknown;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function asRecord(x: unknown): RecordIn | null {
  if (typeof x !== 'object' || x === null) return null;
  const r = x as Record<string, unknown>;
  if (typeof r['name'] !== 'string' || typeof r['type'] !== 'string') return null;
  const ttl = typeof r['ttl'] === 'number' && Number.isFinite(r['ttl']) ? r['ttl'] : 0;
  return { name: r['name'], key: r['name'].toLowerCase(), type: r['type'], ttl, data: r['data'] };
}

/** The records of the answer and additional sections, or a reason to drop the packet. */
function recordsOf(packet: MdnsPacketIn): RecordIn[] | DropReason {
  const sections = [packet.answers ?? [], packet.additionals ?? []];
  if (!sections.every(Array.isArray)) return 'bad_packet';
  // Count before copying: dns-packet can return tens of thousands of records for a small packet (found by fuzzing).
  if ((sections as unknown[][]).reduce((n, s) => n + s.length, 0) > MAX_RECORDS_PER_PACKET) return 'too_many_records';
  return (sections as unknown[][]).flat().map(asRecord).filter((r): r is RecordIn => r !== null);
}

/** TXT data (a string, a Buffer or a list of them) as key/value pairs; null when malformed. */
export function parseTxt(data: unknown): Map<string, string> | null {
  const entries = Array.isArray(data) ? data : [data];
  const out = new Map<string, string>();
  for (const e of entries) {
    const buf = typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.isBuffer(e) ? e : null;
    if (buf === null || buf.length > MAX_TXT_ENTRY_BYTES) return null;
    if (buf.length === 0) continue; // an empty TXT record is one empty string (RFC 6763 §6.1)
    const text = buf.toString('utf8');
    const eq = text.indexOf('=');
    if (eq <= 0) return null;
    const key = text.slice(0, eq).toLowerCase();
    if (out.has(key)) return null;
    out.set(key, text.slice(eq + 1));
  }
  return out;
}

function srvOf(records: RecordIn[], instanceKey: string): { port: number; target: string } | null {
  const srv = records.filter((r) => r.type === 'SRV' && r.key === instanceKey);
  if (srv.length !== 1) return null;
  const d = srv[0]?.data;
  if (typeof d !== 'object' || d === null) return null;
  const { port, target } = d as Record<string, unknown>;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  if (typeof target !== 'string' || target === '') return null;
  return { port, target };
}

/** Reads one service instance; `dropped` collects per-address and whole-instance reasons. */
function readInstance(records: RecordIn[], instance: string, dropped: DropReason[]): Announcement | null {
  const key = instance.toLowerCase();
  if (!key.endsWith(`.${SERVICE_TYPE}`)) return fail(dropped, 'bad_instance');
  const srv = srvOf(records, key);
  if (!srv) return fail(dropped, 'bad_srv');
  const txts = records.filter((r) => r.type === 'TXT' && r.key === key);
  const txt = txts.length === 1 ? parseTxt(txts[0]?.data) : null;
  if (!txt) return fail(dropped, 'bad_txt');
  if (txt.get('v') !== TXT_VERSION) return fail(dropped, 'bad_version');
  const id = txt.get('id');
  if (id === undefined || !isNodeId(id)) return fail(dropped, 'bad_id');
  if (!same(instance, instanceName(id)) || !same(srv.target, hostName(id))) return fail(dropped, 'name_mismatch');
  const target = srv.target.toLowerCase();
  const raw = records.filter((r) => (r.type === 'A' || r.type === 'AAAA') && r.key === target);
  if (raw.length > MAX_ADDRESSES_PER_ANNOUNCEMENT) return fail(dropped, 'too_many_addresses');
  const addresses: string[] = [];
  for (const r of raw) {
    const ip = typeof r.data === 'string' ? usableAddress(r.data) : null;
    if (ip === null) dropped.push('bad_address');
    else if (!addresses.includes(ip)) addresses.push(ip);
  }
  if (addresses.length === 0) return fail(dropped, 'no_address');
  return { id, port: srv.port, addresses };
}

function fail(dropped: DropReason[], reason: DropReason): null {
  dropped.push(reason);
  return null;
}

/** Bytes in a DNS header (RFC 1035 §4.1.1): id, flags, then the four section counts. */
const DNS_HEADER_BYTES = 12;
/** Smallest question: the root name (1 byte), type and class. */
const MIN_QUESTION_BYTES = 5;
/** Smallest resource record: the root name (1 byte), type, class, TTL and data length. */
const MIN_RECORD_BYTES = 11;

/**
 * Checks a raw packet's header before it is decoded; null when it may be decoded.
 *
 * dns-packet trusts the section counts, and a record that ends early rewinds its reader
 * to the start of the packet: a 160-byte packet declaring 3 x 65,535 records decodes to
 * 196,605 of them (about 1 s of CPU, found by fuzzing). So a packet is refused when it
 * declares more questions, or more records, than MAX_RECORDS_PER_PACKET (we would not
 * look at them anyway) or more than its length can hold, and when it is longer than
 * MAX_PACKET_BYTES. Never throws.
 */
export function checkPacketHeader(packet: Uint8Array): DropReason | null {
  if (packet.length > MAX_PACKET_BYTES) return 'too_large';
  if (packet.length < DNS_HEADER_BYTES) return 'bad_packet';
  const count = (at: number): number => (packet[at]! << 8) | packet[at + 1]!;
  const questions = count(4);
  const records = count(6) + count(8) + count(10);
  if (questions > MAX_RECORDS_PER_PACKET || records > MAX_RECORDS_PER_PACKET) return 'too_many_records';
  if (questions * MIN_QUESTION_BYTES + records * MIN_RECORD_BYTES > packet.length - DNS_HEADER_BYTES) return 'bad_packet';
  return null;
}

/** Reads every Sentinel announcement in a response packet. */
export function parseResponse(packet: MdnsPacketIn, selfId: NodeId): ParsedResponse {
  const result: ParsedResponse = { peers: [], own: 0, goodbyes: 0, dropped: [] };
  const records = recordsOf(packet);
  if (typeof records === 'string') {
    result.dropped.push(records);
    return result;
  }
  const ptrs = records.filter((r) => r.type === 'PTR' && r.key === SERVICE_TYPE);
  if (ptrs.length > MAX_INSTANCES_PER_PACKET) {
    result.dropped.push('too_many_instances');
    return result;
  }
  for (const ptr of ptrs) {
    if (typeof ptr.data !== 'string') {
      result.dropped.push('bad_instance');
    } else if (ptr.ttl === 0) {
      result.goodbyes++;
    } else {
      const a = readInstance(records, ptr.data, result.dropped);
      if (a && a.id === selfId) result.own++;
      else if (a) result.peers.push(a);
    }
  }
  return result;
}

/** Which of our names a query asks about. */
export interface QueryMatch {
  /** The service, our instance or our host name: answer with the whole announcement. */
  service: boolean;
  /** The DNS-SD service type enumeration. */
  enumeration: boolean;
  /** The matching questions (echoed in legacy unicast answers). */
  questions: MdnsQuestionOut[];
}

const ANSWERABLE: Record<string, readonly string[]> = {
  service: ['PTR', 'ANY'],
  instance: ['SRV', 'TXT', 'ANY'],
  host: ['A', 'AAAA', 'ANY'],
};

/** Matches the questions of a query against our names. */
export function matchQuery(packet: MdnsPacketIn, selfId: NodeId): QueryMatch {
  const match: QueryMatch = { service: false, enumeration: false, questions: [] };
  const questions = Array.isArray(packet.questions) ? packet.questions.slice(0, MAX_RECORDS_PER_PACKET) : [];
  const names: [string, readonly string[]][] = [
    [SERVICE_TYPE.toLowerCase(), ANSWERABLE['service'] ?? []],
    [instanceName(selfId).toLowerCase(), ANSWERABLE['instance'] ?? []],
    [hostName(selfId).toLowerCase(), ANSWERABLE['host'] ?? []],
  ];
  const enumeration = SERVICES_ENUMERATION.toLowerCase();
  for (const q of questions) {
    const { name, type } = (typeof q === 'object' && q !== null ? q : {}) as Record<string, unknown>;
    if (typeof name !== 'string' || typeof type !== 'string') continue;
    const asked = { name, type } as MdnsQuestionOut;
    const key = name.toLowerCase(); // once per question, not once per comparison
    if (key === enumeration && (type === 'PTR' || type === 'ANY')) {
      match.enumeration = true;
      match.questions.push(asked);
    } else if (names.some(([n, types]) => key === n && types.includes(type))) {
      match.service = true;
      match.questions.push(asked);
    }
  }
  return match;
}
