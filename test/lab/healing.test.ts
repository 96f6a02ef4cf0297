/**
 * Self-healing with the real executables in the NAT lab (root only; skipped with the
 * reason otherwise, or failed when SENTINEL_LAB=required). Every node is on its own
 * public host, started with `--no-mdns`, so what it knows comes from dials and gossip.
 *
 * - mesh and rejoin: four nodes form a full mesh by id through a signaler and exchange
 *   signed peer records by gossip; the signaler is then stopped, and a node restarted
 *   with the same data dir and port finds its peers again from the addresses it learned;
 * - link cut and heal: a pulled cable between two connected nodes (their signaler
 *   sessions untouched) is noticed by both keepalives, and the session comes back by
 *   itself once the cable is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PeerInfo, SendResult } from '../../src/api.js';
import { buildLab, cutLink, healLink, type Lab } from './index.js';
import { SentinelLab, tail, type DialOutcome, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { labAvailable, eventually, sleep } from './gate.js';

/** Flags of every node here: no LAN discovery, keep three sessions. */
const NODE_FLAGS = ['--no-mdns', '--min-peers', '3'] as const;
/**
 * Keepalive: PING every 5 s, dead after 15 s of silence, so a cut is detected after
 * 15-20 s (observed: ~20 s). The bound adds 15 s for a loaded machine.
 */
const CUT_DETECT_BOUND_MS = 35_000;
/**
 * At the heal each side has been redialing for at most ~10 s (the cut was noticed
 * 15-20 s after it, and we heal once both noticed), so it is in its 2nd or 3rd
 * attempt. Worst case: one failing attempt still in flight (direct tries of 1.5 s per
 * address, then a punch of 20 x 400 ms through the signaler, ~12 s) plus the next
 * backoff wait (full jitter, at most 8 s), plus the dial itself: ~21 s. 45 s is that
 * with a margin for a loaded machine.
 */
const HEAL_BOUND_MS = 45_000;
/** Gossip pushes every 5 s to 3 random peers: a few rounds to converge. */
const GOSSIP_CONVERGE_MS = 20_000;
/** A restarted node dials its known peers on its first maintenance tick (every 1 s). */
const REJOIN_BOUND_MS = 20_000;

const labOk = await labAvailable('self-healing in the NAT lab');




/** Node logs, for assertion messages. */
function logs(...nodes: LabNode[]): string {
  return nodes.map((n) => `--- ${n.host.name} (${n.id.slice(0, 12)}) log:\n${tail(n.stderr(), 50)}`).join('\n');
}

function describeDial(o: DialOutcome): string {
  return o.ok ? `ok ${JSON.stringify(o.result)}` : `failed after ${o.elapsedMs} ms: ${o.reason}\n${o.stderr}`;
}

/** Ids of the peers `node` lists as connected. */
async function connectedIds(node: LabNode): Promise<Set<string>> {
  return new Set((await node.peers()).filter((p) => p.connected).map((p) => p.id));
}

/** Is `peer` listed as connected by `node`? */
async function isConnected(node: LabNode, peer: LabNode): Promise<boolean> {
  return (await node.peers()).some((p) => p.id === peer.id && p.connected);
}

/** `peers --json` of `node`, one line a peer, with names for the lab's nodes. */
async function describePeers(node: LabNode, all: readonly LabNode[]): Promise<string> {
  const name = (id: string): string => all.find((n) => n.id === id)?.host.name ?? id.slice(0, 12);
  const list: PeerInfo[] = await node.peers();
  const lines = list.map((p) => `  ${name(p.id)}: connected=${p.connected} address=${p.address} learnedFrom=${p.learnedFrom} method=${p.method}`);
  return `peers --json of ${node.host.name}:\n${lines.join('\n') || '  (none)'}`;
}

/** One diagnostic line per line of `text` (the TAP output escapes newlines). */
function diag(t: { diagnostic(m: string): void }, text: string): void {
  for (const line of text.split('\n')) t.diagnostic(line);
}

async function gossipAccepted(node: LabNode): Promise<number> {
  return (await node.status()).counters['gossip.accepted'] ?? 0;
}

if (labOk) describe('self-healing with the real binaries in the NAT lab', { timeout: 240_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig1', 'sig2'] },
        { name: 'P1', nat: 'public', hosts: ['n1'] },
        { name: 'P2', nat: 'public', hosts: ['n2'] },
        { name: 'P3', nat: 'public', hosts: ['n3'] },
        { name: 'P4', nat: 'public', hosts: ['n4'] },
        { name: 'PA', nat: 'public', hosts: ['a'] },
        { name: 'PB', nat: 'public', hosts: ['b'] },
      ],
    });
    sl = new SentinelLab(lab);
  });

  after(async () => {
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('a full mesh survives the signaler; a restarted node rejoins from what it learned', async (t) => {
    const signaler: LabSignaler = await sl.startSignaler('sig1');
    const nodes = await Promise.all(
      ['n1', 'n2', 'n3', 'n4'].map((h, i) => sl.startNode(h, { port: 7101 + i, signaler, name: h, extraArgs: NODE_FLAGS })),
    );
    const live: LabNode[] = [...nodes];
    t.after(() => Promise.allSettled([...live.map((n) => n.stop()), signaler.stop()]));
    const [n1, n2, n3, n4] = nodes as [LabNode, LabNode, LabNode, LabNode];

    // The mesh, by id only (through the signaler): each pair dialed once.
    for (const [from, to] of [[n1, n2], [n1, n3], [n1, n4], [n2, n3], [n2, n4], [n3, n4]] as const) {
      const d = await from.dial(to.id);
      assert.ok(d.ok, `${from.host.name} -> ${to.host.name}: ${describeDial(d)}\n${logs(from, to)}`);
      assert.equal(d.result.id, to.id);
      t.diagnostic(`${from.host.name} -> ${to.host.name}: ${d.result.method} at ${d.result.address}${d.result.existing ? ' (existing)' : ''}`);
    }
    // Every node: 3 sessions, and its own record plus at least the 3 others' accepted.
    for (const n of nodes) {
      const others = nodes.filter((o) => o !== n);
      await eventually(
        `${n.host.name} to have the 3 others connected and their records (gossip.accepted >= 4)`,
        async () => {
          const c = await connectedIds(n);
          return others.every((o) => c.has(o.id)) && (await gossipAccepted(n)) >= 4 ? true : undefined;
        },
        GOSSIP_CONVERGE_MS,
        async () => `${await describePeers(n, nodes)}\nstatus counters: ${JSON.stringify((await n.status()).counters)}\n${logs(n)}`,
      );
    }
    for (const n of nodes) t.diagnostic(`${n.host.name}: gossip.accepted=${await gossipAccepted(n)}`);

    // No signaler from here on.
    await signaler.stop();
    await eventually('n1 to notice the signaler is gone', async () => ((await n1.status()).signaler.state !== 'connected' ? true : undefined), 20_000);

    // Restart n4 on the same identity, data dir and port.
    const before4 = await describePeers(n4, nodes);
    await n4.stop();
    live.splice(live.indexOf(n4), 1);
    const m4 = await sl.startNode('n4', { port: n4.port, dataDir: n4.dataDir, signaler: signaler.address, name: 'n4', extraArgs: NODE_FLAGS, waitForSignaler: false });
    live.push(m4);
    const restartedAt = Date.now();
    const all = [n1, n2, n3, m4];
    assert.equal(m4.id, n4.id, 'same data dir, same identity');
    assert.notEqual((await m4.status()).signaler.state, 'connected', 'the signaler is down, so the rejoin cannot use it');
    const atStart = await describePeers(m4, all);
    diag(t, `before the restart ${before4}`);
    diag(t, `right after the restart ${atStart}`);

    // Ideally all three; at least two within the bound.
    let got = new Set<string>();
    const deadline = Date.now() + REJOIN_BOUND_MS;
    while (Date.now() < deadline) {
      got = await connectedIds(m4);
      if (got.size >= 3) break;
      await sleep(250);
    }
    const now = await describePeers(m4, all);
    diag(t, `${got.size} sessions ${Date.now() - restartedAt} ms after the restart; ${now}`);
    assert.ok(got.size >= 2, `restarted n4 has ${got.size} sessions, want >= 2\nat start ${atStart}\nnow ${now}\n${logs(m4, n1, n2, n3)}`);
    if (got.size < 3) t.diagnostic(`only ${got.size} of 3 peers back within ${REJOIN_BOUND_MS} ms`);
    for (const n of [n1, n2, n3].filter((o) => got.has(o.id))) {
      await eventually(`${n.host.name} to list the restarted n4 as connected`, async () => ((await isConnected(n, m4)) ? true : undefined), 5_000, async () => `${await describePeers(n, all)}\n${logs(n)}`);
    }
    // The rest of the mesh was never touched.
    for (const [x, y] of [[n1, n2], [n1, n3], [n2, n3]] as const) assert.ok(await isConnected(x, y), `${x.host.name}-${y.host.name} still connected`);
  });

  it('a cut link is noticed by both sides, and heals by itself', async (t) => {
    const signaler = await sl.startSignaler('sig2');
    const [a, b] = await Promise.all([
      sl.startNode('a', { port: 7201, signaler, name: 'a', extraArgs: NODE_FLAGS }),
      sl.startNode('b', { port: 7202, signaler, name: 'b', extraArgs: NODE_FLAGS }),
    ]);
    const [ipA, ipB] = [a.host.ip, b.host.ip];
    t.after(async () => {
      await Promise.allSettled([healLink(a.host.ns, ipB), healLink(b.host.ns, ipA)]);
      await Promise.allSettled([a.stop(), b.stop(), signaler.stop()]);
    });
    const d = await b.dial(a.id);
    assert.ok(d.ok, `${describeDial(d)}\n${logs(a, b)}`);
    await eventually('A to list B as connected', async () => ((await isConnected(a, b)) ? true : undefined));

    await cutLink(a.host.ns, ipB);
    await cutLink(b.host.ns, ipA);
    const cutAt = Date.now();
    const lostAt = new Map<string, number>();
    await eventually(
      'both sides to report the other as not connected',
      async () => {
        for (const [x, y] of [[a, b], [b, a]] as const) if (!lostAt.has(x.host.name) && !(await isConnected(x, y))) lostAt.set(x.host.name, Date.now() - cutAt);
        return lostAt.size === 2 ? true : undefined;
      },
      CUT_DETECT_BOUND_MS,
      async () => `${await describePeers(a, [a, b])}\n${await describePeers(b, [a, b])}\n${logs(a, b)}`,
    );
    t.diagnostic(`cut noticed after: a ${lostAt.get('a')} ms, b ${lostAt.get('b')} ms`);
    // Their signaler sessions kept working all along (> 15 s: a dead one would be declared so).
    for (const n of [a, b]) assert.equal((await n.status()).signaler.state, 'connected', `${n.host.name}'s signaler session during the cut\n${logs(n)}`);

    await healLink(a.host.ns, ipB);
    await healLink(b.host.ns, ipA);
    const healedAt = Date.now();
    await eventually(
      'both sides connected again after the heal',
      async () => ((await isConnected(a, b)) && (await isConnected(b, a)) ? true : undefined),
      HEAL_BOUND_MS,
      async () => `${await describePeers(a, [a, b])}\n${await describePeers(b, [a, b])}\n${logs(a, b)}`,
    );
    diag(t, `connected again ${Date.now() - healedAt} ms after the heal; ${await describePeers(b, [a, b])}`);
    // The new session carries messages, and the signaler sessions are still up.
    const sent = await b.json<SendResult>(['send', a.id, 'back again']);
    await eventually('A to receive the message over the healed link', async () => (await a.history(b.id)).find((m) => m.id === sent.id || m.text === 'back again'));
    for (const n of [a, b]) assert.equal((await n.status()).signaler.state, 'connected', `${n.host.name}'s signaler session after the heal`);
  });
});
