/** Self-healing between real nodes on loopback: redial after a loss, keep a minimum of sessions. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
after(() => net0.close());

describe('membership', () => {
  it('a lost peer is redialed with backoff once it is back', async () => {
    const a = await net0.node({ reconnect: true });
    const dirB = await net0.tempDir();
    let b = await net0.node({ dataDir: dirB });
    await a.dial(`127.0.0.1:${b.port}`);
    const port = b.port;
    await b.close();
    await waitFor(() => a.status().peers === 0, 3_000, 'A notices');
    b = await net0.node({ dataDir: dirB, port });
    // First retry within RECONNECT_BASE_MS (1 s, jittered), then 2 s, ...: well within 10 s.
    await waitFor(() => a.peers().some((p) => p.id === b.identity.id && p.connected), 10_000, 'A redials B');
    assert.equal(a.peers().find((p) => p.id === b.identity.id)?.method, 'outbound');
  });

  it('keeps --min-peers sessions by dialing known peers at start', async () => {
    const b = await net0.node();
    const dirA = await net0.tempDir();
    const first = await net0.node({ dataDir: dirA });
    await first.dial(`127.0.0.1:${b.port}`);
    await first.close();
    const a = await net0.node({ dataDir: dirA, minPeers: 1 });
    await waitFor(() => a.status().peers === 1, 5_000, 'A dials a known peer by itself');
    assert.equal(a.peers()[0]?.id, b.identity.id);
    assert.equal(a.peers()[0]?.learnedFrom, 'manual');
  });

  it('strangers who dialed us are served; the stranger table is bounded and nobody is saved as a contact', async () => {
    const a = await net0.node();
    const others = [await net0.node(), await net0.node(), await net0.node()];
    for (const o of others) await o.dial(`127.0.0.1:${a.port}`);
    await waitFor(() => a.status().peers === 3, 3_000, 'all connected');
    assert.deepEqual(
      a.peers().map((p) => p.trust),
      ['stranger', 'stranger', 'stranger'],
    );
    assert.equal(a.status().trust.contacts, 0);
    assert.equal(a.status().trust.sessions.strangers, 3);
    for (const o of others) assert.equal(o.peers()[0]?.trust, 'contact', 'the dialer chose the peer');
  });
});

