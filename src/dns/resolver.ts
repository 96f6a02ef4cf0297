/**
 * The DNS responder's decision: query bytes in, answer bytes out. Pure (no sockets, no
 * clock); dns-packet does the record encoding, this module the policy. The header it
 * reads before anything else (RFC 1035 section 4.1.1, big-endian):
 *
 *    0                   1
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 *   +-------------------------------+
 *   |              ID               |  echoed in every answer
 *   +-+-------+-+-+-+-+-----+-------+
 *   |Q|OPCODE |A|T|R|R|  Z  | RCODE |  QR=1 (a response): dropped, never answered (no loops)
 *   |R|       |A|C|D|A|     |       |  OPCODE != 0 (QUERY): NOTIMP
 *   +-+-------+-+-+-+-+-----+-------+
 *   |   QDCOUNT                     |  must be 1, else FORMERR
 *   |   ANCOUNT                     |  must be 0, else FORMERR
 *   |   NSCOUNT                     |  must be 0, else FORMERR
 *   |   ARCOUNT                     |  0, or 1 for an OPT record (EDNS, RFC 6891), else FORMERR
 *   +-------------------------------+
 *
 * Answers: under `.sentinel`, A/AAAA of the node the name means (names.ts), NODATA
 * (NOERROR, no records) for other types and for the zone itself, NXDOMAIN for names
 * nobody holds; outside it REFUSED (we never recurse: RA=0); REFUSED also for queries
 * the server does not take (not from this machine). AA is set on answers from the zone,
 * RD is echoed. Over UDP an answer bigger than 512 bytes (or the EDNS size, at most
 * MAX_EDNS_UDP_BYTES) goes out with TC set and no records, so the client retries on TCP.
 */
import * as dnsPacket from 'dns-packet';
import type { VpnAddresses } from '../vpn/types.js';
import { CLASSIC_UDP_BYTES, DNS_TTL_SECONDS, DNS_ZONE, MAX_EDNS_UDP_BYTES } from './limits.js';
import { nameKey } from './names.js';

const HEADER_BYTES = 12;
const QDCOUNT_AT = 4;
const ANCOUNT_AT = 6;
const NSCOUNT_AT = 8;
const ARCOUNT_AT = 10;
const OPT_TYPE = 41;
const QR_BIT = 0x8000;
const OPCODE_SHIFT = 11;
const OPCODE_MASK = 0xf;
const OPCODE_QUERY = 0;
const AA_BIT = 1 << 10;
const TC_BIT = 1 << 9;
const RD_BIT = 1 << 8;
const RCODE_MASK = 0xf;
const EDNS_VERSION = 0;

/** Response codes we send (RFC 1035, RFC 6891 for BADVERS, an extended code). */
export const Rcode = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

/** What became of a query (the server counts each as `dns.<outcome>`). */
export type DnsOutcome = 'answer' | 'nodata' | 'nxdomain' | 'refused' | 'formerr' | 'notimp' | 'badvers' | 'dropped';

/** The answer to one query; `response` is null when nothing is sent back (`dropped`). */
export interface DnsReply {
  outcome: DnsOutcome;
  /** Why, for outcomes with several causes (`refused`, `formerr`, `dropped`): a counter suffix. */
  reason?: string;
  response: Buffer | null;
  /** Set when the UDP size limit left the records out (TC=1). */
  truncated?: boolean;
}

/** What the resolver needs to know about the query's circumstances. */
export interface QueryContext {
  transport: 'udp' | 'tcp';
  /** False: the server does not take queries from this source; every valid query is REFUSED. */
  allowed: boolean;
  /** A UDP size cap below the protocol's (512, or the EDNS size): for a path known to be smaller, and tests. */
  udpLimitBytes?: number;
}

/** The addresses a name under the zone (the part before `.sentinel`, lower case) stands for. */
export type NameLookup = (key: string) => VpnAddresses | undefined;

/** Answers one DNS message. Never throws; anything malformed is FORMERR or dropped. */
export function answerQuery(query: Uint8Array, ctx: QueryContext, lookup: NameLookup): DnsReply {
  if (query.length < HEADER_BYTES) return { outcome: 'dropped', reason: 'short', response: null };
  const buf = Buffer.from(query.buffer, query.byteOffset, query.byteLength);
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & QR_BIT) return { outcome: 'dropped', reason: 'response', response: null };
  const opcode = (flags >> OPCODE_SHIFT) & OPCODE_MASK;
  const base = { id, opcode, rd: (flags & RD_BIT) !== 0 };
  if (opcode !== OPCODE_QUERY) return reply('notimp', bare(base, Rcode.NOTIMP));
  const parsed = parseQuery(buf);
  if (typeof parsed === 'string') return reply('formerr', bare(base, Rcode.FORMERR), parsed);
  const { question, edns } = parsed;
  const out: Draft = { ...base, question, edns: edns !== undefined, rcode: Rcode.NOERROR, aa: false, answers: [] };
  if (edns && edns.ednsVersion !== EDNS_VERSION) return finish('badvers', { ...out, rcode: Rcode.BADVERS }, ctx, edns);
  if (!ctx.allowed) return finish('refused', { ...out, rcode: Rcode.REFUSED }, ctx, edns, 'not_local');
  const name = question.name.toLowerCase().replace(/\.$/, '');
  const inZone = name === DNS_ZONE || name.endsWith(`.${DNS_ZONE}`);
  const klass = question.class ?? 'IN';
  if (!inZone || (klass !== 'IN' && klass !== 'ANY')) return finish('refused', { ...out, rcode: Rcode.REFUSED }, ctx, edns, 'outside_zone');
  out.aa = true;
  if (name === DNS_ZONE) return finish('nodata', out, ctx, edns);
  const key = nameKey(name.slice(0, -(DNS_ZONE.length + 1)));
  const addrs = key === null ? undefined : lookup(key);
  if (!addrs) return finish('nxdomain', { ...out, rcode: Rcode.NXDOMAIN }, ctx, edns);
  const data = question.type === 'A' ? addrs.ipv4 : question.type === 'AAAA' ? addrs.ipv6 : null;
  if (data === null) return finish('nodata', out, ctx, edns);
  out.answers = [{ name: question.name, type: question.type as 'A' | 'AAAA', class: 'IN', ttl: DNS_TTL_SECONDS, data }];
  return finish('answer', out, ctx, edns);
}

interface Base {
  id: number;
  opcode: number;
  rd: boolean;
}

interface Draft extends Base {
  question: dnsPacket.Question;
  edns: boolean;
  rcode: number;
  aa: boolean;
  answers: dnsPacket.StringAnswer[];
}

function reply(outcome: DnsOutcome, response: Buffer, reason?: string): DnsReply {
  return reason === undefined ? { outcome, response } : { outcome, reason, response };
}

/** A header-only answer (the query could not be read, or its opcode is not served). */
function bare(b: Base, rcode: number): Buffer {
  return dnsPacket.encode({ type: 'response', id: b.id, flags: headerFlags(b, rcode, false, false) });
}

function headerFlags(b: Base, rcode: number, aa: boolean, tc: boolean): number {
  return (b.opcode << OPCODE_SHIFT) | (aa ? AA_BIT : 0) | (tc ? TC_BIT : 0) | (b.rd ? RD_BIT : 0) | (rcode & RCODE_MASK);
}

/** Encodes `d`; over UDP, one too big for the client goes out truncated (TC, no records). */
function finish(outcome: DnsOutcome, d: Draft, ctx: QueryContext, edns: dnsPacket.OptAnswer | undefined, reason?: string): DnsReply {
  const encode = (tc: boolean): Buffer =>
    dnsPacket.encode({
      type: 'response',
      id: d.id,
      flags: headerFlags(d, d.rcode, d.aa, tc),
      questions: [d.question],
      answers: tc ? [] : d.answers,
      additionals: d.edns ? [ourOpt(d.rcode)] : [],
    });
  let response = encode(false);
  const protocol = edns ? Math.min(Math.max(edns.udpPayloadSize, CLASSIC_UDP_BYTES), MAX_EDNS_UDP_BYTES) : CLASSIC_UDP_BYTES;
  const limit = ctx.transport === 'tcp' ? Infinity : Math.min(protocol, ctx.udpLimitBytes ?? Infinity);
  if (response.length <= limit) return reply(outcome, response, reason);
  response = encode(true);
  return { ...reply(outcome, response, reason), truncated: true };
}

/** Our OPT record: the size we take, EDNS version 0, the upper bits of an extended RCODE. */
function ourOpt(rcode: number): dnsPacket.OptAnswer {
  return { name: '.', type: 'OPT', udpPayloadSize: MAX_EDNS_UDP_BYTES, extendedRcode: rcode >> 4, ednsVersion: EDNS_VERSION, flags: 0, flag_do: false, options: [] };
}

/**
 * The question and the OPT record of a query, or why it is malformed. The counts are
 * checked before dns-packet sees the bytes: it reserves an array per section from them
 * (up to 65,535 entries each) and expands record data (an NSEC bitmap becomes hundreds of
 * bytes of strings per byte), so a query may carry one question, no answer or authority
 * records, and at most one additional record, which must be an OPT.
 */
function parseQuery(buf: Buffer): { question: dnsPacket.Question; edns: dnsPacket.OptAnswer | undefined } | string {
  const count = (at: number): number => buf.readUInt16BE(at);
  if (count(QDCOUNT_AT) !== 1) return 'question_count';
  if (count(ANCOUNT_AT) !== 0 || count(NSCOUNT_AT) !== 0) return 'records';
  const additionals = count(ARCOUNT_AT);
  if (additionals > 1) return 'opt_count';
  // The header and question alone first, to find where the additional record starts.
  const head = Buffer.from(buf);
  head.writeUInt16BE(0, ARCOUNT_AT);
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(head);
    const end = dnsPacket.decode.bytes;
    if (additionals === 1) {
      // An OPT record: owner name the root (one zero byte), then TYPE 41.
      if (buf.length < end + 3 || buf[end] !== 0 || buf.readUInt16BE(end + 1) !== OPT_TYPE) return 'additional';
      packet = dnsPacket.decode(buf);
    }
  } catch {
    return 'undecodable';
  }
  const question = packet.questions?.[0];
  if (question === undefined) return 'question_count';
  if (!sameQuestion(buf, question)) return 'question_form';
  return { question, edns: packet.additionals?.[0] as dnsPacket.OptAnswer | undefined };
}

/**
 * True when the question is exactly as dns-packet would write it: no compression
 * pointer, no "." inside a label, UTF-8 text. Else the name we decoded may not be the
 * name that was asked (two labels "a" "b" and one label "a.b" decode alike).
 */
function sameQuestion(buf: Buffer, q: dnsPacket.Question): boolean {
  let again: Buffer;
  try {
    again = dnsPacket.encode({ id: 0, questions: [q] }).subarray(HEADER_BYTES);
  } catch {
    return false;
  }
  return buf.length >= HEADER_BYTES + again.length && buf.subarray(HEADER_BYTES, HEADER_BYTES + again.length).equals(again);
}
