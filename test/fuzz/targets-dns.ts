/**
 * Fuzz targets of the DNS responder for `<name>.sentinel` (src/dns/): one query through
 * answerQuery (the server's only parser of what a client sends), and the TCP framer.
 */
import * as dnsPacket from 'dns-packet';
import { MAX_QUERY_BYTES } from '../../src/dns/limits.js';
import { frameTcp, TcpDnsFramer } from '../../src/dns/framing.js';
import { answerQuery, type QueryContext } from '../../src/dns/resolver.js';
import { expect, measureBounded, mustNotThrow, onlyCoded, REFUSED } from './check.js';
import { chunked, type FuzzTarget } from './target.js';

const ADDRS = { ipv4: '100.64.0.7', ipv6: 'fd58:1b41:5e5c::7' };
const lookup = (key: string): typeof ADDRS | undefined => (key === 'bob' ? ADDRS : undefined);
const HEADER_BYTES = 12;
const QR = 0x8000;
const RA = 0x0080;

/**
 * Every query, over UDP and TCP, from an allowed source and not: answerQuery never
 * throws and allocates within the bound; nothing is sent only for a header-less input
 * or a response; an answer has the query's id, QR set, RA clear, decodes, and fits the
 * UDP size (1,232 at most); records come only with NOERROR, under `.sentinel`.
 */
function runQuery(data: Buffer): void {
  if (data.length > MAX_QUERY_BYTES) return;
  for (const ctx of [{ transport: 'udp', allowed: true }, { transport: 'tcp', allowed: false }] as QueryContext[]) {
    const r = measureBounded('answerQuery', data.length, 0, () => mustNotThrow('answerQuery', () => answerQuery(data, ctx, lookup)));
    if (r.response === null) {
      expect(data.length < HEADER_BYTES || (data.readUInt16BE(2) & QR) !== 0, () => `no answer (${r.outcome}/${r.reason}) to a query`);
      continue;
    }
    expect(r.response.readUInt16BE(0) === data.readUInt16BE(0), () => 'the id is not echoed');
    const flags = r.response.readUInt16BE(2);
    expect((flags & QR) !== 0 && (flags & RA) === 0, () => `flags ${flags.toString(16)}`);
    if (ctx.transport === 'udp') expect(r.response.length <= 1232, () => `${r.response?.length}-byte UDP answer`);
    const p = mustNotThrow('decode of our answer', () => dnsPacket.decode(r.response as Buffer));
    const answers = p.answers ?? [];
    if (answers.length > 0) {
      expect(r.outcome === 'answer' && ctx.allowed, () => `records with outcome ${r.outcome}`);
      for (const a of answers) expect(a.name.toLowerCase().endsWith('.sentinel'), () => `a record for ${a.name}`);
    }
  }
}

/** The framer: the messages do not depend on the chunking, and it never holds more than the cap + 1. */
function runFramer(data: Buffer): void {
  if (data.length < 2) return;
  const cap = 1 + data[1]!;
  const stream = data.subarray(2);
  const push = (chunks: readonly Uint8Array[]): Buffer[] | typeof REFUSED => {
    const f = new TcpDnsFramer(cap);
    const out: Buffer[] = [];
    for (const c of chunks) {
      const got = onlyCoded('TcpDnsFramer.push', ['E_PAYLOAD_MALFORMED'], () => f.push(Buffer.from(c)));
      if (got === REFUSED) return REFUSED;
      out.push(...got);
      expect(f.buffered <= cap + 1, () => `framer holds ${f.buffered} bytes, cap ${cap}`);
    }
    return out;
  };
  const whole = measureBounded('TcpDnsFramer', stream.length, 0, () => push([stream]));
  const pieces = push(chunked(stream, data[0]!));
  expect(
    whole === REFUSED ? pieces === REFUSED : pieces !== REFUSED && whole.length === pieces.length && whole.every((m, i) => m.equals(pieces[i]!)),
    () => 'chunking changed the messages',
  );
  if (whole !== REFUSED) for (const m of whole) expect(m.length <= cap, () => `a ${m.length}-byte message passed cap ${cap}`);
}

const q = (name: string, type: dnsPacket.RecordType, extra: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }], ...extra });
const OPT = { name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as dnsPacket.OptAnswer;

export const DNS_TARGETS: readonly FuzzTarget[] = [
  {
    name: 'dns-query',
    about: 'a DNS query to the .sentinel responder: answerQuery over UDP and TCP',
    seeds: () => [q('bob.sentinel', 'A'), q('BOB.sentinel', 'AAAA', { additionals: [OPT] }), q('nobody.sentinel', 'A'), q('example.com', 'A'), q('bob.sentinel', 'TXT'), q('sentinel', 'ANY' as dnsPacket.RecordType)],
    run: runQuery,
  },
  {
    name: 'dns-tcp-framing',
    about: 'DNS over TCP: length-prefixed messages through TcpDnsFramer, however chunked',
    seeds: () => [Buffer.concat([Buffer.of(3, 0xff), frameTcp(q('bob.sentinel', 'A')), frameTcp(q('example.com', 'A'))]), Buffer.of(1, 4, 0, 9, 1, 2)],
    run: runFramer,
  },
];
