/**
 * Peer relays (`sentinel-node --relay`), in-process on loopback: a node that offers relaying,
 * nodes that bind with it, and dials by id that have no other path (no signaler, no known
 * address, gossip quiet) ending on a session through it, with end-to-end TLS inside.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { NodeOptions, SentinelNode } from '../../src/node.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
after(() => net0.close());

/** No signaler, no addon, no gossip rounds: a peer's address is known only if dialed. */
const quiet: Partial<NodeOptions> = { native: 'off', gossipIntervalMs: 3_600_000 };

const addr = (n: SentinelNode): string => `127.0.0.1:${n.port}`;

async function relayNode(mode: 'contacts' | 'all', bytesPerSecond?: number): Promise<SentinelNode> {
  return net0.node({ ...quiet, relay: { mode, ...(bytesPerSecond ? { bytesPerSecond } : {}) } });
}

/** `n` dials the relay by address (the relay becomes its contact) and waits until bound. */
async function bindWith(n: SentinelNode, relay: SentinelNode): Promise<void> {
  await n.dial(addr(relay));
  await waitFor(() => n.status().relay?.peers.some((p) => p.id === relay.identity.id && p.bound !== null) === true, 5_000, 'bound with the relay');
}

describe('peer relays', () => {
  it('a dial by id with no direct path runs through a peer relay both chose; messages flow both ways; status shows the binding and the limits', async () => {
    const r = await relayNode('contacts');
    const a = await net0.node(quiet);
    const b = await net0.node(quiet);
    await r.accept(a.identity.id);
    await r.accept(b.identity.id);
    await bindWith(a, r);
    await bindWith(b, r);

    const stages: string[] = [];
    const res = await a.dial(b.identity.id, (p) => stages.push(p.stage));
    assert.equal(res.path, 'relay');
    assert.match(res.relay ?? '', new RegExp(`^${r.identity.id} at 127\\.0\\.0\\.1:`));
    assert.ok(stages.includes('relaying'), stages.join(', '));
    await waitFor(() => b.peers().some((p) => p.id === a.identity.id && p.path === 'relay'), 5_000, 'B sees the relayed session');

    assert.equal((await a.send(b.identity.id, 'through a peer relay')).status, 'delivered');
    await b.accept(a.identity.id);
    assert.equal((await b.send(a.identity.id, 'and back')).status, 'delivered');
    assert.ok(b.history(a.identity.id).some((h) => h.text === 'through a peer relay'));
    assert.ok(a.history(b.identity.id).some((h) => h.text === 'and back'));

    const offering = r.status().relay?.offering;
    assert.ok(offering);
    assert.equal(offering.mode, 'contacts');
    assert.equal(offering.bound, 2);
    assert.equal(offering.circuits, 1);
    assert.equal(offering.limits.circuitsPerContact, 8);
    assert.ok(offering.bytes > 0, 'relayed bytes counted');
    // No signaler: reachability cannot be checked, the record says "relay".
    assert.equal(offering.advertised, true);
    const seen = b.status().relay?.peers.find((p) => p.id === r.identity.id);
    assert.deepEqual(seen?.bound, { maxCircuits: 8, bytesPerSecond: 1024 * 1024, idleTimeoutS: 300 });
    // The relay sees only the circuit: it has no session of its own between A and B.
    assert.equal(r.peers().filter((p) => p.connected).length, 2);
  });

  it('a node that did not choose the relay cannot be reached through it (refused, counted)', async () => {
    const r = await relayNode('contacts');
    const a = await net0.node(quiet);
    const d = await net0.node(quiet);
    await r.accept(a.identity.id);
    await r.accept(d.identity.id);
    await bindWith(a, r);
    // The relay dials D: for D the relay is a stranger, so D does not bind with it.
    await r.dial(addr(d));
    await waitFor(() => d.peers().some((p) => p.id === r.identity.id && p.connected), 5_000, 'D connected to the relay');
    assert.equal(d.status().relay?.peers.find((p) => p.id === r.identity.id)?.bound ?? null, null);
    await assert.rejects(a.dial(d.identity.id), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_DIAL_FAILED');
      assert.match(err.message, /does not use this relay/);
      return true;
    });
    assert.equal(r.status().relay?.offering?.refused.not_bound, 1);
  });

  it('--relay=contacts serves contacts only: a stranger is not offered the relay and has no route through it', async () => {
    const r = await relayNode('contacts');
    const s = await net0.node(quiet);
    const b = await net0.node(quiet);
    await r.accept(b.identity.id);
    await bindWith(b, r);
    await s.dial(addr(r));
    // The relay did not offer itself to the stranger: S has no route through it.
    assert.equal(s.status().relay?.peers.length, 0);
    await assert.rejects(s.dial(b.identity.id));
    assert.equal(r.status().relay?.offering?.circuits, 0);
  });

  it('--relay=all serves strangers with the stranger quotas', async () => {
    const r = await relayNode('all', 400 * 1024);
    const a = await net0.node(quiet);
    const b = await net0.node(quiet);
    await bindWith(a, r);
    await bindWith(b, r);
    const seen = b.status().relay?.peers.find((p) => p.id === r.identity.id);
    assert.deepEqual(seen?.bound, { maxCircuits: 2, bytesPerSecond: 100 * 1024, idleTimeoutS: 300 });
    const res = await a.dial(b.identity.id);
    assert.equal(res.path, 'relay');
    const offering = r.status().relay?.offering;
    assert.equal(offering?.boundStrangers, 2);
    assert.equal(offering?.limits.bytesPerSecondPerContact, 400 * 1024);
    assert.equal(offering?.limits.bytesPerSecondPerStranger, 100 * 1024);
  });

  it('a node that relays does not bind with other relays, and a relay cannot be told to relay for a blocked peer', async () => {
    const r1 = await relayNode('all');
    const r2 = await relayNode('all');
    await r2.dial(addr(r1));
    assert.equal(r2.status().relay?.peers.length, 0);
    const x = await net0.node(quiet);
    await r1.block(x.identity.id);
    await assert.rejects(x.dial(addr(r1)));
    assert.equal(r1.status().relay?.offering?.bound, 0);
  });
});
