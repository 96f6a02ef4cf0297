/** Messaging between real in-process nodes on loopback, across restarts. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { SentinelNode } from '../../src/node.js';
import { nextEvent, testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
after(() => net0.close());

describe('messaging between nodes', () => {
  it('three nodes: every node messages every other, each message arrives once', async () => {
    const nodes = [await net0.node({ name: 'a' }), await net0.node({ name: 'b' }), await net0.node({ name: 'c' })] as const;
    const [a, b, c] = nodes;
    await b.dial(`127.0.0.1:${a.port}`);
    await c.dial(`127.0.0.1:${a.port}`);
    await c.dial(`127.0.0.1:${b.port}`);
    for (const n of nodes) await waitFor(() => n.status().peers === 2, 3_000, "full mesh");
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        // A full id works for anyone; messaging a peer makes it a contact.
        const r = await from.send(to.identity.id, `${from.status().name}->${to.status().name}`);
        assert.equal(r.status, 'delivered');
      }
    }
    for (const n of nodes) {
      const texts = n.history(undefined).filter((m) => m.to === n.identity.id).map((m) => m.text).sort();
      const me = n.status().name;
      assert.deepEqual(texts, nodes.filter((o) => o !== n).map((o) => `${o.status().name}->${me}`).sort());
    }
  });

  it('a sender restarted with a full outbox delivers in order, exactly once, when the session comes up', async () => {
    const a = await net0.node();
    const dirB = await net0.tempDir();
    let b: SentinelNode = await net0.node({ dataDir: dirB });
    await b.dial(`127.0.0.1:${a.port}`);
    await a.close(); // A goes away; A's port is remembered by B
    const aDir = a.dataDir;
    const aPort = a.port;
    await waitFor(() => b.status().peers === 0, 3_000, 'B notices A left');
    for (let i = 1; i <= 5; i++) assert.equal((await b.send(a.identity.id, `m${i}`)).status, 'pending');
    await b.close(); // B restarts with 5 queued messages
    b = await net0.node({ dataDir: dirB });
    assert.deepEqual(b.history(a.identity.id).map((m) => m.status), ['pending', 'pending', 'pending', 'pending', 'pending']);
    const a2 = await net0.node({ dataDir: aDir, port: aPort });
    assert.equal(a2.identity.id, a.identity.id, 'same identity after restart');
    const got: string[] = [];
    a2.onEvent((e) => e.type === 'message' && got.push(e.message.text));
    const r = await b.dial(a.identity.id.slice(0, 6));
    assert.equal(r.id, a.identity.id);
    await waitFor(() => b.history(a.identity.id).every((m) => m.status === 'delivered'), 5_000, 'all delivered');
    assert.deepEqual(got, ['m1', 'm2', 'm3', 'm4', 'm5']);
    assert.deepEqual(a2.history(b.identity.id).map((m) => m.text), ['m1', 'm2', 'm3', 'm4', 'm5']);
    // A reconnect re-flushes nothing: the outbox is empty.
    const before = a2.status().counters.chat_duplicates ?? 0;
    await b.close();
    b = await net0.node({ dataDir: dirB });
    await b.dial(a.identity.id);
    await b.send(a.identity.id, 'm6');
    assert.equal(a2.status().counters.chat_duplicates ?? 0, before);
    assert.deepEqual(a2.history(b.identity.id).map((m) => m.text), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });

  it('emits message and delivered events and keeps per-peer history ordered with limits', async () => {
    const a = await net0.node();
    const b = await net0.node();
    await b.dial(`127.0.0.1:${a.port}`);
    const incoming = nextEvent(a, (e) => e.type === 'message');
    const res = await b.send(a.identity.id, 'first');
    const ev = await incoming;
    assert.equal(ev.type === 'message' && ev.message.id, res.id);
    for (const t of ['second', 'third']) await a.send(b.identity.id, t);
    assert.deepEqual(a.history(b.identity.id, 2).map((m) => m.text), ['second', 'third']);
    assert.deepEqual(b.history(a.identity.id).map((m) => [m.text, m.status]), [['first', 'delivered'], ['second', 'received'], ['third', 'received']]);
  });

  it("peers shows the live session's bytes each way; null once it is gone", async () => {
    const a = await net0.node();
    const b = await net0.node();
    await b.dial(`127.0.0.1:${a.port}`);
    const peerOf = (n: SentinelNode, id: string) => n.peers().find((p) => p.id === id);
    const before = peerOf(b, a.identity.id);
    assert.ok(typeof before?.bytesOut === 'number' && typeof before.bytesIn === 'number', JSON.stringify(before));
    const text = 'x'.repeat(10_000);
    assert.equal((await b.send(a.identity.id, text)).status, 'delivered');
    const sent = peerOf(b, a.identity.id);
    assert.ok((sent?.bytesOut ?? 0) >= (before.bytesOut ?? 0) + text.length, JSON.stringify(sent));
    await waitFor(() => (peerOf(a, b.identity.id)?.bytesIn ?? 0) >= text.length, 3_000, 'A to count the bytes in');
    await a.close();
    await waitFor(() => peerOf(b, a.identity.id)?.connected === false, 20_000, 'the session to go down');
    const gone = peerOf(b, a.identity.id);
    assert.equal(gone?.bytesIn, null);
    assert.equal(gone?.bytesOut, null);
  });

  it('aliases resolve like ids and unknown targets are clear errors', async () => {
    const a = await net0.node();
    const b = await net0.node();
    await b.dial(`127.0.0.1:${a.port}`);
    await b.alias(a.identity.id.slice(0, 8), 'alice');
    assert.equal((await b.send('alice', 'by alias')).status, 'delivered');
    assert.equal(b.peers()[0]?.alias, 'alice');
    const unknown = 'z'.repeat(16);
    await assert.rejects(b.send(unknown, 'x'), (e: { code?: string }) => e.code === 'E_UNKNOWN_ID');
    await assert.rejects(b.dial(unknown), (e: { code?: string }) => e.code === 'E_UNKNOWN_ID');
    // Too short to be taken for an id prefix (issue 8: no short prefix may pick a stranger).
    await assert.rejects(b.send('zzzz', 'x'), (e: { code?: string }) => e.code === 'E_ID_TOO_SHORT');
    await assert.rejects(b.alias(a.identity.id, 'bad alias!'), (e: { code?: string }) => e.code === 'E_BAD_REQUEST');
  });
});
