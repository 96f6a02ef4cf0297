/**
 * Sessions over real loopback sockets: authentication failures, malformed input and
 * limits each close only the offending connection while the node keeps serving others.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { isSentinelError, errorCode } from '../../src/errors.js';
import { generateIdentity, selfSignedCertificateDer, type Identity } from '../../src/identity/index.js';
import type { SentinelNode } from '../../src/node.js';
import { encodeFrame, encodeHello, encodePing, FrameType } from '../../src/wire/index.js';
import { nextEvent, testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
after(() => net0.close());

function pemOfDer(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
}

interface RawResult {
  connected: boolean;
  error: string | undefined;
  received: Buffer;
}

/** A raw TLS client against `port`; resolves when the connection ends (or after `ms`). */
function rawTls(port: number, opts: tls.ConnectionOptions, onSecure?: (s: tls.TLSSocket) => void, ms = 3_000): Promise<RawResult> {
  return new Promise((resolve) => {
    const result: RawResult = { connected: false, error: undefined, received: Buffer.alloc(0) };
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      result.connected = true;
      onSecure?.(s);
    });
    s.on('data', (d: Buffer) => (result.received = Buffer.concat([result.received, d])));
    s.on('error', (e) => (result.error ??= errorCode(e) ?? e.message));
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}

const idOpts = (id: Identity): tls.ConnectionOptions => ({ key: id.keyPem, cert: id.certPem, ALPNProtocols: ['sentinel/1'] });

/** The node still accepts and serves a well-behaved peer. */
async function stillServes(node: SentinelNode): Promise<void> {
  const probe = await net0.node();
  const r = await probe.dial(`127.0.0.1:${node.port}`);
  assert.equal(r.id, node.identity.id);
  const sent = await probe.send(node.identity.id, 'still there?');
  assert.equal(sent.status, 'delivered');
  await probe.close();
}

describe('authentication', () => {
  it('a dialer that expected id X but reached Y aborts before sending application data', async () => {
    const a = await net0.node();
    const x = await net0.node();
    await a.dial(`127.0.0.1:${x.port}`); // A learns X and its address
    const port = x.port;
    await x.close();
    await waitFor(() => !a.peers().some((p) => p.connected), 3_000, 'session down');
    // Y now answers at X's address.
    const y = generateIdentity();
    let appBytes = 0;
    const server = tls.createServer({ key: y.keyPem, cert: y.certPem, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'], minVersion: 'TLSv1.3' }, (s) => {
      s.on('data', (d: Buffer) => (appBytes += d.length));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      await assert.rejects(a.dial(x.identity.id.slice(0, 8)), (e) => isSentinelError(e, 'E_DIAL_FAILED') && /expected/.test(e.message));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(appBytes, 0, 'no application bytes reached the impostor');
      assert.equal(a.status().counters['handshakes_failed.E_PEER_ID_MISMATCH'], 1);
      assert.ok(!a.peers().some((p) => p.connected));
    } finally {
      server.close();
    }
  });

  it('refuses a client without a certificate', async () => {
    const a = await net0.node();
    const r = await rawTls(a.port, { ALPNProtocols: ['sentinel/1'] });
    assert.equal(r.received.length, 0, 'the node sent no frames');
    await waitFor(() => a.status().counters['handshakes_failed.E_NO_PEER_CERT'] === 1, 2_000, 'counter');
    await stillServes(a);
  });

  it('refuses a TLS 1.2-only client', async () => {
    const a = await net0.node();
    const r = await rawTls(a.port, { ...idOpts(generateIdentity()), maxVersion: 'TLSv1.2' });
    assert.equal(r.connected, false);
    assert.match(String(r.error), /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
    await stillServes(a);
  });

  it('refuses a client that does not offer ALPN sentinel/1', async () => {
    const a = await net0.node();
    const id = generateIdentity();
    const none = await rawTls(a.port, { key: id.keyPem, cert: id.certPem });
    assert.equal(none.received.length, 0);
    const other = await rawTls(a.port, { key: id.keyPem, cert: id.certPem, ALPNProtocols: ['h2'] });
    assert.equal(other.connected, false);
    await waitFor(() => a.status().counters['handshakes_failed.E_ALPN'] === 1, 2_000, 'counter');
    await stillServes(a);
  });

  it('refuses a certificate not signed by its own key, and a non-Ed25519 key', async () => {
    const a = await net0.node();
    const victim = generateKeyPairSync('ed25519');
    const forger = generateKeyPairSync('ed25519');
    const forged = pemOfDer(selfSignedCertificateDer(forger.privateKey, victim.publicKey, 'forged'));
    const r1 = await rawTls(a.port, { key: victim.privateKey.export({ type: 'pkcs8', format: 'pem' }), cert: forged, ALPNProtocols: ['sentinel/1'] });
    assert.equal(r1.received.length, 0);
    const ed448 = generateKeyPairSync('ed448');
    const cert448 = pemOfDer(selfSignedCertificateDer(ed448.privateKey, ed448.publicKey, 'ed448'));
    const r2 = await rawTls(a.port, { key: ed448.privateKey.export({ type: 'pkcs8', format: 'pem' }), cert: cert448, ALPNProtocols: ['sentinel/1'] });
    assert.equal(r2.received.length, 0);
    await waitFor(() => a.status().counters['handshakes_failed.E_BAD_CERT'] === 2, 2_000, 'counter');
    await stillServes(a);
  });

  it('learns the authenticated id of a host:port dial and refuses to dial itself', async () => {
    const a = await net0.node();
    const b = await net0.node();
    const r = await b.dial(`127.0.0.1:${a.port}`);
    assert.equal(r.id, a.identity.id);
    assert.equal(r.method, 'outbound');
    await assert.rejects(a.dial(`127.0.0.1:${a.port}`), (e) => isSentinelError(e, 'E_SELF_DIAL'));
  });
});

describe('malformed input', () => {
  it('garbage before TLS and a silent TCP client are dropped by the handshake timeout', async () => {
    const a = await net0.node({ limits: { handshakeTimeoutMs: 300 } });
    const silent = net.connect(a.port, '127.0.0.1');
    const closed = new Promise((r) => silent.on('close', r));
    silent.on('error', () => {});
    const garbage = net.connect(a.port, '127.0.0.1', () => garbage.write(Buffer.alloc(600, 0x41)));
    garbage.on('error', () => {});
    await closed;
    await waitFor(() => (a.status().counters['handshakes_failed.E_HANDSHAKE_TIMEOUT'] ?? 0) >= 1, 2_000, 'timeout counter');
    await waitFor(() => (a.status().counters['handshakes_failed.E_TLS'] ?? 0) >= 1, 2_000, 'tls counter');
    garbage.destroy();
    await stillServes(a);
  });

  const hello = encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: 'raw' }));
  for (const [label, bytes, code] of [
    ['garbage frame bytes', Buffer.from('00000004ff01deadbeef', 'hex'), 'E_FRAME_VERSION'],
    ['an oversized length prefix', Buffer.from('7fffffff0101', 'hex'), 'E_FRAME_TOO_LARGE'],
    ['an unknown critical frame type', Buffer.concat([hello, encodeFrame(0x7f, Buffer.alloc(3))]), 'E_FRAME_UNKNOWN_TYPE'],
    ['a malformed HELLO', encodeFrame(FrameType.HELLO, Buffer.from([0, 1, 200])), 'E_PAYLOAD_MALFORMED'],
    ['a CHAT before HELLO', encodeFrame(FrameType.CHAT, Buffer.alloc(200)), 'E_PROTOCOL'],
    ['a second HELLO', Buffer.concat([hello, hello]), 'E_PROTOCOL'],
    ['a PING flood', Buffer.concat([hello, ...Array.from({ length: 50 }, (_, i) => encodeFrame(FrameType.PING, encodePing({ nonce: BigInt(i) })))]), 'E_PROTOCOL'],
  ] as const) {
    it(`${label} from an authenticated peer closes that session only`, async () => {
      const a = await net0.node();
      const c = await net0.node();
      await c.dial(`127.0.0.1:${a.port}`);
      const evil = generateIdentity();
      const r = await rawTls(a.port, idOpts(evil), (s) => s.write(bytes));
      assert.ok(r.connected);
      await waitFor(() => a.status().counters[`protocol_errors.${code}`] === 1, 2_000, `${code} counter`);
      // A said GOAWAY (type 0x04) before closing.
      assert.ok(r.received.includes(Buffer.from([0x01, 0x04])), 'GOAWAY frame header seen');
      assert.equal((await c.send(a.identity.id, 'unaffected')).status, 'delivered');
      assert.ok(a.peers().some((p) => p.id === c.identity.id && p.connected));
    });
  }

  it('ignores and counts an unknown optional frame type', async () => {
    const a = await net0.node();
    const evil = generateIdentity();
    let ok = false;
    await rawTls(
      a.port,
      idOpts(evil),
      (s) => {
        s.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' })));
        s.write(encodeFrame(0x90, Buffer.from('future')));
        setTimeout(() => {
          ok = a.peers().some((p) => p.id === evil.id && p.connected);
          s.destroy();
        }, 200);
      },
      2_000,
    );
    assert.ok(ok, 'session stayed up');
    assert.equal(a.status().counters.frames_unknown_ignored, 1);
  });
});

describe('limits', () => {
  it('caps handshakes in progress per source IP', async () => {
    const a = await net0.node({ limits: { maxPendingHandshakesPerIp: 3, handshakeTimeoutMs: 2_000 } });
    const socks = await Promise.all(
      [0, 1, 2].map(() => new Promise<net.Socket>((r) => { const s = net.connect(a.port, '127.0.0.1', () => r(s)); s.on('error', () => {}); })),
    );
    await new Promise((r) => setTimeout(r, 50));
    const fourth = net.connect(a.port, '127.0.0.1');
    fourth.on('error', () => {});
    await new Promise((r) => fourth.on('close', r));
    assert.equal(a.status().counters['inbound_refused.pending_per_ip'], 1);
    for (const s of socks) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await stillServes(a);
  });
});

describe('sessions', () => {
  it('simultaneous dials leave exactly one session, the same on both sides', async () => {
    for (let i = 0; i < 5; i++) {
      const a = await net0.node();
      const b = await net0.node();
      const [ra, rb] = await Promise.all([a.dial(`127.0.0.1:${b.port}`), b.dial(`127.0.0.1:${a.port}`)]);
      assert.equal(ra.id, b.identity.id);
      assert.equal(rb.id, a.identity.id);
      await new Promise((r) => setTimeout(r, 100));
      const pa = a.peers().filter((p) => p.connected);
      const pb = b.peers().filter((p) => p.connected);
      assert.equal(pa.length, 1);
      assert.equal(pb.length, 1);
      // Both kept the connection opened by the smaller id.
      const smaller = a.identity.id < b.identity.id ? 'a' : 'b';
      assert.equal(pa[0]?.method, smaller === 'a' ? 'outbound' : 'inbound');
      assert.equal(pb[0]?.method, smaller === 'b' ? 'outbound' : 'inbound');
      assert.equal((await a.send(b.identity.id, `ping ${i}`)).status, 'delivered');
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('measures RTT and detects a silent peer within the dead-peer time', async () => {
    const a = await net0.node({ limits: { pingIntervalMs: 100, deadAfterMs: 400 } });
    const b = await net0.node({ limits: { pingIntervalMs: 100, deadAfterMs: 400 } });
    await b.dial(`127.0.0.1:${a.port}`);
    await waitFor(() => typeof b.peers()[0]?.rttMs === 'number', 2_000, 'rtt');
    // A peer that completes the handshake and then never answers a PING.
    const mute = generateIdentity();
    const started = Date.now();
    const down = nextEvent(a, (e) => e.type === 'peer-disconnected' && e.id === mute.id, 3_000);
    const r = rawTls(a.port, idOpts(mute), (s) => s.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' }))), 3_000);
    const ev = await down;
    assert.equal(ev.type, 'peer-disconnected');
    assert.match(ev.type === 'peer-disconnected' ? ev.reason : '', /nothing heard/);
    const took = Date.now() - started;
    assert.ok(took < 2_000, `detected after ${took} ms`);
    await r;
    assert.ok(b.peers()[0]?.connected, 'the healthy peer is unaffected');
  });
});
