/**
 * Three real nodes, fully connected over loopback: every node reaches every other one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DialResult, HistoryEntry, SendResult, StatusInfo } from '../../src/api.js';
import { binariesBuilt, clientJson, useProcs, waitUntil, type NodeProc } from '../helpers/procs.js';

test('three fully connected nodes exchange messages each to each', async (t) => {
  assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
  const procs = useProcs(t);
  const nodes = await Promise.all(['a', 'b', 'c'].map((name) => procs.startNode({ name })));
  const [a, b, c] = nodes as [NodeProc, NodeProc, NodeProc];

  for (const [from, to] of [[b, a], [c, a], [c, b]] as const) {
    const r = await clientJson<DialResult>(from.dataDir, ['dial', `127.0.0.1:${to.port}`]);
    assert.equal(r.id, to.id);
  }
  for (const n of nodes) {
    const s = await waitUntil(
      async () => {
        const st = await clientJson<StatusInfo>(n.dataDir, ['status']);
        return st.peers === 2 ? st : undefined;
      },
      { what: `${n.id} to report 2 connected peers` },
    );
    assert.equal(s.id, n.id);
    assert.equal(s.known, 2);
  }

  const sent: { from: NodeProc; to: NodeProc; result: SendResult; text: string }[] = [];
  for (const from of nodes) {
    for (const to of nodes) {
      if (from === to) continue;
      const text = `from ${from.id.slice(0, 6)} to ${to.id.slice(0, 6)}`;
      const result = await clientJson<SendResult>(from.dataDir, ['send', to.id, text]);
      assert.equal(result.to, to.id);
      sent.push({ from, to, result, text });
    }
  }

  for (const { from, to, result, text } of sent) {
    const got = await waitUntil(
      async () => {
        const list = (await clientJson<HistoryEntry[]>(to.dataDir, ['history', from.id])).filter((m) => m.id === result.id);
        return list.length > 0 ? list : undefined;
      },
      { what: `message ${result.id} on ${to.id}` },
    );
    assert.equal(got.length, 1, 'exactly once');
    assert.deepEqual(
      { from: got[0]?.from, to: got[0]?.to, text: got[0]?.text, status: got[0]?.status },
      { from: from.id, to: to.id, text, status: 'received' },
    );
  }
});
