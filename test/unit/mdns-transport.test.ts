/**
 * The mDNS socket on loopback: the addon's UDP socket reports the TTL of each datagram
 * (what RFC 6762 §11 needs and dgram cannot give), the real transport fills `from.ttl`
 * and sends its unicast answers with TTL 255, and without the addon it says why not.
 * Multicast itself needs a multicast-capable link: see test/lab/mdns*.test.ts.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import { createMulticastTransport, type MdnsPacketIn, type MdnsRemote, type MdnsTransport } from '../../src/discovery/index.js';
import { TtlUdpSocket, loadUdpNative, type TtlRemoteInfo, type UdpNative } from '../../src/native/index.js';

const udp = loadUdpNative();
const skip = udp.ok ? false : `native addon unavailable: ${udp.reason}`;
const native = (): UdpNative => (udp.ok ? udp.native : assert.fail('addon'));

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((f) => f()));

/** A plain dgram sender on loopback with the given unicast TTL. */
async function sender(ttl: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  s.setTTL(ttl);
  cleanups.push(() => s.close());
  return s;
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function nextMessage(s: TtlUdpSocket): Promise<[Buffer, TtlRemoteInfo]> {
  return new Promise((resolve) => s.once('message', (m: Buffer, r: TtlRemoteInfo) => resolve([m, r])));
}

function nextResponse(t: MdnsTransport): Promise<[MdnsPacketIn, MdnsRemote]> {
  return new Promise((resolve) => t.on('response', (p, from) => resolve([p, from])));
}

async function bound(opts: { reuseAddr?: boolean; maxBytes?: number } = {}): Promise<TtlUdpSocket> {
  const s = new TtlUdpSocket(native(), { type: 'udp4', reuseAddr: opts.reuseAddr ?? false, maxBytes: opts.maxBytes ?? 9_000 });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  cleanups.push(() => s.close());
  return s;
}

describe('TtlUdpSocket (addon)', { skip }, () => {
  it('reports the TTL each datagram arrived with', async () => {
    const s = await bound();
    const { port } = s.address();
    for (const ttl of [7, 64, 255]) {
      const tx = await sender(ttl);
      const got = nextMessage(s);
      tx.send(Buffer.from(`ttl ${ttl}`), port, '127.0.0.1');
      const [msg, rinfo] = await got;
      assert.equal(msg.toString(), `ttl ${ttl}`);
      assert.deepEqual(rinfo, { address: '127.0.0.1', family: 'IPv4', port: tx.address().port, size: msg.length, ttl });
    }
  });

  it('sends with the TTL it is told (setTTL)', async () => {
    const a = await bound();
    const b = await bound();
    a.setTTL(200);
    const got = nextMessage(b);
    await new Promise<void>((resolve, reject) => a.send(Buffer.from('x'), 0, 1, b.address().port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    assert.equal((await got)[1].ttl, 200);
  });

  it('drops a datagram longer than maxBytes instead of cutting it', async () => {
    const s = await bound({ maxBytes: 100 });
    const tx = await sender(255);
    const got = nextMessage(s);
    tx.send(Buffer.alloc(101, 1), s.address().port, '127.0.0.1');
    tx.send(Buffer.alloc(100, 2), s.address().port, '127.0.0.1');
    const [msg] = await got;
    assert.deepEqual(msg, Buffer.alloc(100, 2));
  });

  it('fails like dgram, with errno names: bind in use, IPv6 group, unknown option, use after close', async () => {
    const s = await bound();
    const clash = new TtlUdpSocket(native(), { type: 'udp4', maxBytes: 100 });
    const err = await new Promise<Error & { code?: string; syscall?: string }>((resolve) => {
      clash.once('error', resolve);
      clash.bind(s.address().port, '127.0.0.1');
    });
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.syscall, 'bind');
    assert.throws(() => s.addMembership('ff02::fb'), { code: 'EAFNOSUPPORT' });
    assert.throws(() => native().udpSetOption(0, 'NOPE' as 'IP_TTL', 1), { code: 'ERR_INVALID_ARG_VALUE' });
    s.close();
    assert.throws(() => s.setTTL(1), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    const sent = await new Promise<Error | null>((resolve) => s.send(Buffer.from('x'), 0, 1, 9, '127.0.0.1', resolve));
    assert.equal((sent as Error & { code?: string })?.code, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
  });
});

describe('the real mDNS transport on loopback (unicast)', () => {
  it('fills from.ttl, and answers by unicast with TTL 255', { skip }, async () => {
    const port = await freePort();
    const t = createMulticastTransport({ port });
    cleanups.push(() => t.destroy());
    assert.deepEqual(t.ttlSupport, { ok: true });
    await new Promise((r) => setTimeout(r, 50)); // bound (bind is asynchronous, like dgram)
    // A routed-looking response (TTL 64) from an ordinary socket.
    const tx = await sender(64);
    const got64 = nextResponse(t);
    tx.send(answerPacket(), port, '127.0.0.1');
    const [, from64] = await got64;
    assert.deepEqual(from64, { address: '127.0.0.1', port: tx.address().port, ttl: 64 });
    // Our own unicast answer, from a second transport: TTL 255.
    const other = createMulticastTransport({ port: await freePort() });
    cleanups.push(() => other.destroy());
    await new Promise((r) => setTimeout(r, 50));
    const got255 = nextResponse(t);
    other.respond({ answers: [{ name: 'x.local', type: 'A', ttl: 1, data: '192.168.1.1' }] }, { address: '127.0.0.1', port });
    const [p, from255] = await got255;
    assert.equal(from255.ttl, 255);
    assert.deepEqual((p.answers as { data: string }[]).map((a) => a.data), ['192.168.1.1']);
  });

  it('without the addon (ttl: off) it says why and reports no TTL', async () => {
    const port = await freePort();
    const t = createMulticastTransport({ port, ttl: 'off' });
    cleanups.push(() => t.destroy());
    assert.deepEqual(t.ttlSupport, { ok: false, reason: 'disabled by configuration' });
    await new Promise((r) => setTimeout(r, 50));
    const tx = await sender(64);
    const got = nextResponse(t);
    tx.send(answerPacket(), port, '127.0.0.1');
    const [, from] = await got;
    assert.deepEqual(from, { address: '127.0.0.1', port: tx.address().port });
  });
});

/** A minimal DNS response (id 0, QR+AA, one A record x.local -> 192.168.1.1). */
function answerPacket(): Buffer {
  const header = Buffer.from('000084000000000100000000', 'hex');
  const name = Buffer.from([1, 0x78, 5, ...Buffer.from('local'), 0]);
  // type A, class IN, TTL 1, rdlength 4, 192.168.1.1
  const rr = Buffer.from('0001' + '0001' + '00000001' + '0004' + 'c0a80101', 'hex');
  return Buffer.concat([header, name, rr]);
}
