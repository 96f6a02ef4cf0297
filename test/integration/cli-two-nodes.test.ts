/**
 * Two real `sentinel-node` processes on loopback, driven through the `sentinel` client:
 * dial by host:port, peer listings on both sides, messages both ways. B dials A, so A is
 * B's contact while B is a stranger to A: B's first message is a message request on A
 * until A accepts B.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DialResult, HistoryEntry, PeerInfo, RequestSummary, SendResult, TrustChange } from '../../src/api.js';
import { Procs, binariesBuilt, clientJson, runClient, waitUntil, type NodeProc } from '../helpers/procs.js';

const PREFIX_LENGTH = 8;

/** Polls `peers` on `on` until `peerId` is connected, has an RTT and its HELLO name. */
function connectedPeer(on: NodeProc, peerId: string): Promise<PeerInfo> {
  return waitUntil(
    async () => {
      const peers = await clientJson<PeerInfo[]>(on.dataDir, ['peers']);
      const p = peers.find((x) => x.id === peerId);
      return p && p.connected && typeof p.rttMs === 'number' && p.name !== null ? p : undefined;
    },
    { what: `${peerId} connected with an RTT in the peers of ${on.id}` },
  );
}

/** Polls `history <peer>` on `on` until message `id` shows `status`; returns that history. */
function historyShows(on: NodeProc, peerId: string, id: string, status: HistoryEntry['status']): Promise<HistoryEntry[]> {
  return waitUntil(
    async () => {
      const h = await clientJson<HistoryEntry[]>(on.dataDir, ['history', peerId]);
      return h.some((m) => m.id === id && m.status === status) ? h : undefined;
    },
    { what: `message ${id} to be ${status} on ${on.id}` },
  );
}

describe('two nodes over loopback', () => {
  const procs = new Procs();
  let a: NodeProc;
  let b: NodeProc;

  before(async () => {
    assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
    [a, b] = await Promise.all([procs.startNode({ name: 'alice' }), procs.startNode({ name: 'bob' })]);
  });
  after(() => procs.cleanup());

  it('B dials A by host:port and learns A’s id', async () => {
    const r = await clientJson<DialResult>(b.dataDir, ['dial', `127.0.0.1:${a.port}`]);
    assert.equal(r.id, a.id);
    assert.equal(r.address, `127.0.0.1:${a.port}`);
    assert.equal(r.method, 'outbound');
    assert.equal(r.existing, false);
    assert.equal(typeof r.ms, 'number');
  });

  it('each lists the other as connected directly, with RTT, address and name', async () => {
    const onB = await connectedPeer(b, a.id);
    assert.equal(onB.path, 'direct');
    assert.equal(onB.method, 'outbound');
    assert.equal(onB.address, `127.0.0.1:${a.port}`);
    assert.equal(onB.name, 'alice');
    assert.ok((onB.rttMs ?? -1) >= 0);
    assert.equal(typeof onB.lastSeen, 'number');

    const onA = await connectedPeer(a, b.id);
    assert.equal(onA.path, 'direct');
    assert.equal(onA.method, 'inbound');
    assert.match(onA.address ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(onA.name, 'bob');
    assert.ok((onA.rttMs ?? -1) >= 0);
    assert.equal(typeof onA.lastSeen, 'number');
  });

  it('a message from B (to a prefix of A’s id) is a message request on A until A accepts B', async () => {
    const sent = await clientJson<SendResult>(b.dataDir, ['send', a.id.slice(0, PREFIX_LENGTH), 'hello']);
    assert.equal(sent.to, a.id);
    assert.match(sent.id, /^[0-9a-f]+$/);

    const onA = await historyShows(a, b.id, sent.id, 'request');
    const copies = onA.filter((m) => m.id === sent.id);
    assert.equal(copies.length, 1);
    assert.deepEqual({ from: copies[0]?.from, to: copies[0]?.to, text: copies[0]?.text, request: copies[0]?.request }, { from: b.id, to: a.id, text: 'hello', request: true });
    const onB = await historyShows(b, a.id, sent.id, 'delivered');
    assert.equal(onB.filter((m) => m.id === sent.id).length, 1, 'a stored request is delivered');

    const peersOfA = await clientJson<PeerInfo[]>(a.dataDir, ['peers']);
    assert.equal(peersOfA.find((p) => p.id === b.id)?.trust, 'stranger');
    assert.deepEqual((await clientJson<RequestSummary[]>(a.dataDir, ['requests'])).map((r) => [r.peer, r.count]), [[b.id, 1]]);
    // A stranger's id needs 16 characters at least.
    const short = await runClient(a.dataDir, ['send', b.id.slice(0, PREFIX_LENGTH), 'hi']);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /E_ID_TOO_SHORT|at least 16/);

    const accepted = await clientJson<TrustChange>(a.dataDir, ['accept', b.id]);
    assert.deepEqual(accepted, { id: b.id, trust: 'contact', requests: 1 });
    await historyShows(a, b.id, sent.id, 'received');
    assert.deepEqual(await clientJson<RequestSummary[]>(a.dataDir, ['requests']), []);
  });

  it('a message from A back to B arrives too (several words, non-ASCII)', async () => {
    const sent = await clientJson<SendResult>(a.dataDir, ['send', b.id.slice(0, PREFIX_LENGTH), 'héllo', 'back', '✓']);
    assert.equal(sent.to, b.id);
    const onB = await historyShows(b, a.id, sent.id, 'received');
    const got = onB.find((m) => m.id === sent.id);
    assert.equal(got?.text, 'héllo back ✓');
    assert.equal(got?.from, a.id);
    await historyShows(a, b.id, sent.id, 'delivered');

    // Both conversations hold both messages, oldest first.
    const texts = (await clientJson<HistoryEntry[]>(a.dataDir, ['history', b.id])).map((m) => m.text);
    assert.deepEqual(texts, ['hello', 'héllo back ✓']);
  });
});
