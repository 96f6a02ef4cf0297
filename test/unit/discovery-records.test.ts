import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { generateIdentity } from '../../src/identity/index.js';
import {
  MAX_ADDRESSES_PER_ANNOUNCEMENT,
  MAX_RECORDS_PER_PACKET,
  SERVICE_TYPE,
  buildAnnouncement,
  hostName,
  instanceName,
  lanAddresses,
  matchQuery,
  parseResponse,
  parseTxt,
  usableAddress,
  type MdnsPacketIn,
  type MdnsResponseOut,
} from '../../src/discovery/index.js';

const self = generateIdentity().id;
const peer = generateIdentity().id;

/** Through the real DNS wire format and back, as a socket would deliver it. */
function overTheWire(r: MdnsResponseOut): MdnsPacketIn {
  const buf = dnsPacket.encode({ type: 'response', ...r } as unknown as dnsPacket.Packet);
  return dnsPacket.decode(buf) as unknown as MdnsPacketIn;
}

function announcement(over: { addresses?: string[]; port?: number; id?: string } = {}): MdnsResponseOut {
  return buildAnnouncement({ id: over.id ?? peer, port: over.port ?? 8443, addresses: over.addresses ?? ['192.168.1.10'] });
}

/** A copy of `r` with the record of type `type` changed by `edit`. */
function edit(r: MdnsResponseOut, type: string, change: (rec: Record<string, unknown>) => void): MdnsResponseOut {
  const copy = structuredClone(r);
  for (const rec of [...copy.answers, ...(copy.additionals ?? [])]) {
    // structuredClone turns Buffers into plain Uint8Arrays, which dns-packet refuses.
    if (rec.type === 'TXT') rec.data = (rec.data as Uint8Array[]).map((b) => Buffer.from(b));
    if (rec.type === type) change(rec as unknown as Record<string, unknown>);
  }
  return copy;
}

describe('announcement records', () => {
  it('PTR answer, SRV to <short-id>.sentinel.local, TXT id and v, one A/AAAA per address', () => {
    const r = buildAnnouncement({ id: peer, port: 9000, addresses: ['192.168.1.10', '2001:db8::7'] });
    assert.deepEqual(r.answers, [{ name: SERVICE_TYPE, type: 'PTR', ttl: 120, data: `${peer}._sentinel._tcp.local` }]);
    const add = r.additionals ?? [];
    assert.deepEqual(add[0]?.data, { port: 9000, target: `${peer.slice(0, 12)}.sentinel.local`, priority: 0, weight: 0 });
    assert.deepEqual((add[1]?.data as Buffer[]).map(String), [`id=${peer}`, 'v=1']);
    assert.deepEqual(add.slice(2).map((x) => [x.type, x.name, x.data]), [
      ['A', hostName(peer), '192.168.1.10'],
      ['AAAA', hostName(peer), '2001:db8::7'],
    ]);
  });

  it('round-trips through the DNS wire format', () => {
    const p = parseResponse(overTheWire(buildAnnouncement({ id: peer, port: 9000, addresses: ['192.168.1.10', '2001:db8::7'] })), self);
    assert.deepEqual(p, { peers: [{ id: peer, port: 9000, addresses: ['192.168.1.10', '2001:db8::7'] }], own: 0, goodbyes: 0, dropped: [] });
  });

  it('recognises our own id and goodbyes', () => {
    assert.equal(parseResponse(overTheWire(announcement({ id: self })), self).own, 1);
    const bye = parseResponse(overTheWire(buildAnnouncement({ id: peer, port: 1, addresses: ['192.168.1.9'] }, 0)), self);
    assert.deepEqual([bye.peers.length, bye.goodbyes], [0, 1]);
  });
});

describe('strict parsing of responses', () => {
  const cases: [string, MdnsResponseOut, string][] = [
    ['TXT entry without "="', edit(announcement(), 'TXT', (r) => (r['data'] = [Buffer.from(`id=${peer}`), Buffer.from('v1')])), 'bad_txt'],
    ['duplicate TXT key', edit(announcement(), 'TXT', (r) => (r['data'] = [Buffer.from(`id=${peer}`), Buffer.from('v=1'), Buffer.from('V=1')])), 'bad_txt'],
    ['TXT without id', edit(announcement(), 'TXT', (r) => (r['data'] = [Buffer.from('v=1')])), 'bad_id'],
    ['id with a wrong check', edit(announcement(), 'TXT', (r) => (r['data'] = [Buffer.from(`id=${peer.slice(0, -1)}${peer.endsWith('a') ? 'b' : 'a'}`), Buffer.from('v=1')])), 'bad_id'],
    ['other version', edit(announcement(), 'TXT', (r) => (r['data'] = [Buffer.from(`id=${peer}`), Buffer.from('v=2')])), 'bad_version'],
    ['instance name of another id', edit(announcement(), 'TXT', (r) => (r['data'] = [Buffer.from(`id=${self}`), Buffer.from('v=1')])), 'name_mismatch'],
    ['SRV port 0', edit(announcement(), 'SRV', (r) => ((r['data'] as { port: number }).port = 0)), 'bad_srv'],
    ['only loopback', announcement({ addresses: ['127.0.0.1'] }), 'no_address'],
  ];
  for (const [what, packet, reason] of cases) {
    it(`drops an announcement with ${what} (${reason})`, () => {
      const p = parseResponse(overTheWire(packet), self);
      assert.deepEqual(p.peers, []);
      assert.ok(p.dropped.includes(reason as never), `dropped: ${p.dropped.join(',')}`);
    });
  }

  it('drops loopback, unspecified, multicast and link-local addresses but keeps the good ones', () => {
    const bad = ['127.0.0.1', '0.0.0.0', '224.0.0.251', '255.255.255.255', '::1', '::', 'ff02::fb', 'fe80::1'];
    const p = parseResponse(overTheWire(announcement({ addresses: ['192.168.1.10', ...bad.slice(0, 7)] })), self);
    assert.deepEqual(p.peers, [{ id: peer, port: 8443, addresses: ['192.168.1.10'] }]);
    assert.equal(p.dropped.filter((d) => d === 'bad_address').length, 7);
  });

  it(`drops an announcement with more than ${MAX_ADDRESSES_PER_ANNOUNCEMENT} addresses`, () => {
    const many = Array.from({ length: MAX_ADDRESSES_PER_ANNOUNCEMENT + 1 }, (_, i) => `192.168.1.${i + 10}`);
    assert.deepEqual(parseResponse(overTheWire(announcement({ addresses: many })), self).dropped, ['too_many_addresses']);
    assert.equal(parseResponse(overTheWire(announcement({ addresses: many.slice(1) })), self).peers.length, 1);
  });

  it('drops packets with too many records or sections that are not lists', () => {
    const filler = Array.from({ length: MAX_RECORDS_PER_PACKET }, () => ({ name: 'x.local', type: 'A', ttl: 1, data: '192.168.1.1' }));
    const big = { ...announcement(), answers: [...announcement().answers, ...filler] };
    assert.deepEqual(parseResponse(big, self).dropped, ['too_many_records']);
    assert.deepEqual(parseResponse({ answers: 'nope' }, self).dropped, ['bad_packet']);
    assert.deepEqual(parseResponse({ answers: [null, 7, { name: 1 }] }, self), { peers: [], own: 0, goodbyes: 0, dropped: [] });
  });

  it('ignores other services and records it does not need', () => {
    const other = { answers: [{ name: '_http._tcp.local', type: 'PTR', ttl: 120, data: 'web._http._tcp.local' }] };
    assert.deepEqual(parseResponse(other, self), { peers: [], own: 0, goodbyes: 0, dropped: [] });
  });

  it('parseTxt accepts strings, Buffers and empty entries, refuses junk', () => {
    assert.deepEqual([...(parseTxt(['a=1', Buffer.from('B=x=y'), '']) ?? [])], [['a', '1'], ['b', 'x=y']]);
    assert.equal(parseTxt([42]), null);
    assert.equal(parseTxt(['=x']), null);
    assert.equal(parseTxt(['k=' + 'x'.repeat(300)]), null);
  });
});

describe('queries', () => {
  it('matches the service PTR, our instance, our host name and the enumeration; nothing else', () => {
    const q = (name: string, type: string): MdnsPacketIn => ({ questions: [{ name, type }] });
    assert.equal(matchQuery(q('_sentinel._tcp.local', 'PTR'), self).service, true);
    assert.equal(matchQuery(q('_SENTINEL._tcp.local', 'ANY'), self).service, true);
    assert.equal(matchQuery(q(instanceName(self), 'SRV'), self).service, true);
    assert.equal(matchQuery(q(hostName(self), 'A'), self).service, true);
    assert.equal(matchQuery(q('_services._dns-sd._udp.local', 'PTR'), self).enumeration, true);
    assert.equal(matchQuery(q(instanceName(peer), 'SRV'), self).service, false);
    assert.equal(matchQuery(q('_sentinel._tcp.local', 'A'), self).service, false);
    assert.deepEqual(matchQuery({ questions: [null, { name: 5 }] }, self).questions, []);
  });
});

describe('addresses', () => {
  it('usableAddress refuses what cannot be dialed across a LAN and unmaps IPv4-mapped IPv6', () => {
    assert.equal(usableAddress('192.168.1.10'), '192.168.1.10');
    assert.equal(usableAddress('::ffff:192.168.1.10'), '192.168.1.10');
    assert.equal(usableAddress('2001:DB8::1'), '2001:db8::1');
    for (const bad of ['127.0.0.5', '::ffff:127.0.0.1', '0.0.0.0', '239.1.2.3', '::', '::1', 'fe80::1', 'ff02::1', 'host.local', '']) {
      assert.equal(usableAddress(bad), null, bad);
    }
  });

  it('lanAddresses lists non-internal addresses only', () => {
    const iface = (address: string, family: 'IPv4' | 'IPv6', internal: boolean) =>
      ({ address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as never;
    const got = lanAddresses({
      lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)],
      eth0: [iface('192.168.1.10', 'IPv4', false), iface('fe80::1', 'IPv6', false), iface('2001:db8::5', 'IPv6', false)],
    });
    assert.deepEqual(got, ['192.168.1.10', '2001:db8::5']);
  });
});
