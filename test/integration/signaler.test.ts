/** Signaler and hole-punch coordination over loopback, with real fighter sockets. */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity, publicKeyFromNodeId } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { loadNative } from '../../src/native/index.js';
import { SignalerServer } from '../../src/signaler/index.js';
import net from 'node:net';
import { encodeFrame, encodeHello, encodeLookup, encodePunchRequest, encodeRegister, FrameType, FrameDecoder, decodeSignalError, decodeRegistered } from '../../src/wire/index.js';
import { SIGNAL_MAX_PAYLOAD, REGISTER_RATE, REQUEST_RATE } from '../../src/signaler/index.js';
import { startNode } from '../../src/node.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
const servers: SignalerServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await net0.close();
});
const silent = createLogger('silent', () => {});
const native = loadNative();

async function signaler(opts: { registerTimeoutMs?: number; limits?: Partial<import('../../src/transport/index.js').TransportLimits> } = {}): Promise<SignalerServer> {
  const s = new SignalerServer({ identity: generateIdentity(), log: silent, ...opts });
  await s.listen(0, '127.0.0.1');
  servers.push(s);
  return s;
}

/** A raw authenticated client speaking frames to the signaler. */
function rawClient(port: number) {
  const id = generateIdentity();
  const frames: Array<{ type: number; payload: Buffer }> = [];
  const dec = new FrameDecoder();
  const sock = tls.connect({ host: '127.0.0.1', port, key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
  sock.on('data', (d: Buffer) => frames.push(...dec.push(d)));
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  // Like a real client, HELLO first (anything else first is a protocol violation).
  const ready = new Promise<void>((r) => sock.once('secureConnect', () => (sock.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' }))), r())));
  return { id, sock, frames, closed, ready, send: (type: number, p: Buffer) => sock.write(encodeFrame(type, p)) };
}

describe('signaler', () => {
  it('registers nodes with their observed address and coordinates a punch: B dials A by id alone', async (t) => {
    if (!native.ok) return t.skip(`native addon unavailable: ${native.reason}`);
    const sig = await signaler();
    const a = await net0.node({ signaler: `127.0.0.1:${sig.port}` });
    const b = await net0.node({ signaler: `127.0.0.1:${sig.port}` });
    await waitFor(() => a.status().signaler.state === 'connected' && b.status().signaler.state === 'connected', 5_000, 'registration');
    assert.equal(a.status().signaler.observed, `127.0.0.1:${a.port}`, 'the signaler sees the identity port');
    assert.equal(a.status().signaler.id, sig.id, 'trusted on first use');
    assert.equal(sig.lookup(a.identity.id)?.observed.port, a.port);
    const stages: string[] = [];
    const r = await b.dial(a.identity.id, (p) => stages.push(p.stage));
    assert.equal(r.id, a.identity.id);
    // On loopback there is no NAT: A's punch SYN may land on B's listener (inbound).
    assert.ok(r.method === 'tcp-simultaneous-open' || r.method === 'inbound', r.method);
    // On loopback A's own punch may connect before B's first attempt, so 'punching' is optional.
    assert.ok(stages.includes('looking-up') && stages.at(-1) === 'connected', stages.join(','));
    await waitFor(() => a.peers().some((p) => p.id === b.identity.id && p.connected), 3_000, 'A sees B');
    assert.equal(b.peers().filter((p) => p.connected).length, 1, 'exactly one session');
    assert.equal((await b.send(a.identity.id, 'punched hello')).status, 'delivered');
  });

  it('reports an unregistered target plainly', async (t) => {
    if (!native.ok) return t.skip(`native addon unavailable: ${native.reason}`);
    const sig = await signaler();
    const b = await net0.node({ signaler: `127.0.0.1:${sig.port}` });
    await waitFor(() => b.status().signaler.state === 'connected', 5_000, 'registration');
    const stranger = generateIdentity().id;
    await assert.rejects(b.dial(stranger), (e: Error & { code?: string }) => e.code === 'E_DIAL_FAILED' && /not registered/.test(e.message));
  });

  it('refuses a signaler that does not prove the pinned id, and reports it', async () => {
    const sig = await signaler();
    const wrongPin = generateIdentity().id;
    const n = await net0.node({ signaler: `127.0.0.1:${sig.port}#${wrongPin}` });
    await waitFor(() => n.status().signaler.state === 'untrusted', 5_000, 'untrusted state');
    assert.equal(sig.size, 0);
  });

  it('is unreachable as a status, not an error', async () => {
    const n = await net0.node({ signaler: '127.0.0.1:1' });
    await waitFor(() => n.status().signaler.state === 'unreachable', 5_000, 'unreachable');
    assert.equal(n.status().peers, 0);
  });

  it('a second registration of the same id replaces the first and closes the stale session', async () => {
    const sig = await signaler();
    const c1 = rawClient(sig.port);
    await c1.ready;
    c1.send(FrameType.REGISTER, encodeRegister({ listenPort: 1111, local: [] }));
    await waitFor(() => sig.size === 1, 3_000, 'first registration');
    // The same key again, from a new connection.
    const c2 = tls.connect({ host: '127.0.0.1', port: sig.port, key: c1.id.keyPem, cert: c1.id.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
    c2.on('error', () => {});
    await new Promise((r) => c2.once('secureConnect', r));
    c2.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' })));
    c2.write(encodeFrame(FrameType.REGISTER, encodeRegister({ listenPort: 2222, local: [] })));
    await c1.closed;
    await waitFor(() => sig.lookup(c1.id.id)?.listenPort === 2222, 3_000, 'replaced');
    assert.equal(sig.size, 1);
    c2.destroy();
  });

  it('answers REGISTERED, refuses lookups before registration, rate-limits, and times out silent sessions', async () => {
    const sig = await signaler({ registerTimeoutMs: 300 });
    const c = rawClient(sig.port);
    await c.ready;
    c.send(FrameType.LOOKUP, encodeLookup({ reqId: 9, target: publicKeyFromNodeId(generateIdentity().id) }));
    c.send(FrameType.REGISTER, encodeRegister({ listenPort: 4000, local: [{ host: '192.168.1.2', port: 4000 }] }));
    for (let i = 0; i < 15; i++) c.send(FrameType.LOOKUP, encodeLookup({ reqId: 100 + i, target: publicKeyFromNodeId(generateIdentity().id) }));
    await waitFor(() => c.frames.filter((f) => f.type === FrameType.SIGNAL_ERROR).length >= 16, 3_000, 'answers');
    const errors = c.frames.filter((f) => f.type === FrameType.SIGNAL_ERROR).map((f) => decodeSignalError(f.payload));
    assert.equal(errors[0]?.reqId, 9);
    assert.match(errors[0]?.reason ?? '', /register/);
    assert.ok(errors.some((e) => /too many/.test(e.reason)), 'rate limited');
    const reg = c.frames.find((f) => f.type === FrameType.REGISTERED);
    assert.equal(decodeRegistered(reg!.payload).observed.host, '127.0.0.1');
    assert.ok(sig.counters.get('rate_limited.request') >= 1);
    // A session that never registers is closed after the register timeout.
    const idle = rawClient(sig.port);
    await idle.closed;
    assert.equal(sig.counters.get('register_timeouts'), 1);
    c.sock.destroy();
  });

  it('closes a session that sends a node-to-node frame to the signaler', async () => {
    const sig = await signaler();
    const c = rawClient(sig.port);
    await c.ready;
    c.send(FrameType.ACK, Buffer.from('0001' + '00'.repeat(16), 'hex'));
    await c.closed;
    assert.equal(sig.counters.get('frames_unexpected'), 1);
  });

  it('limits: frame size, registrations and punch requests per second, connections per IP, handshake time', async () => {
    const sig = await signaler({ limits: { maxSessionsPerIp: 2, handshakeTimeoutMs: 300 } });
    // Frame size: one byte over the signaler's payload cap closes the session.
    const big = rawClient(sig.port);
    await big.ready;
    big.send(FrameType.REGISTER, Buffer.alloc(SIGNAL_MAX_PAYLOAD + 1));
    await big.closed;
    assert.equal(sig.counters.get('protocol_errors.E_FRAME_TOO_LARGE'), 1);
    // Registrations per second.
    const c = rawClient(sig.port);
    await c.ready;
    for (let i = 0; i < REGISTER_RATE.burst + 2; i++) c.send(FrameType.REGISTER, encodeRegister({ listenPort: 5000 + i, local: [] }));
    await waitFor(() => sig.counters.get('rate_limited.register') === 2, 3_000, 'register rate limit');
    assert.equal(sig.counters.get('registrations'), REGISTER_RATE.burst);
    // Punch requests per second (shared bucket with lookups).
    for (let i = 0; i < REQUEST_RATE.burst + 3; i++) c.send(FrameType.PUNCH_REQUEST, encodePunchRequest({ reqId: i + 1, target: publicKeyFromNodeId(generateIdentity().id) }));
    await waitFor(() => sig.counters.get('rate_limited.request') === 3, 3_000, 'request rate limit');
    // Connections per source IP: two sessions are up (c and the next), the third is refused.
    const second = rawClient(sig.port);
    await second.ready;
    second.send(FrameType.REGISTER, encodeRegister({ listenPort: 1, local: [] }));
    await waitFor(() => second.frames.some((f) => f.type === FrameType.REGISTERED), 3_000, 'second registered');
    const third = rawClient(sig.port);
    await third.closed;
    assert.equal(sig.counters.get('inbound_refused.sessions_per_ip'), 1);
    // Handshake time: a TCP client that never starts TLS is dropped.
    c.sock.destroy();
    second.sock.destroy();
    await waitFor(() => sig.size === 0, 3_000, 'sessions gone');
    const mute = net.connect(sig.port, '127.0.0.1');
    mute.on('error', () => {});
    await new Promise((r) => mute.on('close', r));
    assert.equal(sig.counters.get('handshakes_failed.E_HANDSHAKE_TIMEOUT'), 1);
  });

  it('a node re-registers after the signaler restarts (backoff with jitter)', async () => {
    const identity = generateIdentity();
    const first = new SignalerServer({ identity, log: silent });
    const port = await first.listen(0, '127.0.0.1');
    const n = await net0.node({ signaler: `127.0.0.1:${port}` });
    await waitFor(() => n.status().signaler.state === 'connected', 5_000, 'registered');
    await first.close();
    await waitFor(() => n.status().signaler.state !== 'connected', 5_000, 'noticed the loss');
    const again = new SignalerServer({ identity, log: silent });
    await again.listen(port, '127.0.0.1');
    servers.push(again);
    await waitFor(() => again.size === 1 && n.status().signaler.state === 'connected', 10_000, 're-registered');
    assert.ok(again.lookup(n.identity.id));
  });

  it('a node without the native addon runs and says so, and cannot punch', async () => {
    const sig = await signaler();
    const dir = await net0.tempDir();
    const n = await startNode({ dataDir: dir, port: 0, host: '127.0.0.1', signaler: `127.0.0.1:${sig.port}`, native: 'off', mdns: false, minPeers: 0, reconnect: false, log: silent });
    try {
      assert.deepEqual(n.status().holePunching, { available: false, reason: 'disabled by configuration' });
      await waitFor(() => n.status().signaler.state === 'connected', 5_000, 'registered without the addon');
      await assert.rejects(n.dial(generateIdentity().id), (e: Error & { code?: string }) => e.code === 'E_DIAL_FAILED' && /hole punching unavailable/.test(e.message));
    } finally {
      await n.close();
    }
  });
});
