/**
 * The DNS responder on real sockets (127.0.0.1, a free port), queried with `dig` (skipped
 * with the reason where dig is not installed), and its bounds with raw UDP and TCP clients.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { Counters } from '../../src/core/counters.js';
import { systemClock } from '../../src/core/clock.js';
import { startDnsResponder, VpnNames, type DnsServer } from '../../src/dns/index.js';
import { frameTcp } from '../../src/dns/framing.js';
import { isSentinelError } from '../../src/errors.js';
import { nodeIdFromPublicKey } from '../../src/identity/node-id.js';
import { createLogger } from '../../src/log.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { testnet, waitFor } from '../helpers/testnet.js';
import { vpnPair } from '../helpers/vpn-pair.js';

const run = promisify(execFile);
const silent = createLogger('silent', () => {});
const digMissing = await run('dig', ['-v']).then(
  () => false,
  () => true,
);
const DIG_SKIP = digMissing ? 'dig is not installed (apt install bind9-dnsutils)' : false;

const id = (n: number): string => nodeIdFromPublicKey(Buffer.alloc(32, n));
const SELF = id(1);
const BOB = id(2);
const SELF_ADDRS = { ipv4: '100.64.0.1', ipv6: 'fd58:1b41:5e5c:0:0:0:0:1' };
const BOB_ADDRS = { ipv4: '100.100.7.9', ipv6: 'fd58:1b41:5e5c:0:aaaa:bbbb:cccc:dddd' };

function names(): VpnNames {
  return new VpnNames({
    self: { id: SELF, name: 'alice' },
    peers: () => [{ id: BOB, alias: 'bob', name: null, trust: 'contact' }],
    selfAddresses: () => SELF_ADDRS,
    addressesOf: (p) => (p === BOB ? BOB_ADDRS : { ipv4: '100.64.9.9', ipv6: 'fd58:1b41:5e5c::9' }),
    clock: systemClock,
  });
}

async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=3', '+tries=1', ...args], { timeout: 10_000 });
  return stdout;
}

describe('DNS responder queried with dig', { skip: DIG_SKIP }, () => {
  let server: DnsServer;
  const counters = new Counters();
  let port: number;

  before(async () => {
    server = await startDnsResponder({ host: '127.0.0.1', port: 0, names: names(), self: () => SELF_ADDRS, clock: systemClock, counters, log: silent });
    port = server.address.port;
  });
  after(() => server.close());

  it('A and AAAA of an alias over UDP, and over TCP', async () => {
    assert.equal((await dig(port, 'bob.sentinel', 'A', '+short')).trim(), BOB_ADDRS.ipv4);
    assert.equal((await dig(port, 'bob.sentinel', 'AAAA', '+short')).trim(), 'fd58:1b41:5e5c:0:aaaa:bbbb:cccc:dddd');
    assert.equal((await dig(port, 'bob.sentinel', 'A', '+short', '+tcp')).trim(), BOB_ADDRS.ipv4);
    assert.ok(counters.get('dns.queries.tcp') >= 1);
  });

  it('this node by its name and its id, in any case', async () => {
    assert.equal((await dig(port, 'ALICE.Sentinel', 'A', '+short')).trim(), SELF_ADDRS.ipv4);
    assert.equal((await dig(port, `${SELF}.sentinel`, 'A', '+short')).trim(), SELF_ADDRS.ipv4);
  });

  it('an authoritative answer with a 5 s TTL and no recursion available', async () => {
    const out = await dig(port, 'bob.sentinel', 'A', '+noall', '+answer', '+comments');
    assert.match(out, /status: NOERROR/);
    assert.match(out, /flags: qr aa rd;/, 'aa set, ra not set');
    assert.match(out, /^bob\.sentinel\.\s+5\s+IN\s+A\s+100\.100\.7\.9$/m);
  });

  it('NXDOMAIN for an unknown name, NODATA for another type, REFUSED outside .sentinel', async () => {
    assert.match(await dig(port, 'nobody.sentinel', 'A'), /status: NXDOMAIN/);
    const txt = await dig(port, 'bob.sentinel', 'TXT');
    assert.match(txt, /status: NOERROR/);
    assert.match(txt, /ANSWER: 0,/);
    const before = counters.get('dns.refused.outside_zone');
    const out = await dig(port, 'example.com', 'A');
    assert.match(out, /status: REFUSED/);
    assert.match(out, /recursion requested but not available/);
    assert.equal(counters.get('dns.refused.outside_zone'), before + 1);
  });
});

describe('DNS responder bounds', () => {
  const query = (name: string, qid = 1): Buffer => dnsPacket.encode({ type: 'query', id: qid, questions: [{ name, type: 'A' }] });

  it('refuses queries from sources it does not serve', async () => {
    const counters = new Counters();
    const server = await startDnsResponder({ host: '127.0.0.1', port: 0, names: names(), self: () => SELF_ADDRS, isAllowedSource: () => false, clock: systemClock, counters, log: silent });
    try {
      const reply = await udpAsk(server.address.port, query('bob.sentinel'));
      assert.equal((dnsPacket.decode(reply) as { rcode?: string }).rcode, 'REFUSED');
      assert.equal(counters.get('dns.refused.not_local'), 1);
    } finally {
      await server.close();
    }
  });

  it('a taken port is E_PORT_IN_USE, and nothing stays bound', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', () => r()));
    const port = taken.address().port;
    try {
      await assert.rejects(
        startDnsResponder({ host: '127.0.0.1', port, names: names(), self: () => SELF_ADDRS, clock: systemClock, counters: new Counters(), log: silent }),
        (e: unknown) => isSentinelError(e, 'E_PORT_IN_USE') && /port is already in use: DNS 127\.0\.0\.1:\d+/.test((e as Error).message),
      );
    } finally {
      taken.close();
    }
    const again = await startDnsResponder({ host: '127.0.0.1', port, names: names(), self: () => SELF_ADDRS, clock: systemClock, counters: new Counters(), log: silent });
    await again.close();
  });

  it('answers a burst per source over UDP, then drops and counts', async () => {
    const counters = new Counters();
    const clock = fakeClock(1_000);
    const limits = { perSource: { perSecond: 1, burst: 3 } };
    const server = await startDnsResponder({ host: '127.0.0.1', port: 0, names: names(), self: () => SELF_ADDRS, clock, counters, log: silent, limits });
    const sock = createSocket('udp4');
    const answers: number[] = [];
    sock.on('message', (m) => answers.push(dnsPacket.decode(m).id ?? -1));
    try {
      for (let i = 1; i <= 5; i++) sock.send(query('bob.sentinel', i), server.address.port, '127.0.0.1');
      await waitFor(() => counters.get('dns.queries.udp') === 5 && answers.length === 3, 5_000, 'five queries in, three answers out');
      assert.deepEqual(answers, [1, 2, 3]);
      assert.equal(counters.get('dns.rate_limited.source'), 2);
      await clock.advance(1_000);
      sock.send(query('bob.sentinel', 6), server.address.port, '127.0.0.1');
      await waitFor(() => answers.length === 4, 5_000, 'a token back after a second');
    } finally {
      sock.close();
      await server.close();
    }
  });

  it('TCP: connections per source are capped, an idle one is closed, an oversized message closes it', async () => {
    const counters = new Counters();
    const clock = fakeClock(0);
    const limits = { maxTcpConnectionsPerSource: 2, tcpIdleTimeoutMs: 5_000, maxQueryBytes: 300 };
    const server = await startDnsResponder({ host: '127.0.0.1', port: 0, names: names(), self: () => SELF_ADDRS, clock, counters, log: silent, limits });
    const socks: Socket[] = [];
    try {
      const port = server.address.port;
      const [c1, c2] = [await tcpOpen(port), await tcpOpen(port)];
      socks.push(c1, c2);
      await waitFor(() => server.tcpConnections === 2, 5_000, 'two connections accepted');
      const c3 = await tcpOpen(port);
      socks.push(c3);
      await closed(c3);
      assert.equal(counters.get('dns.tcp.refused.source'), 1);
      // A query on c1 re-arms its idle timer; c2 says nothing.
      const reply = tcpReply(c1);
      c1.write(frameTcp(query('bob.sentinel', 9)));
      assert.equal(dnsPacket.decode(await reply).id, 9);
      await clock.advance(4_999);
      assert.equal(server.tcpConnections, 2);
      await clock.advance(1);
      await closed(c2);
      assert.equal(counters.get('dns.tcp.idle_closed'), 2, 'both: c1 answered at t=0 too');
      await closed(c1);
      const c4 = await tcpOpen(port);
      socks.push(c4);
      c4.write(Buffer.of(0x01, 0x2d)); // announces 301 bytes
      await closed(c4);
      assert.equal(counters.get('dns.too_large'), 1);
    } finally {
      for (const s of socks) s.destroy();
      await server.close();
    }
  });
});

describe('DNS in a node', () => {
  const net0 = testnet();
  after(() => net0.close());

  it('an alias set on a running node answers with the peer’s VPN addresses; status shows the responder', { skip: DIG_SKIP }, async () => {
    const { a, b } = await vpnPair(net0, { dns: { port: 0, host: '127.0.0.1' }, name: 'box' });
    const st = a.status().dns;
    assert.equal(st?.state, 'up');
    const port = Number(st?.address?.split(':').pop());
    assert.equal((await dig(port, 'bob.sentinel', '+short')).trim(), '', 'no alias yet');
    await a.alias(b.identity.id, 'bob');
    const B = b.id().vpn;
    // The name table is rebuilt at most once a second.
    let got = '';
    for (let i = 0; i < 30 && got !== B.ipv4; i++) {
      got = (await dig(port, 'bob.sentinel', '+short')).trim();
      if (got !== B.ipv4) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(got, B.ipv4);
    assert.equal((await dig(port, 'bob.sentinel', 'AAAA', '+short')).trim(), B.ipv6);
    assert.equal((await dig(port, `${a.identity.id}.sentinel`, '+short')).trim(), a.id().vpn.ipv4);
    assert.ok((a.status().counters['dns.answer'] ?? 0) >= 3);
  });

  it('no VPN, no responder; a port it cannot bind leaves the node running, with the reason', async () => {
    const plain = await net0.node({ dns: { port: 0, host: '127.0.0.1' } });
    assert.equal(plain.status().dns?.state, 'off');
    const { a } = await vpnPair(net0, { dns: { port: 1, host: '192.0.2.1' } });
    const st = a.status().dns;
    assert.equal(st?.state, 'failed');
    assert.match(st?.reason ?? '', /EADDRNOTAVAIL|EACCES|address/i);
    assert.equal(a.status().vpn.state, 'up');
  });
});

function udpAsk(port: number, msg: Buffer): Promise<Buffer> {
  const sock = createSocket('udp4');
  return new Promise<Buffer>((resolve, reject) => {
    sock.once('message', resolve);
    sock.once('error', reject);
    sock.send(msg, port, '127.0.0.1');
  }).finally(() => sock.close());
}

function tcpOpen(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: Socket): Promise<void> {
  if (s.closed) return Promise.resolve();
  s.on('error', () => {});
  return new Promise((r) => s.once('close', () => r()));
}

/** The next framed DNS message on `s`. */
function tcpReply(s: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.off('data', onData);
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    };
    s.on('data', onData);
  });
}
