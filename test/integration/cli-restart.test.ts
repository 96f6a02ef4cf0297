/**
 * Durability across a restart with real processes: messages queued while the peer is
 * down arrive in order exactly once after it comes back, the identity and the history
 * survive restarts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DialResult, HistoryEntry, PeerInfo, SendResult } from '../../src/api.js';
import { binariesBuilt, clientJson, freePort, stackLines, useProcs, waitUntil } from '../helpers/procs.js';

const PREFIX_LENGTH = 10;

test('messages sent while the peer is down arrive once, in order, after it restarts', async (t) => {
  assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
  const procs = useProcs(t);
  // A keeps its port across restarts, so B's remembered address stays valid.
  const port = await freePort();
  const dirA = await procs.tempDir('a');
  let a = await procs.startNode({ dataDir: dirA, port });
  const b = await procs.startNode();
  assert.equal(a.port, port);
  const idA = a.id;

  const dial = await clientJson<DialResult>(b.dataDir, ['dial', `127.0.0.1:${port}`]);
  assert.equal(dial.id, idA);
  const first = await clientJson<SendResult>(b.dataDir, ['send', idA.slice(0, PREFIX_LENGTH), 'm0']);

  const stopped = await a.stop();
  assert.equal(stopped.code, 0, `graceful stop should exit 0; stderr:\n${stopped.stderr}`);
  assert.deepEqual(stackLines(stopped.stderr), []);
  await waitUntil(
    async () => {
      const peers = await clientJson<PeerInfo[]>(b.dataDir, ['peers']);
      return peers.find((p) => p.id === idA)?.connected === false;
    },
    { what: 'B to notice that A is gone' },
  );

  const queued: SendResult[] = [];
  for (const text of ['m1', 'm2', 'm3']) {
    const r = await clientJson<SendResult>(b.dataDir, ['send', idA.slice(0, PREFIX_LENGTH), text]);
    assert.equal(r.status, 'pending', `${text} cannot be delivered while A is down`);
    assert.equal(r.to, idA);
    queued.push(r);
  }

  a = await procs.startNode({ dataDir: dirA, port });
  assert.equal(a.id, idA, 'the identity survives a restart');
  assert.equal(a.port, port);

  // B still knows A's address, so a prefix of the id is enough to reach it.
  const redial = await clientJson<DialResult>(b.dataDir, ['dial', idA.slice(0, PREFIX_LENGTH)]);
  assert.equal(redial.id, idA);
  // A's own reconnect can win the race (a node redials peers it has a session history with):
  // the dial then returns that session, inbound from B's side.
  assert.ok(redial.method === 'outbound' || redial.method === 'inbound', `method ${redial.method}`);
  if (redial.method === 'outbound') assert.equal(redial.address, `127.0.0.1:${port}`);

  const ids = [first.id, ...queued.map((r) => r.id)];
  const onB = await waitUntil(
    async () => {
      const h = await clientJson<HistoryEntry[]>(b.dataDir, ['history', idA]);
      return h.length === ids.length && h.every((m) => m.status === 'delivered') ? h : undefined;
    },
    { what: 'all four messages to be delivered on B' },
  );
  assert.deepEqual(onB.map((m) => m.id), ids);

  // B dialed A: to A, B is a stranger, so its messages wait as message requests.
  const expectOnA = (h: HistoryEntry[], status: HistoryEntry['status']): void => {
    assert.deepEqual(h.map((m) => m.text), ['m0', 'm1', 'm2', 'm3'], 'in order, exactly once');
    assert.deepEqual(h.map((m) => m.id), ids);
    assert.ok(h.every((m) => m.status === status && m.from === b.id && m.to === idA), JSON.stringify(h.map((m) => m.status)));
  };
  expectOnA(await clientJson<HistoryEntry[]>(a.dataDir, ['history', b.id]), 'request');

  // The requests survive a restart too; accepting B turns them into messages, durably.
  assert.equal((await a.stop()).code, 0);
  a = await procs.startNode({ dataDir: dirA, port });
  expectOnA(await clientJson<HistoryEntry[]>(a.dataDir, ['history', b.id]), 'request');
  await clientJson(a.dataDir, ['accept', b.id]);
  expectOnA(await clientJson<HistoryEntry[]>(a.dataDir, ['history', b.id]), 'received');

  // And the history is on disk, not only in memory.
  assert.equal((await a.stop()).code, 0);
  a = await procs.startNode({ dataDir: dirA, port });
  assert.equal(a.id, idA);
  expectOnA(await clientJson<HistoryEntry[]>(a.dataDir, ['history', b.id]), 'received');
});
