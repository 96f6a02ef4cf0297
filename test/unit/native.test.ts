/**
 * Fighter sockets on loopback: a listener and outgoing connections sharing one port,
 * errno names reaching JS, timeout and cancel without fd leaks, IPv6, and a real TCP
 * simultaneous open.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isSentinelError } from '../../src/errors.js';
import { dialErrno, fighterConnect, fighterListen, loadNative, type ConnectHandle, type FighterNative } from '../../src/native/index.js';

const loaded = loadNative();
const skip = loaded.ok ? false : `native addon not built: ${loaded.reason}`;
/** Per-test options: skipped without the addon; a hang fails instead of stalling the run. */
const opts = { skip, timeout: 20_000 };
const LOOP = '127.0.0.1';
const TIMEOUT_MS = 5_000;

function addon(): FighterNative {
  assert.ok(loaded.ok);
  return loaded.native;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

/** Everything a test opened, closed at the end with all 'close' events awaited. */
class Resources {
  private readonly sockets = new Set<net.Socket>();
  private readonly servers = new Set<net.Server>();
  private readonly fds = new Set<number>();

  socket(s: net.Socket): net.Socket {
    this.sockets.add(s);
    return s;
  }

  server(s: net.Server): net.Server {
    this.servers.add(s);
    s.on('connection', (c: net.Socket) => this.socket(c));
    return s;
  }

  fd(fd: number): number {
    this.fds.add(fd);
    return fd;
  }

  async closeAll(): Promise<void> {
    // Sockets first: server.close() waits for its accepted connections to end.
    await Promise.all([...this.sockets].filter((s) => !s.closed).map((s) => {
      const closed = once(s, 'close');
      s.destroy();
      return closed;
    }));
    await Promise.all([...this.servers].map((s) => new Promise((resolve) => s.close(resolve))));
    for (const fd of this.fds) addon().close(fd);
  }
}

function plainListen(host = LOOP, port = 0): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

function plainConnect(opts: net.TcpNetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(opts);
    sock.once('error', reject);
    sock.once('connect', () => resolve(sock));
  });
}

/** The next connection `server` accepts (register before dialling). */
function nextConnection(server: net.Server): Promise<net.Socket> {
  return once(server, 'connection').then(([s]) => s as net.Socket);
}

function readText(sock: net.Socket, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (text.length < n) return;
      sock.off('data', onData).off('close', onClose);
      resolve(text);
    };
    const onClose = (): void => reject(new Error(`closed after ${text.length} of ${n} bytes`));
    sock.on('data', onData).on('close', onClose);
  });
}

/** Data flows both ways between two ends of one connection. */
async function exchange(a: net.Socket, b: net.Socket): Promise<void> {
  a.write('ping');
  assert.equal(await readText(b, 4), 'ping');
  b.write('pong');
  assert.equal(await readText(a, 4), 'pong');
}

function assertDialErrno(err: unknown, errno: string): true {
  assert.ok(isSentinelError(err, 'E_DIAL_FAILED'), `expected E_DIAL_FAILED, got ${String(err)}`);
  assert.equal(dialErrno(err), errno);
  return true;
}

/** Let the event loop run a few turns (to give a wrongly-called callback its chance). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A loopback port whose listener never accepts and whose accept queue is full, so the
 * kernel drops new SYNs: connects to it stay pending, like a NAT that drops them.
 */
async function blackhole(r: Resources): Promise<number> {
  const fd = r.fd(addon().listen(LOOP, 0, 0));
  const { port } = addon().sockname(fd);
  // backlog 0 still queues one connection; fill the queue until a connect hangs.
  for (let i = 0; i < 4; i++) {
    try {
      r.socket(await fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: 300 }));
    } catch (err) {
      assertDialErrno(err, 'ETIMEDOUT');
      return port;
    }
  }
  assert.fail('accept queue never filled');
}

let fdsAtStart = 0;

before(async () => {
  if (skip) return;
  // Warm up whatever Node opens lazily on first socket use, then take the baseline.
  const r = new Resources();
  const server = r.server(await plainListen());
  r.socket(await plainConnect({ host: LOOP, port: portOf(server) }));
  await r.closeAll();
  fdsAtStart = openFds();
});

test('the addon loads here', opts, () => {
  assert.equal(loaded.ok, true);
});

test('a fighter listener and a fighter connection share one local port', opts, async () => {
  const r = new Resources();
  const listener = r.server(await fighterListen({ host: LOOP, port: 0 }));
  const P = portOf(listener);
  assert.ok(P > 0, 'port 0 resolved to a real port');
  const remote = r.server(await plainListen());

  // Plain Node cannot dial from a port a listener holds: this is what the addon is for.
  await assert.rejects(plainConnect({ host: LOOP, port: portOf(remote), localAddress: LOOP, localPort: P }), { code: 'EADDRINUSE' });

  const incoming = nextConnection(remote);
  const out = r.socket(await fighterConnect({ localHost: LOOP, localPort: P, host: LOOP, port: portOf(remote), timeoutMs: TIMEOUT_MS }));
  const peer = await incoming;
  assert.equal(out.localPort, P);
  assert.equal(peer.remotePort, P);
  await exchange(out, peer);

  // The listener keeps serving on P while the outgoing connection is up.
  const accepted = nextConnection(listener);
  const client = r.socket(await plainConnect({ host: LOOP, port: P }));
  await exchange(client, await accepted);
  await r.closeAll();
});

test('two fighter connections from one local port reach two remotes (all on wildcard addresses)', opts, async () => {
  const r = new Resources();
  // As the node uses them: listener on 0.0.0.0:P, dials from the default local 0.0.0.0:P.
  const listener = r.server(await fighterListen({ host: '0.0.0.0', port: 0 }));
  const P = portOf(listener);
  const remotes = [r.server(await plainListen()), r.server(await plainListen())];
  for (const remote of remotes) {
    const incoming = nextConnection(remote);
    const out = r.socket(await fighterConnect({ localPort: P, host: LOOP, port: portOf(remote), timeoutMs: TIMEOUT_MS }));
    const peer = await incoming;
    assert.equal(peer.remotePort, P);
    await exchange(out, peer);
  }
  await r.closeAll();
});

test('a refused connect reaches JS as ECONNREFUSED', opts, async () => {
  const closed = await plainListen();
  const port = portOf(closed);
  await new Promise((resolve) => closed.close(resolve));

  await assert.rejects(fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: TIMEOUT_MS }), (err) => assertDialErrno(err, 'ECONNREFUSED'));

  const [err, fd] = await new Promise<[unknown, number | undefined]>((resolve) => {
    addon().connect(LOOP, 0, LOOP, port, (e, f) => resolve([e, f]));
  });
  assert.equal(fd, undefined);
  assert.ok(err instanceof Error);
  assert.deepEqual({ code: (err as NodeJS.ErrnoException).code, syscall: (err as NodeJS.ErrnoException).syscall }, { code: 'ECONNREFUSED', syscall: 'connect' });
});

test('a fighter listener cannot take a port a plain listener holds: EADDRINUSE', opts, async () => {
  const r = new Resources();
  const plain = r.server(await plainListen());
  await assert.rejects(fighterListen({ host: LOOP, port: portOf(plain) }), { code: 'EADDRINUSE', syscall: 'bind' });
  await r.closeAll();
});

test('a connect that gets no answer times out with ETIMEDOUT and closes its fd', opts, async () => {
  const r = new Resources();
  const port = await blackhole(r);
  const before = openFds();
  await assert.rejects(fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: 200 }), (err) => assertDialErrno(err, 'ETIMEDOUT'));
  assert.equal(openFds(), before);
  await r.closeAll();
});

test('aborting a pending fighterConnect rejects with ECANCELED', opts, async () => {
  const r = new Resources();
  const port = await blackhole(r);
  const ac = new AbortController();
  const pending = fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: TIMEOUT_MS, signal: ac.signal });
  ac.abort();
  await assert.rejects(pending, (err) => assertDialErrno(err, 'ECANCELED'));
  await assert.rejects(fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: TIMEOUT_MS, signal: ac.signal }), (err) => assertDialErrno(err, 'ECANCELED'));
  await r.closeAll();
});

test('cancel() closes the fd at once and the callback never runs', opts, async () => {
  const r = new Resources();
  const server = r.server(await plainListen());
  const before = openFds();
  let calls = 0;
  const handle = addon().connect(LOOP, 0, LOOP, portOf(server), () => calls++);
  assert.equal(openFds(), before + 1);
  assert.equal(handle.cancel(), true);
  assert.equal(openFds(), before);
  assert.equal(handle.cancel(), false, 'a second cancel is a no-op');
  await settle();
  assert.equal(calls, 0);
  await r.closeAll();
});

test('a connect whose handle is garbage-collected still completes', opts, async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const r = new Resources();
  const server = r.server(await plainListen());
  const done = new Promise<number | undefined>((resolve) => {
    addon().connect(LOOP, 0, LOOP, portOf(server), (_err, fd) => resolve(fd));
  });
  gc();
  const fd = await done;
  assert.equal(typeof fd, 'number');
  r.fd(fd as number);
  gc();
  await settle();
  await r.closeAll();
});

test('IPv6 loopback: listener and connection share a port; "::" is IPv6-only', opts, async (t) => {
  const probe = await plainListen('::1').catch(() => undefined);
  if (!probe) return t.skip('no IPv6 loopback on this machine');
  await new Promise((resolve) => probe.close(resolve));
  const r = new Resources();
  const listener = r.server(await fighterListen({ host: '::1', port: 0 }));
  const P = portOf(listener);
  const remote = r.server(await plainListen('::1'));
  const incoming = nextConnection(remote);
  const out = r.socket(await fighterConnect({ localPort: P, host: '::1', port: portOf(remote), timeoutMs: TIMEOUT_MS }));
  const peer = await incoming;
  assert.equal(peer.remotePort, P);
  await exchange(out, peer);

  // '::' gets IPV6_V6ONLY: IPv4 is refused until an IPv4 listener joins the same port.
  const v6 = r.server(await fighterListen({ host: '::', port: 0 }));
  const Q = portOf(v6);
  await assert.rejects(plainConnect({ host: LOOP, port: Q }), { code: 'ECONNREFUSED' });
  const v4 = r.server(await fighterListen({ host: '0.0.0.0', port: Q }));
  const accepted = nextConnection(v4);
  r.socket(await plainConnect({ host: LOOP, port: Q }));
  assert.equal((await accepted).localPort, Q);
  await r.closeAll();
});

test('TCP simultaneous open: two sockets dialling each other become one connection', opts, async (t) => {
  const r = new Resources();
  // Listeners whose full accept queues drop SYNs, as a NAT drops an early unsolicited SYN:
  // the first SYN (P->Q) is lost, the second (Q->P) meets P's connecting socket.
  const P = await blackhole(r);
  const Q = await blackhole(r);
  const [pq, qp] = await Promise.all([
    fighterConnect({ localHost: LOOP, localPort: P, host: LOOP, port: Q, timeoutMs: TIMEOUT_MS }),
    fighterConnect({ localHost: LOOP, localPort: Q, host: LOOP, port: P, timeoutMs: TIMEOUT_MS }),
  ]);
  r.socket(pq);
  r.socket(qp);
  assert.deepEqual([pq.localPort, pq.remotePort, qp.localPort, qp.remotePort], [P, Q, Q, P]);
  await exchange(pq, qp);
  t.diagnostic('both connects succeeded with each other as the peer (no accept involved)');
  await r.closeAll();
});

test('crossing dials between two accepting fighter listeners yield a connected pair', opts, async (t) => {
  const r = new Resources();
  const [a, b] = [r.server(await fighterListen({ host: LOOP, port: 0 })), r.server(await fighterListen({ host: LOOP, port: 0 }))];
  const accepted: net.Socket[] = [];
  for (const s of [a, b]) s.on('connection', (c: net.Socket) => accepted.push(c));
  const [P, Q] = [portOf(a), portOf(b)];
  const results = await Promise.allSettled([
    fighterConnect({ localHost: LOOP, localPort: P, host: LOOP, port: Q, timeoutMs: TIMEOUT_MS }),
    fighterConnect({ localHost: LOOP, localPort: Q, host: LOOP, port: P, timeoutMs: TIMEOUT_MS }),
  ]);
  const dialled = results.flatMap((x) => (x.status === 'fulfilled' ? [r.socket(x.value)] : []));
  t.diagnostic(`outcomes: ${results.map((x) => (x.status === 'fulfilled' ? 'connected' : dialErrno(x.reason))).join(', ')}`);
  const first = dialled[0];
  assert.ok(first, 'at least one dial connected');
  // Its other end is either the other dialled socket (simultaneous open) or one a listener accepted.
  const isPeer = (s: net.Socket): boolean => s.localPort === first.remotePort && s.remotePort === first.localPort;
  while (![...dialled, ...accepted].some(isPeer)) await once(first.remotePort === P ? a : b, 'connection');
  const peer = [...dialled, ...accepted].find(isPeer) as net.Socket;
  await exchange(first, peer);
  await r.closeAll();
});

/** The TTL a socket without IP_TTL sends with (net.ipv4.ip_default_ttl of this namespace). */
function defaultTtl(): number {
  return Number(readFileSync('/proc/sys/net/ipv4/ip_default_ttl', 'utf8').trim());
}

/** The fd behind a net.Socket made from one (Node keeps it on the handle). */
function fdOf(s: net.Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  assert.equal(typeof fd, 'number');
  return fd as number;
}

/** A raw addon connect to a loopback server, resolving with the fd. */
function rawConnect(port: number, ...ttls: (number | undefined)[]): Promise<number> {
  return new Promise((resolve, reject) => {
    addon().connect(LOOP, 0, LOOP, port, (err, fd) => (err ? reject(err) : resolve(fd as number)), ...ttls);
  });
}

test('connect(..., ttl, minTtl) sets both before connect(2); setTtl(-1, 0) restores the defaults; getTtl reads them', opts, async () => {
  const r = new Resources();
  const server = r.server(await plainListen());
  // minTtl 0 so the loopback SYN-ACK (TTL 7) is accepted.
  const fd = r.fd(await rawConnect(portOf(server), 7, 0));
  assert.deepEqual(addon().getTtl(fd), { ttl: 7, minTtl: 0 });
  addon().setTtl(fd, 3, 200);
  assert.deepEqual(addon().getTtl(fd), { ttl: 3, minTtl: 200 });
  addon().setTtl(fd, 9);
  assert.deepEqual(addon().getTtl(fd), { ttl: 9, minTtl: 200 }, 'minTtl left alone when not given');
  addon().setTtl(fd, -1, 0);
  assert.deepEqual(addon().getTtl(fd), { ttl: defaultTtl(), minTtl: 0 });
  const plain = r.fd(await rawConnect(portOf(server)));
  assert.deepEqual(addon().getTtl(plain), { ttl: defaultTtl(), minTtl: 0 }, 'no ttl arguments: the system defaults');
  const undef = r.fd(await rawConnect(portOf(server), undefined, undefined));
  assert.deepEqual(addon().getTtl(undef), { ttl: defaultTtl(), minTtl: 0 }, 'undefined: the system defaults');
  await r.closeAll();
});

test('handle.setTtl changes a pending connect and answers false once it has finished', opts, async () => {
  const r = new Resources();
  const server = r.server(await plainListen());
  let handle: ConnectHandle | undefined;
  // minTtl 255: the SYN-ACK is dropped, so the connect stays pending until setTtl lowers it
  // (the kernel's SYN retransmission then completes it).
  const fd = r.fd(
    await new Promise<number>((resolve, reject) => {
      handle = addon().connect(LOOP, 0, LOOP, portOf(server), (err, f) => (err ? reject(err) : resolve(f as number)), 5, 255);
      setTimeout(() => assert.equal(handle?.setTtl(-1, 0), true, 'still pending'), 100);
    }),
  );
  assert.deepEqual(addon().getTtl(fd), { ttl: defaultTtl(), minTtl: 0 });
  assert.equal(handle?.setTtl(4, 0), false, 'finished: nothing to change');
  await r.closeAll();
});

test('ttl and minTtl are validated before any socket exists; setTtl/getTtl report errno names', opts, async () => {
  const before = openFds();
  for (const bad of [0, 256, -1, 1.5, Number.NaN, '2'] as unknown[]) {
    assert.throws(() => addon().connect(LOOP, 0, LOOP, 9, () => undefined, bad as number), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }, `ttl ${String(bad)}`);
  }
  for (const bad of [-1, 256, 0.5]) {
    assert.throws(() => addon().connect(LOOP, 0, LOOP, 9, () => undefined, 2, bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }, `minTtl ${bad}`);
  }
  assert.equal(openFds(), before, 'nothing was opened');
  const r = new Resources();
  const server = r.server(await plainListen());
  const fd = r.fd(await rawConnect(portOf(server)));
  for (const bad of [0, 256, -2, 2.5]) assert.throws(() => addon().setTtl(fd, bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }, `setTtl ${bad}`);
  assert.throws(() => addon().setTtl(fd, 5, 256), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  const unused = 1_000_000;
  assert.throws(() => addon().setTtl(unused, 5), { code: 'EBADF', syscall: 'getsockname' });
  assert.throws(() => addon().getTtl(unused), { code: 'EBADF', syscall: 'getsockname' });
  await r.closeAll();
});

test('fighterConnect({ ttl }) validates it, connects, and hands over a socket with the defaults again', opts, async () => {
  const r = new Resources();
  const server = r.server(await plainListen());
  const port = portOf(server);
  for (const bad of [0, 256, 2.5]) assert.throws(() => fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: TIMEOUT_MS, ttl: bad }), RangeError);
  assert.throws(() => fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: TIMEOUT_MS, shieldMs: 100 }), RangeError, 'shieldMs needs ttl');
  assert.throws(() => fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: TIMEOUT_MS, ttl: 2, shieldMs: 0 }), RangeError);
  // Loopback never decrements the TTL, so even 1 connects.
  const s = r.socket(await fighterConnect({ localPort: 0, host: LOOP, port, timeoutMs: TIMEOUT_MS, ttl: 1 }));
  assert.deepEqual(addon().getTtl(fdOf(s)), { ttl: defaultTtl(), minTtl: 0 });
  await r.closeAll();
});

test('a shielded fighterConnect drops the first answer, carries on after the shield, and hands over the defaults', opts, async () => {
  const r = new Resources();
  const server = r.server(await plainListen());
  let accepted = 0;
  server.on('connection', () => accepted++);
  const pending = fighterConnect({ localPort: 0, host: LOOP, port: portOf(server), timeoutMs: TIMEOUT_MS, ttl: 2, shieldMs: 200 });
  let done = false;
  void pending.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(done, false, 'the SYN-ACK (TTL below 255) was dropped while shielded');
  const s = r.socket(await pending);
  assert.deepEqual(addon().getTtl(fdOf(s)), { ttl: defaultTtl(), minTtl: 0 });
  while (accepted === 0) await once(server, 'connection');
  await r.closeAll();
});

test('IPv6: connect(..., ttl, minTtl) sets the unicast hop limit and the minimum hop count', opts, async (t) => {
  const probe = await plainListen('::1').catch(() => undefined);
  if (!probe) return t.skip('no IPv6 loopback on this machine');
  const r = new Resources();
  const server = r.server(probe);
  const fd = r.fd(await new Promise<number>((resolve, reject) => addon().connect('::1', 0, '::1', portOf(server), (e, f) => (e ? reject(e) : resolve(f as number)), 9, 0)));
  assert.deepEqual(addon().getTtl(fd), { ttl: 9, minTtl: 0 });
  addon().setTtl(fd, 4, 100);
  assert.deepEqual(addon().getTtl(fd), { ttl: 4, minTtl: 100 });
  addon().setTtl(fd, -1, 0);
  assert.deepEqual(addon().getTtl(fd), { ttl: Number(readFileSync('/proc/sys/net/ipv6/conf/default/hop_limit', 'utf8').trim()), minTtl: 0 });
  await r.closeAll();
});

test('no fd leaks across the suite', opts, () => {
  assert.equal(openFds(), fdsAtStart);
});


test('fighter sockets hold at most 128 KiB unsent in the kernel (TCP_NOTSENT_LOWAT), accepted ones too', opts, async () => {
  const r = new Resources();
  const listener = r.server(await fighterListen({ host: LOOP, port: 0 }));
  const remote = r.server(await plainListen());
  const incoming = nextConnection(remote);
  const out = r.socket(await fighterConnect({ localHost: LOOP, localPort: portOf(listener), host: LOOP, port: portOf(remote), timeoutMs: TIMEOUT_MS }));
  const plainPeer = await incoming;
  const accepted = nextConnection(listener);
  const client = r.socket(await plainConnect({ host: LOOP, port: portOf(listener) }));
  const inbound = await accepted;
  const lowat = addon().notsentLowat!;
  assert.equal(lowat(fdOf(out)), 128 * 1024, 'outgoing fighter connection');
  assert.equal(lowat(fdOf(inbound)), 128 * 1024, 'connection accepted by a fighter listener');
  // Plain sockets keep the system default (0: no limit beyond the send buffer).
  assert.equal(lowat(fdOf(client)), 0);
  assert.equal(lowat(fdOf(plainPeer)), 0);
  await r.closeAll();
});
