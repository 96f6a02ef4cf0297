/**
 * Relayed sessions through the signaler, in-process on loopback: nodes whose punching is
 * unavailable (addon off) dial by id and get a session through the signaler's relay, with
 * the same end-to-end TLS and messaging as a direct one.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { SignalerServer } from '../../src/signaler/index.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
const servers: SignalerServer[] = [];
after(async () => {
  await net0.close();
  await Promise.all(servers.map((s) => s.close()));
});
const silent = createLogger('silent', () => {});

async function signaler(relay = true): Promise<SignalerServer> {
  const s = new SignalerServer({ identity: generateIdentity(), log: silent, relay: { enabled: relay } });
  await s.listen(0, '127.0.0.1');
  servers.push(s);
  return s;
}

/** Two registered nodes that cannot punch (no addon): only the relay can join them. */
async function pair(sig: SignalerServer) {
  const a = await net0.node({ signaler: `127.0.0.1:${sig.port}`, native: 'off' });
  const b = await net0.node({ signaler: `127.0.0.1:${sig.port}`, native: 'off' });
  await waitFor(() => a.status().signaler.state === 'connected' && b.status().signaler.state === 'connected', 5_000, 'registration');
  return { a, b };
}

describe('relay through the signaler', () => {
  it('a dial by id with no direct path ends on a relayed session; messages flow both ways; both sides show the relay', async () => {
    const sig = await signaler();
    const { a, b } = await pair(sig);
    const stages: string[] = [];
    const r = await a.dial(b.identity.id, (p) => stages.push(p.stage));
    assert.equal(r.id, b.identity.id);
    assert.equal(r.path, 'relay');
    assert.equal(r.method, 'relay');
    assert.match(r.relay ?? '', new RegExp(`^${sig.id} at 127\\.0\\.0\\.1:${sig.port}$`));
    assert.ok(stages.includes('relaying'), `progress shows the relay step: ${stages.join(', ')}`);
    const pa = a.peers().find((p) => p.id === b.identity.id);
    assert.equal(pa?.path, 'relay');
    await waitFor(() => b.peers().some((p) => p.id === a.identity.id && p.connected), 5_000, 'B sees the session');
    const pb = b.peers().find((p) => p.id === a.identity.id);
    assert.equal(pb?.path, 'relay');
    assert.equal(pb?.relay, r.relay);

    const sent = await a.send(b.identity.id, 'hello through the relay');
    assert.equal(sent.status, 'delivered');
    // B got it as a message request (A is a stranger to B) or a message: either way stored.
    await waitFor(() => b.history(a.identity.id).some((h) => h.text === 'hello through the relay'), 5_000, 'B stored it');
    await b.accept(a.identity.id);
    const back = await b.send(a.identity.id, 'and back');
    assert.equal(back.status, 'delivered');
    assert.ok(a.history(b.identity.id).some((h) => h.text === 'and back'));
  });

  it('a large message crosses several flow-control windows intact', async () => {
    const sig = await signaler();
    const { a, b } = await pair(sig);
    await a.dial(b.identity.id);
    await b.accept(a.identity.id);
    const text = 'x'.repeat(60 * 1024);
    for (let i = 0; i < 10; i++) assert.equal((await a.send(b.identity.id, `${i}${text}`)).status, 'delivered');
    const got = b.history(a.identity.id).filter((h) => h.text.endsWith(text));
    assert.equal(got.length, 10);
  });

  it('a blocked peer cannot reach us through the relay', async () => {
    const sig = await signaler();
    const { a, b } = await pair(sig);
    await b.block(a.identity.id);
    await assert.rejects(a.dial(b.identity.id), (err: Error & { code?: string }) => {
      assert.match(err.message, /relay/);
      return true;
    });
    assert.equal(b.status().counters['relay_declined.blocked'], 1);
  });

  it('a signaler that does not relay says so when a node registers: status shows it, and the dial fails without asking it', async () => {
    const sig = await signaler(false);
    const { a, b } = await pair(sig);
    assert.deepEqual(a.status().relay?.signaler, { available: false, label: `${sig.id} at 127.0.0.1:${sig.port}`, limits: null });
    await assert.rejects(a.dial(b.identity.id), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_DIAL_FAILED');
      return true;
    });
    assert.equal(sig.relayStats().refused.disabled ?? 0, 0, 'no RELAY_OPEN was sent');
  });

  it('a relaying signaler states its limits for the node at registration; status shows them', async () => {
    const s = new SignalerServer({ identity: generateIdentity(), log: silent, relay: { enabled: true, bytesPerSecond: 512 * 1024 } });
    await s.listen(0, '127.0.0.1');
    servers.push(s);
    const { a } = await pair(s);
    assert.deepEqual(a.status().relay?.signaler.limits, { maxCircuits: 16, bytesPerSecond: 512 * 1024, idleTimeoutS: 300 });
  });

  it('when the relayed session ends (the signaler goes away) the peer shows as disconnected', async () => {
    const sig = await signaler();
    const { a, b } = await pair(sig);
    await a.dial(b.identity.id);
    await sig.close();
    await waitFor(() => !a.peers().some((p) => p.id === b.identity.id && p.connected), 10_000, 'A lost the relayed session');
  });

  it('a relayed pair moves to a direct path once one is known, and messages sent across the switch arrive exactly once', async () => {
    const sig = await signaler();
    // No addon: punching is unavailable, so the first dial is relayed. B's signed record
    // (with its address) reaches A by gossip over the relayed session; A's upgrader then
    // dials it directly, and the direct session replaces the relayed one on both ends.
    const a = await net0.node({ signaler: `127.0.0.1:${sig.port}`, native: 'off', gossipIntervalMs: 300 });
    const b = await net0.node({ signaler: `127.0.0.1:${sig.port}`, native: 'off', gossipIntervalMs: 300 });
    await waitFor(() => a.status().signaler.state === 'connected' && b.status().signaler.state === 'connected', 5_000, 'registration');
    const r = await a.dial(b.identity.id);
    assert.equal(r.path, 'relay');
    await b.accept(a.identity.id);
    const texts: string[] = [];
    const sends: Promise<unknown>[] = [];
    let i = 0;
    const pump = setInterval(() => {
      for (let k = 0; k < 10 && i < 300; k++, i++) {
        const t = `m${i}`;
        texts.push(t);
        sends.push(a.send(b.identity.id, t));
      }
    }, 30);
    try {
      await waitFor(() => a.peers().find((p) => p.id === b.identity.id)?.path === 'direct', 20_000, 'A moved to a direct path');
      await waitFor(() => i >= 300, 10_000, 'all sent');
    } finally {
      clearInterval(pump);
    }
    await Promise.all(sends);
    await waitFor(() => b.history(a.identity.id, 1000).filter((h) => h.text.startsWith('m')).length >= 300, 15_000, 'B stored all 300');
    const stored = b.history(a.identity.id, 1000).map((h) => h.text).filter((t) => t.startsWith('m'));
    assert.equal(stored.length, 300, 'each message stored once');
    assert.deepEqual(new Set(stored), new Set(texts));
    await waitFor(() => a.history(b.identity.id, 1000).filter((h) => h.status === 'delivered').length === 300, 15_000, 'A saw every message delivered');
    assert.equal(a.status().counters['relay.upgraded'], 1);
    const pb = b.peers().find((p) => p.id === a.identity.id);
    assert.equal(pb?.path, 'direct', 'B agrees: the relayed session was closed');
    assert.equal(a.status().counters['sessions_upgraded_to_direct'] ?? b.status().counters['sessions_upgraded_to_direct'], 1);
  });
});
