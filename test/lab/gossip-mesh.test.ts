/**
 * Gossip forwards records across hops: 8 real `sentinel-node` processes in their own
 * namespaces, connected in a line (each dials the next; `--min-peers 0`, so no other
 * session is ever made). The ends are 7 hops apart. First every node must learn every
 * other one by gossip; then the first node issues a new record (a new address appears on
 * its host) and the last node must accept it, still without a session to the first.
 * Root only; skipped with the reason otherwise, failed when SENTINEL_LAB=required.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, labAvailable, sleep } from './gate.js';
import { ACCEPTED_COUNTER, startMesh, type Mesh } from './gossip-mesh.js';

const labOk = await labAvailable('gossip across a line of 8 nodes');

const SIZE = 8;
/** A gossip round is 5 s; a hop takes at most a round or two. Generous on a busy machine. */
const SPREAD_TIMEOUT_MS = 150_000;

if (labOk) describe('gossip across a line of 8 nodes', { timeout: 600_000 }, () => {
  let mesh: Mesh;
  const first = 0;
  const last = SIZE - 1;

  before(async () => {
    mesh = await startMesh({ size: SIZE, shape: 'line', logLevel: 'debug', port: 7410 });
  });

  after(async () => {
    await mesh?.close();
  });

  const logs = async (): Promise<string> => mesh.nodes.map((n, i) => `--- node ${i}\n${n.stderr().split('\n').slice(-15).join('\n')}`).join('\n');

  it('every node learns every other node by gossip, the ends only through 6 others', async () => {
    assert.equal(mesh.hops(first)[last], SIZE - 1);
    await eventually('every node to know the other 7', async () => ((await mesh.statuses()).every((s) => s.known >= SIZE - 1) ? true : undefined), SPREAD_TIMEOUT_MS, logs);
    const peersOfLast = await mesh.nodes[last]?.peers();
    const firstSeen = peersOfLast?.find((p) => p.id === mesh.nodes[first]?.id);
    assert.ok(firstSeen, 'the last node knows the first');
    assert.equal(firstSeen.connected, false, 'no session between the ends');
    assert.equal(firstSeen.learnedFrom, 'gossip');
    assert.deepEqual(
      (await mesh.statuses()).map((s) => s.peers),
      [1, 2, 2, 2, 2, 2, 2, 1],
      'only the line edges carry sessions',
    );
  });

  it("a new record of the first node reaches the last one, 7 hops away", async () => {
    // Quiet first: no node accepts anything for more than a round.
    const base = await eventually(
      'the books to settle',
      async () => {
        const a = await mesh.counters(ACCEPTED_COUNTER);
        await sleep(6_000);
        const b = await mesh.counters(ACCEPTED_COUNTER);
        return a.every((v, i) => v === b[i]) ? b : undefined;
      },
      SPREAD_TIMEOUT_MS,
    );
    await mesh.bump(first);
    const now = await eventually(
      'every node to accept the new record',
      async () => {
        const c = await mesh.counters(ACCEPTED_COUNTER);
        return c.every((v, i) => v > (base[i] as number)) ? c : undefined;
      },
      SPREAD_TIMEOUT_MS,
      logs,
    );
    // One new record in the whole mesh: each node accepted exactly it (the first node its own).
    assert.deepEqual(
      now.map((v, i) => v - (base[i] as number)),
      Array.from({ length: SIZE }, () => 1),
    );
    const firstSeen = (await mesh.nodes[last]?.peers())?.find((p) => p.id === mesh.nodes[first]?.id);
    assert.equal(firstSeen?.connected, false, 'still no session between the ends: the record was forwarded');
  });
});
