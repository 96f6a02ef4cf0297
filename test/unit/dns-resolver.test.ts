/** The DNS responder's answers, byte for byte through dns-packet (src/dns/resolver.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as dnsPacket from 'dns-packet';
import { answerQuery, type DnsReply, type QueryContext } from '../../src/dns/resolver.js';
import { MAX_NAME_KEY_BYTES } from '../../src/dns/names.js';

const BOB = { ipv4: '100.64.0.7', ipv6: 'fd58:1b41:5e5c:0:1:2:3:4' };
const lookup = (key: string): typeof BOB | undefined => (key === 'bob' || key === 'a.b' || key.length === MAX_NAME_KEY_BYTES ? BOB : undefined);
const UDP: QueryContext = { transport: 'udp', allowed: true };

function query(name: string, type: dnsPacket.RecordType = 'A', extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], ...extra });
}

function decoded(r: DnsReply): dnsPacket.DecodedPacket & { rcode: string; opcode: string } {
  assert.ok(r.response, `a response (${r.outcome})`);
  return dnsPacket.decode(r.response) as dnsPacket.DecodedPacket & { rcode: string; opcode: string };
}

const EDNS: dnsPacket.OptAnswer = { name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };

describe('answerQuery', () => {
  it('answers A for a known name: authoritative, TTL 5, no recursion available, RD echoed', () => {
    const r = answerQuery(query('bob.sentinel'), UDP, lookup);
    assert.equal(r.outcome, 'answer');
    const p = decoded(r);
    assert.equal(p.id, 0x1234);
    assert.equal(p.type, 'response');
    assert.equal(p.rcode, 'NOERROR');
    assert.equal(p.flag_aa, true);
    assert.equal(p.flag_ra, false);
    assert.equal(p.flag_rd, true);
    assert.deepEqual(p.questions, [{ name: 'bob.sentinel', type: 'A', class: 'IN' }]);
    assert.equal(p.answers?.length, 1);
    assert.deepEqual(p.answers?.[0], { name: 'bob.sentinel', type: 'A', ttl: 5, class: 'IN', flush: false, data: BOB.ipv4 });
  });

  it('answers AAAA with the IPv6', () => {
    const p = decoded(answerQuery(query('bob.sentinel', 'AAAA'), UDP, lookup));
    assert.equal((p.answers?.[0] as dnsPacket.StringAnswer).data, BOB.ipv6);
    assert.equal(p.answers?.[0]?.type, 'AAAA');
  });

  it('matches in any case and echoes the name as asked (0x20)', () => {
    const p = decoded(answerQuery(query('BoB.SenTinel'), UDP, lookup));
    assert.equal(p.questions?.[0]?.name, 'BoB.SenTinel');
    assert.equal(p.answers?.[0]?.name, 'BoB.SenTinel');
  });

  it('serves multi-label names (an alias with a dot)', () => {
    assert.equal(answerQuery(query('a.b.sentinel'), UDP, lookup).outcome, 'answer');
  });

  it('NXDOMAIN for an unknown name under .sentinel, and for one that is not a host name', () => {
    for (const name of ['nobody.sentinel', 'x_y!.sentinel']) {
      const r = answerQuery(query(name), UDP, lookup);
      assert.equal(r.outcome, 'nxdomain', name);
      const p = decoded(r);
      assert.equal(p.rcode, 'NXDOMAIN');
      assert.equal(p.flag_aa, true);
      assert.equal(p.answers?.length, 0);
    }
  });

  it('REFUSED outside .sentinel (no recursion), not authoritative', () => {
    for (const name of ['example.com', 'sentinel.example', 'xsentinel', '.']) {
      const r = answerQuery(query(name), UDP, lookup);
      assert.equal(r.outcome, 'refused', name);
      assert.equal(r.reason, 'outside_zone');
      const p = decoded(r);
      assert.equal(p.rcode, 'REFUSED');
      assert.equal(p.flag_aa, false);
      assert.equal(p.flag_ra, false);
      assert.equal(p.questions?.[0]?.name, name === '.' ? '.' : name);
    }
  });

  it('REFUSED for another class than IN', () => {
    assert.equal(answerQuery(dnsPacket.encode({ id: 1, questions: [{ name: 'bob.sentinel', type: 'A', class: 'CH' }] }), UDP, lookup).outcome, 'refused');
  });

  it('REFUSED for every query from a source the server does not serve', () => {
    const r = answerQuery(query('bob.sentinel'), { transport: 'udp', allowed: false }, lookup);
    assert.equal(r.outcome, 'refused');
    assert.equal(r.reason, 'not_local');
    assert.equal(decoded(r).answers?.length, 0);
  });

  it('NODATA (NOERROR, no records) for other types under a known name, and for the zone itself', () => {
    for (const [name, type] of [['bob.sentinel', 'TXT'], ['bob.sentinel', 'MX'], ['bob.sentinel', 'ANY'], ['sentinel', 'A']] as const) {
      const r = answerQuery(query(name, type as dnsPacket.RecordType), UDP, lookup);
      assert.equal(r.outcome, 'nodata', `${name} ${type}`);
      const p = decoded(r);
      assert.equal(p.rcode, 'NOERROR');
      assert.equal(p.answers?.length, 0);
      assert.equal(p.flag_aa, true);
    }
  });

  it('answers EDNS with EDNS, and BADVERS for an EDNS version it does not speak', () => {
    const ok = decoded(answerQuery(query('bob.sentinel', 'A', { additionals: [EDNS] }), UDP, lookup));
    const opt = ok.additionals?.find((a) => a.type === 'OPT') as dnsPacket.OptAnswer | undefined;
    assert.equal(opt?.ednsVersion, 0);
    assert.equal(opt?.udpPayloadSize, 1232);
    const r = answerQuery(query('bob.sentinel', 'A', { additionals: [{ ...EDNS, ednsVersion: 1 }] }), UDP, lookup);
    assert.equal(r.outcome, 'badvers');
    const p = decoded(r);
    assert.equal(p.rcode, 'NOERROR', 'the low 4 bits of BADVERS (16)');
    assert.equal((p.additionals?.[0] as dnsPacket.OptAnswer).extendedRcode, 1, 'the high bits of BADVERS');
    assert.equal(p.answers?.length, 0);
  });

  it('the largest answer it can give fits in 512 bytes, with EDNS', () => {
    const longest = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(MAX_NAME_KEY_BYTES - 3 * 64)}`;
    assert.equal(longest.length, MAX_NAME_KEY_BYTES);
    const r = answerQuery(query(`${longest}.sentinel`, 'AAAA', { additionals: [EDNS] }), UDP, lookup);
    assert.equal(r.outcome, 'answer');
    assert.ok((r.response?.length ?? 0) <= 512, String(r.response?.length));
  });

  it('over UDP, an answer over the size limit goes out truncated (TC, no records); TCP has no such limit', () => {
    const r = answerQuery(query('bob.sentinel'), { ...UDP, udpLimitBytes: 40 }, lookup);
    assert.equal(r.truncated, true);
    const p = decoded(r);
    assert.equal(p.flag_tc, true);
    assert.equal(p.answers?.length, 0);
    assert.equal(answerQuery(query('bob.sentinel'), { transport: 'tcp', allowed: true, udpLimitBytes: 40 }, lookup).truncated, undefined);
  });
});

describe('answerQuery with malformed input', () => {
  const header = (id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer => {
    const b = Buffer.alloc(12);
    [id, flags, qd, an, ns, ar].forEach((v, i) => b.writeUInt16BE(v, i * 2));
    return b;
  };
  const question = (labels: Buffer[]): Buffer => Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.of(l.length), l])), Buffer.of(0, 0, 1, 0, 1)]);

  it('drops what is shorter than a header, and responses (no answer loops)', () => {
    assert.deepEqual(answerQuery(Buffer.alloc(11), UDP, lookup), { outcome: 'dropped', reason: 'short', response: null });
    const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'bob.sentinel', type: 'A' }] });
    assert.deepEqual(answerQuery(resp, UDP, lookup), { outcome: 'dropped', reason: 'response', response: null });
  });

  it('NOTIMP for an opcode other than QUERY, with the id and opcode echoed', () => {
    for (const opcode of [1, 2, 4, 5, 15]) {
      const r = answerQuery(Buffer.concat([header(77, opcode << 11, 1), question([Buffer.from('bob'), Buffer.from('sentinel')])]), UDP, lookup);
      assert.equal(r.outcome, 'notimp');
      const p = decoded(r);
      assert.equal(p.id, 77);
      assert.equal(p.rcode, 'NOTIMP');
      assert.equal(((r.response?.readUInt16BE(2) ?? 0) >> 11) & 0xf, opcode);
    }
  });

  it('FORMERR for no question, two questions, a truncated body, answer or authority records, an additional that is not one OPT', () => {
    const q = question([Buffer.from('bob'), Buffer.from('sentinel')]);
    const cases: Array<[string, Buffer, string]> = [
      ['none', header(5, 0, 0), 'question_count'],
      ['two', Buffer.concat([header(5, 0, 2), q, q]), 'question_count'],
      ['cut', Buffer.concat([header(5, 0, 1), q.subarray(0, 6)]), 'undecodable'],
      ['claims 65535 answers', Buffer.concat([header(5, 0, 1, 0xffff), q]), 'records'],
      ['an authority record', query('bob.sentinel', 'A', { authorities: [{ name: 'x', type: 'A', data: '1.2.3.4' }] }), 'records'],
      ['two OPT', query('bob.sentinel', 'A', { additionals: [EDNS, EDNS] }), 'opt_count'],
      ['an A record as the additional', query('bob.sentinel', 'A', { additionals: [{ name: 'x', type: 'A', data: '1.2.3.4' }] }), 'additional'],
      ['an OPT cut short', query('bob.sentinel', 'A', { additionals: [EDNS] }).subarray(0, -3), 'undecodable'],
    ];
    for (const [what, bytes, reason] of cases) {
      const r = answerQuery(bytes, UDP, lookup);
      assert.equal(r.outcome, 'formerr', what);
      assert.equal(r.reason, reason, what);
      const p = decoded(r);
      assert.equal(p.rcode, 'FORMERR', what);
      assert.equal(p.questions?.length, 0, what);
    }
  });

  it('FORMERR for a question that does not say what it decodes to (a dot inside a label, a compression pointer)', () => {
    const dotted = Buffer.concat([header(6, 0, 1), question([Buffer.from('bob.sentinel')])]);
    assert.equal(answerQuery(dotted, UDP, lookup).reason, 'question_form');
    // A pointer to the header's bytes: a name made of whatever is there.
    const pointer = Buffer.concat([header(6, 0, 1), Buffer.of(0xc0, 0x02, 0, 1, 0, 1)]);
    assert.equal(answerQuery(pointer, UDP, lookup).outcome, 'formerr');
  });

  it('never throws on random bytes', () => {
    let seed = 42;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 5000; i++) {
      const len = 12 + (rnd() % 80);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd();
      b[2] = (b[2] as number) & 0x7f; // a query, so it is parsed rather than dropped
      const r = answerQuery(b, UDP, lookup);
      assert.ok(r.response === null || r.response.length >= 12);
    }
  });
});
