/**
 * Regression tests for what the fuzz targets found (docs/FUZZING.md, "Findings").
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { isSentinelError } from '../../src/errors.js';
import { nodeIdFromCertificate } from '../../src/identity/index.js';
import {
  MAX_PACKET_BYTES,
  MAX_RECORDS_PER_PACKET,
  buildAnnouncement,
  createMulticastTransport,
  parseResponse,
  type MdnsPacketIn,
} from '../../src/discovery/index.js';
import { checkPacketHeader } from '../../src/discovery/parse.js';
import { allocationMark, measureBounded } from './check.js';
import { ALICE, BOB } from './seeds.js';

/**
 * Found by jazzer (mdns target): 160 bytes whose first authority is a HINFO record cut
 * short. dns-packet then computes a NaN offset, which its `if (!offset) offset = 0`
 * turns into 0, so every further record is decoded again from the packet's first byte:
 * the declared 13 authorities and 21,504 additionals all "decode".
 */
const REWINDING_PACKET = Buffer.from(
  '3cba000000000000000d540000000dbf1d94121bf33373885f5f70726f746f5f59000000000000020a58eac6ced14052' + '00'.repeat(111) + '56',
  'hex',
);

/** The same packet declaring 65,535 answers, authorities and additionals: about 1 s of CPU in dns-packet. */
function worstCase(): Buffer {
  const b = Buffer.from(REWINDING_PACKET);
  for (const at of [6, 8, 10]) b.writeUInt16BE(0xffff, at);
  return b;
}

describe('fuzzing regressions: certificates', () => {
  it('a certificate whose key algorithm OpenSSL cannot load is E_BAD_CERT, not a plain OpenSSL error', () => {
    // Found by jazzer (certificate target): node:crypto's X509Certificate.publicKey throws "decode error".
    const der = Buffer.from(new X509Certificate(ALICE.certPem).raw).toString('hex');
    const unknownKeyOid = Buffer.from(der.replace('302a300506032b6570', '302a300506037e6570'), 'hex');
    assert.notEqual(unknownKeyOid.toString('hex'), der);
    assert.throws(() => nodeIdFromCertificate(unknownKeyOid), (err: unknown) => isSentinelError(err, 'E_BAD_CERT'));
  });
});

describe('fuzzing regressions: mDNS', () => {
  it('the header check refuses packets over MAX_PACKET_BYTES, or declaring more records than MAX_RECORDS_PER_PACKET or than they can hold', () => {
    assert.equal(REWINDING_PACKET.length, 160);
    assert.equal(checkPacketHeader(REWINDING_PACKET), 'too_many_records');
    assert.equal(checkPacketHeader(worstCase()), 'too_many_records');
    assert.equal(checkPacketHeader(Buffer.alloc(11)), 'bad_packet');
    assert.equal(checkPacketHeader(Buffer.alloc(MAX_PACKET_BYTES + 1)), 'too_large');
    assert.equal(checkPacketHeader(Buffer.alloc(MAX_PACKET_BYTES)), null);
    const claimsTen = Buffer.alloc(12 + 10 * 11 - 1);
    claimsTen.writeUInt16BE(10, 6);
    assert.equal(checkPacketHeader(claimsTen), 'bad_packet');
    assert.equal(checkPacketHeader(Buffer.concat([claimsTen, Buffer.alloc(1)])), null);
    const announcement = dnsPacket.encode({ type: 'response', ...buildAnnouncement({ id: BOB.id, port: 7000, addresses: ['192.168.1.10'] }) } as unknown as dnsPacket.Packet);
    assert.equal(checkPacketHeader(announcement), null);
  });

  it('parseResponse drops a packet of too many records without copying them (bounded allocation)', () => {
    const packet = dnsPacket.decode(REWINDING_PACKET) as unknown as MdnsPacketIn;
    assert.ok((packet.additionals as unknown[]).length > MAX_RECORDS_PER_PACKET, 'dns-packet no longer rewinds: update this test');
    const parsed = measureBounded('parseResponse', REWINDING_PACKET.length, 0, () => parseResponse(packet, ALICE.id));
    assert.deepEqual(parsed, { peers: [], own: 0, goodbyes: 0, dropped: ['too_many_records'] });
  });

  it('parseResponse lowercases each name once, not once per comparison (allocation linear in the packet)', () => {
    // Found by jazzer (mdns target): 8 PTRs to one long instance name (a 2-byte pointer
    // each) and 56 SRV records named by pointer made every instance lowercase every SRV
    // name again: ~190 KB of garbage and ~5x the CPU of a normal announcement for 1.4 KB.
    const packet = longNamesPacket();
    assert.equal(checkPacketHeader(packet), null);
    const decoded = dnsPacket.decode(packet) as unknown as MdnsPacketIn;
    const samples: number[] = [];
    for (let i = 0; i < 11; i++) {
      const before = allocationMark();
      parseResponse(decoded, ALICE.id);
      samples.push(allocationMark() - before);
    }
    const median = samples.sort((a, b) => a - b)[5]!;
    assert.ok(median <= 32 * packet.length + 64 * 1024, `parseResponse allocated ${median} bytes for a ${packet.length}-byte packet`);
  });

  it(
    'the mDNS socket drops such a packet before dns-packet decodes it',
    { timeout: 30_000 },
    async () => {
      const port = await freeUdpPort();
      const transport = createMulticastTransport({ port, interface: '127.0.0.1' });
      const sizes: number[] = [];
      let sawGood = false;
      const onPacket = (p: MdnsPacketIn): void => {
        const n = [p.questions, p.answers, p.authorities, p.additionals].reduce((s: number, x) => s + (Array.isArray(x) ? x.length : 0), 0);
        if (n === 1) sawGood = true;
        else sizes.push(n);
      };
      transport.on('query', onPacket);
      transport.on('response', onPacket);
      transport.on('warning', () => undefined);
      const dropped: string[] = [];
      transport.on('dropped', (reason) => dropped.push(reason));
      const sender = createSocket('udp4');
      const marker = dnsPacket.encode({ type: 'query', questions: [{ name: 'x.local', type: 'A' }] });
      try {
        // Until the socket is bound, datagrams are lost: repeat the pair. Loopback UDP keeps
        // the order, so once the marker arrives the packet sent before it was handled (or dropped).
        while (!sawGood) {
          sender.send(REWINDING_PACKET, port, '127.0.0.1');
          sender.send(marker, port, '127.0.0.1');
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(sizes.every((n) => n <= MAX_RECORDS_PER_PACKET), `decoded ${Math.max(...sizes)} records from a 160-byte packet`);
        assert.ok(dropped.length > 0 && dropped.every((r) => r === 'too_many_records' || r === 'bad_packet'), `dropped: ${dropped.join(', ')}`);
      } finally {
        sender.close();
        transport.destroy();
      }
    },
  );
});

/** A UDP port on 127.0.0.1 that was free a moment ago. */
async function freeUdpPort(): Promise<number> {
  const probe = createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  return port;
}

/** A 1.4 KB response: 8 PTRs to one 86-character instance name, then 56 SRV records named by a pointer to it. */
function longNamesPacket(): Buffer {
  const label = (text: string): Buffer => {
    const b = Buffer.from(text, 'utf8');
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
  const record = (name: Buffer, type: number, data: Buffer): Buffer => Buffer.concat([name, u16(type), u16(1), Buffer.from([0, 0, 0, 120]), u16(data.length), data]);
  const PTR = 12;
  const SRV = 33;
  const header = Buffer.concat([u16(0), u16(0x8400), u16(0), u16(64), u16(0), u16(0)]);
  const service = Buffer.concat([label('_sentinel'), label('_tcp'), label('local'), Buffer.from([0])]);
  const toService = Buffer.from([0xc0, 12]);
  const instance = Buffer.concat([label('世'.repeat(21)), label('世'.repeat(21)), label('世'.repeat(21)), toService]);
  const toInstance = Buffer.from([0xc0, 12 + service.length + 10]);
  const records = [record(service, PTR, instance)];
  while (records.length < 8) records.push(record(toService, PTR, toInstance));
  while (records.length < 64) records.push(record(toInstance, SRV, Buffer.concat([u16(0), u16(0), u16(7000), Buffer.from([0])])));
  return Buffer.concat([header, ...records]);
}
