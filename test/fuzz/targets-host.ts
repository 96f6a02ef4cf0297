/**
 * Fuzz targets of the parsers outside the frame codecs: mDNS packets, control request
 * lines, IP packets and address text, node ids, peer certificates, the punch preamble.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import dnsPacket from 'dns-packet';
import {
  MAX_ADDRESSES_PER_ANNOUNCEMENT,
  MAX_INSTANCES_PER_PACKET,
  MAX_RECORDS_PER_PACKET,
  SERVICES_ENUMERATION,
  SERVICE_TYPE,
  buildAnnouncement,
  hostName,
  instanceName,
  matchQuery,
  parseResponse,
  usableAddress,
  type MdnsPacketIn,
  type MdnsResponseOut,
} from '../../src/discovery/index.js';
import { checkPacketHeader } from '../../src/discovery/parse.js';
import { LineSplitter } from '../../src/control/lines.js';
import { MAX_LINE_BYTES } from '../../src/control/protocol.js';
import { parseRequest } from '../../src/control/request.js';
import { parseIpPacket } from '../../src/vpn/ip.js';
import { canonicalIp, parseIpv4, parseIpv6 } from '../../src/wire/index.js';
import {
  isNodeId,
  MIN_STRANGER_PREFIX,
  nodeIdFromCertificate,
  nodeIdFromPublicKey,
  publicKeyFromNodeId,
  resolveNodeId,
  selfSignedCertificateDer,
} from '../../src/identity/index.js';
import { classifyFirstByte, decodePreamble, encodePreamble } from '../../src/punch/preamble.js';
import type { ErrorCode } from '../../src/errors.js';
import { REFUSED, expect, measureBounded, mustNotThrow, onlyCoded, parseBounded } from './check.js';
import { DNS_PACKET_ALLOC_PER_BYTE } from './limits.js';
import { ALICE, BOB, V4_PACKET, V6_PACKET, fixedIdentity } from './seeds.js';
import { chunked, codecTarget, type FuzzTarget } from './target.js';

// --- mDNS ---------------------------------------------------------------------------

/** Our own id in the mDNS target: announcements of it count as `own`. */
const SELF = ALICE.id;
/** Most drop reasons one packet can produce: per instance, every address record and a final one. */
const MAX_DROPS_PER_PACKET = MAX_INSTANCES_PER_PACKET * (MAX_ADDRESSES_PER_ANNOUNCEMENT + 1) + 1;

function checkResponse(packet: MdnsPacketIn): void {
  const parsed = mustNotThrow('parseResponse', () => parseResponse(packet, SELF));
  expect(parsed.peers.length + parsed.own + parsed.goodbyes <= MAX_INSTANCES_PER_PACKET, () => `${parsed.peers.length} peers from one packet`);
  expect(parsed.dropped.length <= MAX_DROPS_PER_PACKET, () => `${parsed.dropped.length} drop reasons from one packet`);
  for (const p of parsed.peers) {
    expect(isNodeId(p.id) && p.id !== SELF, () => `peer id ${p.id}`);
    expect(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535, () => `peer port ${p.port}`);
    expect(p.addresses.length >= 1 && p.addresses.length <= MAX_ADDRESSES_PER_ANNOUNCEMENT, () => `${p.addresses.length} addresses`);
    expect(new Set(p.addresses).size === p.addresses.length, () => 'duplicate addresses');
    for (const a of p.addresses) expect(usableAddress(a) === a, () => `address ${a} is not usable and canonical`);
  }
}

function checkQuery(packet: MdnsPacketIn): void {
  const match = mustNotThrow('matchQuery', () => matchQuery(packet, SELF));
  expect(match.questions.length <= MAX_RECORDS_PER_PACKET, () => `${match.questions.length} questions echoed`);
  for (const q of match.questions) expect(typeof q.name === 'string' && typeof q.type === 'string', () => 'echoed a question without name/type');
  expect(match.service || match.enumeration || match.questions.length === 0, () => 'questions echoed without a match');
}

/**
 * Raw UDP payload as the node receives it: the header check, dns-packet's decode (a throw
 * there is multicast-dns' 'warning', counted), then our parsers. Both parsers run on
 * every packet (the node picks one by the QR bit). dns-packet's allocation is bounded too
 * (it runs on every packet anyone sends to port 5353), with its own per-byte allowance.
 */
function runMdns(data: Buffer): void {
  if (mustNotThrow('checkPacketHeader', () => checkPacketHeader(data)) !== null) return;
  const packet = measureBounded('dns-packet decode', data.length, DNS_PACKET_ALLOC_PER_BYTE * data.length, () => {
    try {
      return dnsPacket.decode(data) as unknown as MdnsPacketIn;
    } catch {
      return null;
    }
  });
  if (packet === null) return;
  measureBounded('parseResponse + matchQuery', data.length, 0, () => {
    checkResponse(packet);
    checkQuery(packet);
  });
}

function encodeResponse(r: MdnsResponseOut): Buffer {
  return dnsPacket.encode({ type: 'response', ...r } as unknown as dnsPacket.Packet);
}

function encodeQuery(questions: { name: string; type: string }[]): Buffer {
  return dnsPacket.encode({ type: 'query', questions } as unknown as dnsPacket.Packet);
}

function mdnsSeeds(): Uint8Array[] {
  const peer = BOB.id;
  return [
    encodeResponse(buildAnnouncement({ id: peer, port: 7000, addresses: ['192.168.1.10', '2001:db8::7'] })),
    encodeResponse(buildAnnouncement({ id: SELF, port: 7001, addresses: ['10.0.0.2'] })),
    encodeResponse(buildAnnouncement({ id: peer, port: 7000, addresses: ['192.168.1.10'] }, 0)),
    encodeQuery([{ name: SERVICE_TYPE, type: 'PTR' }]),
    encodeQuery([{ name: instanceName(SELF), type: 'SRV' }, { name: hostName(SELF), type: 'A' }]),
    encodeQuery([{ name: SERVICES_ENUMERATION, type: 'PTR' }]),
  ];
}

// --- control requests ---------------------------------------------------------------

interface Split {
  lines: string[];
  oversize: boolean;
  buffered: number;
}

function split(maxLineBytes: number, chunks: readonly Uint8Array[]): Split {
  const s = new LineSplitter({ maxLineBytes });
  const lines: string[] = [];
  let oversize = false;
  for (const c of chunks) {
    const r = mustNotThrow('LineSplitter.push', () => s.push(c));
    lines.push(...r.lines);
    oversize ||= r.oversize;
    expect(s.bufferedBytes <= maxLineBytes, () => `splitter holds ${s.bufferedBytes} bytes, cap ${maxLineBytes}`);
  }
  return { lines, oversize, buffered: s.bufferedBytes };
}

/**
 * Input layout: `[chunk seed][cap][stream...]`; cap < 0x80 gives maxLineBytes 1 + 16 x cap,
 * otherwise MAX_LINE_BYTES. Lines must not depend on the chunking; each line goes to
 * parseRequest, which answers and never throws; an accepted request re-parses to itself.
 */
function runControl(data: Buffer): void {
  if (data.length < 2) return;
  const cap = data[1]! < 0x80 ? 1 + 16 * data[1]! : MAX_LINE_BYTES;
  const stream = data.subarray(2);
  const whole = measureBounded('LineSplitter on one chunk', stream.length, 0, () => split(cap, [stream]));
  const pieces = split(cap, chunked(stream, data[0]!));
  expect(whole.oversize === pieces.oversize && whole.buffered === pieces.buffered, () => 'chunking changed oversize or buffered bytes');
  expect(whole.lines.length === pieces.lines.length && whole.lines.every((l, i) => l === pieces.lines[i]), () => 'chunking changed the lines');
  for (const line of whole.lines) {
    expect(line.length <= cap, () => `a line of ${line.length} units passed cap ${cap}`);
    const parsed = mustNotThrow('parseRequest', () => parseRequest(line));
    if (!parsed.ok) continue;
    const text = JSON.stringify(parsed.request);
    const again = mustNotThrow('parseRequest of a re-serialised request', () => parseRequest(text));
    expect(again.ok && JSON.stringify(again.request) === text, () => `accepted request does not re-parse to itself: ${text.slice(0, 200)}`);
  }
}

function controlSeeds(): Uint8Array[] {
  const requests = [
    { id: 1, method: 'status' },
    { id: 'a', method: 'send', params: { target: BOB.id.slice(0, 8), text: 'hi\n' } },
    { id: 2, method: 'history', params: { target: null, limit: 5 } },
    { id: 3, method: 'dial', params: { target: '127.0.0.1:7000' } },
    { id: 4, method: 'alias', params: { target: BOB.id, alias: 'bob' } },
  ];
  const lines = requests.map((r) => JSON.stringify(r)).join('\n');
  return [
    Buffer.from(`\x05\xff${lines}\n`),
    Buffer.from(`\x09\x02${lines.replace(/\n/g, '\r\n')}\r\n{"id":5,"method":"peers"}`),
    Buffer.from('\x01\x00not json\n{"id":[],"method":1}\n'),
  ];
}

// --- IP packets and address text -----------------------------------------------------

function runIpPacket(data: Buffer): void {
  const info = parseBounded('parseIpPacket', [], data, 0, () => parseIpPacket(data));
  if (info === REFUSED || info === null) return;
  expect(info.length === data.length && info.version === data[0]! >> 4, () => `length ${info.length} / version ${info.version} do not match the packet`);
  const [src, dst, parse] = info.version === 4 ? [12, 16, parseIpv4] : [8, 24, parseIpv6];
  const size = info.version === 4 ? 4 : 16;
  expect(parse(info.src)?.equals(data.subarray(src, src + size)) === true, () => `src ${info.src} is not the header's`);
  expect(parse(info.dst)?.equals(data.subarray(dst, dst + size)) === true, () => `dst ${info.dst} is not the header's`);
}

/** Text through canonicalIp (VPN_ADDR, --vpn-ip, endpoints) and usableAddress (mDNS address records). */
function runIpText(data: Buffer): void {
  const text = data.toString('utf8');
  const canonical = mustNotThrow('canonicalIp', () => canonicalIp(text));
  if (canonical !== null) {
    expect(canonicalIp(canonical) === canonical, () => `canonicalIp is not idempotent on ${canonical}`);
    const bytes = (s: string): Buffer | null => parseIpv4(s) ?? parseIpv6(s);
    expect(bytes(canonical)?.equals(bytes(text)!) === true, () => `${text} and its canonical ${canonical} differ`);
  }
  const usable = mustNotThrow('usableAddress', () => usableAddress(text));
  if (usable !== null) expect(usableAddress(usable) === usable, () => `usableAddress is not idempotent on ${usable}`);
}

const IP_TEXTS = ['192.0.2.1', '2001:DB8:0:0:0:0:0:1', '::ffff:10.1.2.3', '::', 'fe80::1%eth0', '1:2:3:4:5:6:1.2.3.4', '001.2.3.4'];

// --- node ids and certificates -------------------------------------------------------

/** Codes id resolution documents (E_ID_TOO_SHORT and E_BAD_ID come with the trust work). */
const RESOLVE_CODES: readonly ErrorCode[] = ['E_UNKNOWN_ID', 'E_AMBIGUOUS_ID', 'E_ID_TOO_SHORT', 'E_BAD_ID'];
const CAROL = fixedIdentity(3);
const KNOWN_IDS = [ALICE.id, BOB.id, CAROL.id];

/** What the user types (control requests, the prompt): full ids, prefixes, typos. */
function runNodeId(data: Buffer): void {
  const text = data.toString('utf8');
  const pub = onlyCoded('publicKeyFromNodeId', ['E_BAD_ID'], () => publicKeyFromNodeId(text));
  expect(isNodeId(text) === (pub !== REFUSED), () => `isNodeId disagrees with publicKeyFromNodeId on ${JSON.stringify(text)}`);
  if (pub !== REFUSED) expect(nodeIdFromPublicKey(pub) === text, () => `id ${text} is not canonical`);
  const peers = { contacts: KNOWN_IDS.slice(0, 2), others: KNOWN_IDS.slice(2) };
  const resolved = onlyCoded('resolveNodeId', RESOLVE_CODES, () => resolveNodeId(text, peers));
  if (resolved !== REFUSED) {
    expect(isNodeId(resolved), () => `resolved to an invalid id ${resolved}`);
    // A stranger is never picked by a short prefix.
    expect(resolved !== CAROL.id || text.trim().length >= MIN_STRANGER_PREFIX, () => `${JSON.stringify(text)} resolved to a stranger`);
  }
}

function nodeIdSeeds(): Uint8Array[] {
  const typo = `${BOB.id.slice(0, 20)}${BOB.id[20] === 'a' ? 'b' : 'a'}${BOB.id.slice(21)}`;
  return [ALICE.id, BOB.id.slice(0, 6), ` ${CAROL.id.toUpperCase()} `, typo, ''].map((s) => Buffer.from(s));
}

/** A peer's certificate as TLS hands it over (DER): only E_BAD_CERT, and an accepted one yields a valid id. */
function runCertificate(data: Buffer): void {
  const id = onlyCoded('nodeIdFromCertificate', ['E_BAD_CERT'], () => nodeIdFromCertificate(data));
  if (id !== REFUSED) expect(isNodeId(id), () => `certificate gave an invalid id ${id}`);
}

function certificateSeeds(): Uint8Array[] {
  const ed448 = generateKeyPairSync('ed448');
  return [
    new X509Certificate(ALICE.certPem).raw,
    selfSignedCertificateDer(BOB.privateKey, new X509Certificate(ALICE.certPem).publicKey, ALICE.id),
    selfSignedCertificateDer(ed448.privateKey, ed448.publicKey, 'ed448'),
  ];
}

// --- the table -----------------------------------------------------------------------

export const HOST_TARGETS: readonly FuzzTarget[] = [
  { name: 'mdns', about: 'raw mDNS packet: header check, dns-packet decode, parseResponse and matchQuery', seeds: mdnsSeeds, run: runMdns },
  { name: 'control', about: 'control socket bytes: LineSplitter in seeded chunks, parseRequest per line', seeds: controlSeeds, run: runControl },
  { name: 'ip-packet', about: 'IP packet from the TUN or a PACKETS entry: parseIpPacket', seeds: () => [V4_PACKET, V6_PACKET], run: runIpPacket },
  { name: 'ip-text', about: 'address text: canonicalIp and usableAddress', seeds: () => IP_TEXTS.map((t) => Buffer.from(t)), run: runIpText },
  { name: 'node-id', about: 'typed node id or prefix: publicKeyFromNodeId, isNodeId, resolveNodeId', seeds: nodeIdSeeds, run: runNodeId },
  { name: 'certificate', about: 'peer certificate DER: nodeIdFromCertificate', seeds: certificateSeeds, run: runCertificate },
  codecTarget({
    name: 'punch-preamble',
    about: 'punch preamble: decodePreamble, re-encode, classifyFirstByte',
    decode: (b: Uint8Array) => {
      if (b.length > 0) mustNotThrow('classifyFirstByte', () => classifyFirstByte(b[0]!));
      return decodePreamble(b);
    },
    encode: (id: string) => encodePreamble(publicKeyFromNodeId(id)),
    samples: () => [ALICE.id, BOB.id],
  }),
];
