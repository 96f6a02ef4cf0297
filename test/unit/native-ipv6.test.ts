/**
 * Fighter sockets and IPv6 on loopback: the node's dual-stack identity-port listener
 * (`[::]:P` with IPV6_V6ONLY cleared) takes IPv4 and IPv6 connections while fighter
 * connections leave from P over both families, and TCP simultaneous open works over IPv6.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { exclusiveFighterListen } from '../../src/connect/listen.js';
import { fighterConnect, fighterListen, loadNative } from '../../src/native/index.js';

const loaded = loadNative();
const v6Loopback = await new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen({ host: '::1', port: 0 }, () => s.close(() => resolve(true)));
});
const skip = !loaded.ok ? `native addon not built: ${loaded.reason}` : !v6Loopback ? 'no IPv6 loopback on this machine' : false;
const opts = { skip, timeout: 20_000 };
const TIMEOUT_MS = 5_000;

const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

function plainListen(host: string, port = 0): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host === '::' }, () => resolve(server));
  });
}

function plainConnect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.once('error', reject);
    sock.once('connect', () => resolve(sock));
  });
}

async function echoOnce(a: net.Socket, b: net.Socket): Promise<void> {
  a.write('ping');
  const [chunk] = (await once(b, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'ping');
}

/** Closes everything a test opened, whatever happened. */
class Bag {
  private readonly sockets: net.Socket[] = [];
  private readonly servers: net.Server[] = [];
  socket(s: net.Socket): net.Socket {
    this.sockets.push(s);
    return s;
  }
  server(s: net.Server): net.Server {
    this.servers.push(s);
    s.on('connection', (c: net.Socket) => this.socket(c));
    return s;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
  }
}

test('a dual-stack fighter listener on [::]:P takes IPv4 and IPv6; fighter connects leave from P over both', opts, async (t) => {
  const bag = new Bag();
  t.after(() => bag.close());
  const listener = bag.server(await fighterListen({ host: '::', port: 0, dualStack: true }));
  const P = portOf(listener);

  const v4in = once(listener, 'connection');
  bag.socket(await plainConnect('127.0.0.1', P));
  const [a4] = (await v4in) as [net.Socket];
  assert.equal(a4.remoteAddress, '::ffff:127.0.0.1', 'IPv4 arrives IPv4-mapped');
  const v6in = once(listener, 'connection');
  bag.socket(await plainConnect('::1', P));
  const [a6] = (await v6in) as [net.Socket];
  assert.equal(a6.remoteAddress, '::1');

  // Outgoing from the identity port while the dual-stack listener holds it, both families.
  const remote4 = bag.server(await plainListen('127.0.0.1'));
  const remote6 = bag.server(await plainListen('::1'));
  const in4 = once(remote4, 'connection');
  const in6 = once(remote6, 'connection');
  const out4 = bag.socket(await fighterConnect({ localPort: P, host: '127.0.0.1', port: portOf(remote4), timeoutMs: TIMEOUT_MS }));
  const out6 = bag.socket(await fighterConnect({ localPort: P, host: '::1', port: portOf(remote6), timeoutMs: TIMEOUT_MS }));
  const [[p4], [p6]] = (await Promise.all([in4, in6])) as [[net.Socket], [net.Socket]];
  assert.equal(p4.remotePort, P);
  assert.equal(p6.remotePort, P);
  assert.equal(p6.remoteAddress, '::1');
  await echoOnce(out4, p4);
  await echoOnce(out6, p6);
});

test('TCP simultaneous open over IPv6 between two dual-stack identity ports', opts, async (t) => {
  const bag = new Bag();
  t.after(() => bag.close());
  // Two listeners; each side dials the other's port from its own. Whether the SYNs cross
  // (simultaneous open) or one reaches the other's listener, a connection results.
  const [a, b] = [bag.server(await fighterListen({ host: '::', port: 0, dualStack: true })), bag.server(await fighterListen({ host: '::', port: 0, dualStack: true }))];
  const [P, Q] = [portOf(a), portOf(b)];
  const results = await Promise.allSettled([
    fighterConnect({ localHost: '::1', localPort: P, host: '::1', port: Q, timeoutMs: TIMEOUT_MS }),
    fighterConnect({ localHost: '::1', localPort: Q, host: '::1', port: P, timeoutMs: TIMEOUT_MS }),
  ]);
  const connected = results.flatMap((r) => (r.status === 'fulfilled' ? [bag.socket(r.value)] : []));
  assert.ok(connected.length > 0, `no dial connected: ${results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')).join('; ')}`);
  for (const s of connected) {
    assert.equal(s.remoteAddress, '::1');
    assert.ok([P, Q].includes(s.localPort ?? -1), `left from an identity port (${s.localPort})`);
  }
});

test('the node listener: dual-stack by default, IPv4 only with 0.0.0.0, and still exclusive', opts, async (t) => {
  const bag = new Bag();
  t.after(() => bag.close());
  const dual = bag.server(await exclusiveFighterListen(0, undefined));
  const addr = dual.address() as net.AddressInfo;
  assert.equal(addr.address, '::');
  bag.socket(await plainConnect('127.0.0.1', addr.port));
  bag.socket(await plainConnect('::1', addr.port));

  const v4only = bag.server(await exclusiveFighterListen(0, '0.0.0.0'));
  await assert.rejects(plainConnect('::1', portOf(v4only)), { code: 'ECONNREFUSED' });

  // Another program holding the port on IPv4 only still makes the dual-stack node fail.
  const holder = bag.server(await plainListen('0.0.0.0'));
  await assert.rejects(exclusiveFighterListen(portOf(holder), undefined), { code: 'EADDRINUSE' });
});
