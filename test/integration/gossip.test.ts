/** Gossip of signed peer records between real nodes on loopback. */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity } from '../../src/identity/index.js';
import { signRecord } from '../../src/gossip/index.js';
import { encodeFrame, encodeGossipPush, encodeHello, FrameType } from '../../src/wire/index.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
after(() => net0.close());
const FAST = { gossipIntervalMs: 100 };

describe('gossip', () => {
  it('a node learns a peer it never met through a common neighbour, keeps it across a restart, and dials it by id', async () => {
    const dirA = await net0.tempDir();
    let a = await net0.node({ ...FAST, dataDir: dirA });
    const b = await net0.node(FAST);
    const c = await net0.node(FAST);
    await a.dial(`127.0.0.1:${b.port}`);
    await c.dial(`127.0.0.1:${b.port}`);
    await waitFor(() => a.peers().some((p) => p.id === c.identity.id), 5_000, 'A learns C via B');
    const learned = a.peers().find((p) => p.id === c.identity.id);
    assert.equal(learned?.learnedFrom, 'gossip');
    assert.equal(learned?.connected, false);
    assert.equal(learned?.address, `127.0.0.1:${c.port}`);
    assert.ok((a.status().counters['gossip.accepted'] ?? 0) >= 2);
    await a.close();
    a = await net0.node({ ...FAST, dataDir: dirA });
    assert.ok(a.peers().some((p) => p.id === c.identity.id), 'still known after a restart');
    assert.equal(a.peers().find((p) => p.id === c.identity.id)?.trust, 'stranger');
    // C is a stranger to A: a short prefix is not enough, 16 characters are.
    await assert.rejects(a.dial(c.identity.id.slice(0, 10)), { code: 'E_ID_TOO_SHORT' });
    const r = await a.dial(c.identity.id.slice(0, 16));
    assert.equal(r.id, c.identity.id);
    assert.equal(a.peers().find((p) => p.id === c.identity.id)?.trust, 'contact', 'dialed by the user: now a contact');
  });

  it('rejects and counts forged, expired, replayed and unsigned records pushed by a peer', async () => {
    const a = await net0.node(FAST);
    const victim = generateIdentity();
    const mallory = generateIdentity();
    const now = Date.now();
    const fields = { seq: now, issuedAt: now, expiresAt: now + 60_000, public: [], local: [{ host: '127.0.0.1', port: 1 }] };
    const good = signRecord(victim, fields);
    const forged = signRecord({ publicKey: victim.publicKey, sign: (d) => mallory.sign(d) }, { ...fields, seq: now + 1, issuedAt: now + 1 });
    const expired = signRecord(victim, { ...fields, seq: now + 2, issuedAt: now - 120_000, expiresAt: now - 60_000 });
    const unsigned = Buffer.from(signRecord(victim, { ...fields, seq: now + 3, issuedAt: now + 3 }));
    unsigned.fill(0, unsigned.length - 64);
    const sock = tls.connect({ host: '127.0.0.1', port: a.port, key: mallory.keyPem, cert: mallory.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
    sock.on('error', () => {});
    await new Promise((r) => sock.once('secureConnect', r));
    sock.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' })));
    sock.write(encodeFrame(FrameType.GOSSIP_PUSH, encodeGossipPush([good, forged, expired, unsigned])));
    sock.write(encodeFrame(FrameType.GOSSIP_PUSH, encodeGossipPush([good]))); // replay: same seq
    await waitFor(() => (a.status().counters['gossip.replayed'] ?? 0) >= 1, 3_000, 'replay counted');
    const c = a.status().counters;
    assert.equal(c['gossip.accepted'], 2, 'our own record and the good one');
    assert.equal(c['gossip.bad_signature'], 2, 'forged and unsigned');
    assert.equal(c['gossip.expired'], 1);
    assert.ok(a.status().peers >= 1, 'the pushing peer is still connected: bad records are not a protocol error');
    sock.destroy();
  });
});
