/**
 * A signaler cluster with the real binaries in the NAT lab (root only; skipped with the
 * reason otherwise, failed when SENTINEL_LAB=required; skipped when redis-server is
 * missing): a public segment with a Redis host and two `sentinel-signaler --redis`
 * instances, and home networks behind NATs whose nodes are each pinned to one instance.
 *
 * - cross-instance punch: A (easy NAT) registered at s1, B (easy NAT) at s2; B dials A by
 *   id, s2 finds A through Redis, the punch is coordinated across the instances, and the
 *   session is direct;
 * - cross-instance relay: C and D behind symmetric ("hard") NATs, where no punch can work,
 *   at s1 and s2; C dials D by id and gets a session relayed through the cluster (C's
 *   instance forwards to D's), which carries messages both ways.
 *
 * Failover and a Redis restart are in signaler-cluster-failover.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HistoryEntry, PeerInfo, SendResult } from '../../src/api.js';
import { buildLab, type Lab } from './index.js';
import { SentinelLab, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { eventually, labAvailable } from './gate.js';
import { LabRedis, currentSignaler, describeDial, labRedisSkipReason, nodeLogs, pinned, signalerLogs, signalerName, startClusterSignaler } from './signaler-cluster-lab.js';

const TITLE = 'signaler cluster in the NAT lab: cross-instance punch and relay';
const labOk = await labAvailable(TITLE);
const redisSkip = labOk ? labRedisSkipReason() : undefined;
if (redisSkip !== undefined) it(TITLE, { skip: redisSkip }, () => undefined);

/** `peers --json` of `node`, the entry for `id`. */
async function peerEntry(node: LabNode, id: string): Promise<PeerInfo | undefined> {
  return (await node.peers()).find((p) => p.id === id);
}

/** Sends `text` from `from` to `to` and waits until `to` has it and `from` has the ack. */
async function exchange(from: LabNode, to: LabNode, text: string): Promise<void> {
  const sent = await from.json<SendResult>(['send', to.id, text]);
  assert.equal(sent.to, to.id);
  await eventually(`${to.host.name} to receive "${text}"`, async () => (await to.history(from.id)).find((m: HistoryEntry) => m.text === text && m.from === from.id));
  await eventually(`${from.host.name} to see "${text}" delivered`, async () => (await from.history(to.id)).find((m) => m.id === sent.id && m.status === 'delivered'));
}

if (labOk && redisSkip === undefined) describe(TITLE, { timeout: 240_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let redis: LabRedis;
  let s1: LabSignaler;
  let s2: LabSignaler;
  let sigs: LabSignaler[];

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['redis', 'sig1', 'sig2'] },
        { name: 'A', nat: 'easy', hosts: ['a1'] },
        { name: 'B', nat: 'easy', hosts: ['b1'] },
        { name: 'C', nat: 'hard', hosts: ['c1'] },
        { name: 'D', nat: 'hard', hosts: ['d1'] },
      ],
    });
    sl = new SentinelLab(lab);
    redis = await LabRedis.start(sl, 'redis');
    [s1, s2] = await Promise.all([startClusterSignaler(sl, 'sig1', redis), startClusterSignaler(sl, 'sig2', redis)]);
    sigs = [s1, s2];
  });

  after(async () => {
    await sl?.cleanup();
    await redis?.stop();
    await lab?.destroy();
  });

  /** Both nodes are registered where the test pinned them, and say so in `status`. */
  async function assertAt(node: LabNode, sig: LabSignaler): Promise<void> {
    const cur = await currentSignaler(node);
    assert.equal(cur.state, 'connected', `${node.host.name}: ${JSON.stringify(cur)}`);
    assert.equal(cur.id, sig.id, `${node.host.name} is at ${signalerName(cur.id, sigs)}, want ${signalerName(sig.id, sigs)}`);
  }

  it('cross-instance punch: B (at s2) dials A (at s1) by id through two easy NATs and gets a direct session', async (t) => {
    const [a, b] = await Promise.all([
      sl.startNode('a1', { port: 7301, signaler: pinned(s1), name: 'alice' }),
      sl.startNode('b1', { port: 7302, signaler: pinned(s2), name: 'bob' }),
    ]);
    t.after(() => Promise.allSettled([a.stop(), b.stop()]));
    await assertAt(a, s1);
    await assertAt(b, s2);
    assert.equal(await peerEntry(b, a.id), undefined, 'B has never heard of A');

    const dial = await b.dial(a.id);
    t.diagnostic(`cross-instance punch: ${describeDial(dial)} (wall ${dial.elapsedMs} ms)`);
    assert.ok(dial.ok, `${describeDial(dial)}\n${dial.stderr}\n${nodeLogs(a, b)}\n${signalerLogs(s1, s2)}`);
    assert.equal(dial.result.id, a.id);
    assert.equal(dial.result.path, 'direct');
    assert.ok(['tcp-simultaneous-open', 'inbound'].includes(dial.result.method), `a punched session, not ${dial.result.method}`);
    assert.equal(dial.result.address, `${lab.router('A').wanIp}:7301`, 'B reached A at its NAT mapping');
    const bAtA = await eventually('A to list B as connected', async () => {
      const p = await peerEntry(a, b.id);
      return p?.connected ? p : undefined;
    });
    assert.equal(bAtA.path, 'direct');
    assert.equal(bAtA.name, 'bob');
    await exchange(b, a, 'hello across instances');
    // Neither moved: the punch crossed the cluster, not a node.
    await assertAt(a, s1);
    await assertAt(b, s2);
  });

  it('cross-instance relay: C (at s1) dials D (at s2) by id through two symmetric NATs; the relayed session carries messages', async (t) => {
    const [c, d] = await Promise.all([
      sl.startNode('c1', { port: 7303, signaler: pinned(s1), name: 'carol' }),
      sl.startNode('d1', { port: 7304, signaler: pinned(s2), name: 'dave' }),
    ]);
    t.after(() => Promise.allSettled([c.stop(), d.stop()]));
    await assertAt(c, s1);
    await assertAt(d, s2);

    const dial = await c.dial(d.id);
    t.diagnostic(`cross-instance relay: ${describeDial(dial)} (wall ${dial.elapsedMs} ms)`);
    assert.ok(dial.ok, `${describeDial(dial)}\n${dial.stderr}\n${nodeLogs(c, d)}\n${signalerLogs(s1, s2)}`);
    assert.equal(dial.result.id, d.id);
    assert.equal(dial.result.method, 'relay');
    assert.equal(dial.result.path, 'relay');
    // C asks its own instance for the circuit; s1 forwards to s2, where D is.
    assert.match(dial.result.relay ?? '', new RegExp(`^${s1.id} at `), `relayed by C's instance s1 (${s1.id}), got ${dial.result.relay}`);
    const cAtD = await eventually('D to list C as connected through the relay', async () => {
      const p = await peerEntry(d, c.id);
      return p?.connected ? p : undefined;
    });
    assert.equal(cAtD.path, 'relay');

    await exchange(c, d, 'over the cluster relay');
    await exchange(d, c, 'and back');
    await assertAt(c, s1);
    await assertAt(d, s2);
  });
});
