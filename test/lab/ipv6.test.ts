/**
 * The IPv6 cell of the lab (root only; skipped with the reason otherwise, failed when
 * SENTINEL_LAB=required), with the real executables: two sites whose routers NAT IPv4
 * with `masquerade random` (hard x hard: no IPv4 hole punching can work) and route IPv6
 * without NAT behind a stateful firewall that silently drops unsolicited inbound traffic.
 * Nodes register with the signaler over IPv4 only, so the only way they can know each
 * other's IPv6 addresses is the announcement in REGISTER (and the peer record).
 *
 * - control: the firewall drops an unsolicited IPv6 connect to a node that does listen on
 *   IPv6 (reachable from its own host);
 * - B dials A by id: the session is direct, over IPv6, by TCP simultaneous open, not
 *   through the relay; messages flow both ways. Without the IPv6 announcement this dial
 *   can only end relayed, and the test fails;
 * - a dual-stack node and an IPv4-only one (easy NATs) still punch over IPv4;
 * - two dual-stack nodes behind easy NATs, where IPv4 and IPv6 can both work and are tried
 *   at once: one direct session, messages flow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HistoryEntry, PeerInfo, SendResult } from '../../src/api.js';
import { probeTcp } from './probes.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { buildLab6, type Lab6 } from './topology6.js';
import { eventually, labAvailable } from './gate.js';

const labOk = await labAvailable('IPv6 cell of the lab');

function logs(...nodes: LabNode[]): string {
  return nodes.map((n) => `--- ${n.host.name} (${n.id.slice(0, 12)}) log:\n${tail(n.stderr(), 60)}`).join('\n');
}

async function peerEntry(node: LabNode, id: string): Promise<PeerInfo | undefined> {
  return (await node.peers()).find((p) => p.id === id);
}

/** Sends `text` from `from` to `to`; waits until `to` has it and `from` has the ack. */
async function exchange(from: LabNode, to: LabNode, text: string): Promise<void> {
  const sent = await from.json<SendResult>(['send', to.id, text]);
  await eventually(`${to.host.name} to receive "${text}"`, async () => (await to.history(from.id)).find((m: HistoryEntry) => m.text === text && m.from === from.id));
  await eventually(`${from.host.name} to see "${text}" delivered`, async () => (await from.history(to.id)).find((m) => m.id === sent.id && m.status === 'delivered'));
}

if (labOk) describe('IPv6 cell: stateful firewalls, no NAT on IPv6, hard NATs on IPv4', { timeout: 180_000 }, () => {
  let lab: Lab6;
  let sl: SentinelLab;
  let signaler: LabSignaler;

  before(async () => {
    lab = await buildLab6({
      sites: [
        { name: 'pub', v4: 'public', hosts: ['sig'] },
        { name: 'A', v4: 'hard', hosts: ['a1'] },
        { name: 'B', v4: 'hard', hosts: ['b1'] },
        { name: 'C', v4: 'easy', hosts: ['c1'], ipv6: false },
        { name: 'D', v4: 'easy', hosts: ['d1'] },
        { name: 'E', v4: 'easy', hosts: ['e1'] },
      ],
    });
    sl = new SentinelLab(lab);
    signaler = await sl.startSignaler('sig');
  });

  after(async () => {
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('B dials A by id: direct over IPv6 by simultaneous open through both firewalls; messages flow', async (t) => {
    const [a6, b6] = [lab.host6('a1').ip6, lab.host6('b1').ip6];
    assert.ok(a6 !== null && b6 !== null);
    const [a, b] = await Promise.all([sl.startNode('a1', { port: 7001, signaler, name: 'alice' }), sl.startNode('b1', { port: 7002, signaler, name: 'bob' })]);
    t.after(() => Promise.allSettled([a.stop(), b.stop()]));

    // Registered over IPv4, through the hard NAT (a random public port).
    const observed = (await a.status()).signaler.observed ?? '';
    assert.ok(observed.startsWith(`${lab.router6('A').wanIp}:`), `A registered over IPv4 through its router, got ${observed}`);

    // Control: A listens on IPv6 (its own host reaches it), but the firewall in front of A
    // drops B's unsolicited SYN (a timeout, not a refusal).
    assert.equal(await probeTcp(lab.host6('a1').ns, { host: a6, port: 7001 }), 'connected', 'A listens on its IPv6 address');
    assert.equal(await probeTcp(lab.host6('b1').ns, { host: a6, port: 7001 }, 1_500), 'timeout', 'unsolicited inbound IPv6 is dropped');

    const dial = await b.dial(a.id);
    assert.ok(dial.ok, `${dial.ok ? '' : `${dial.reason}\n${dial.stderr}`}\n${logs(a, b)}`);
    t.diagnostic(`dial: ${JSON.stringify(dial.result)}`);
    assert.equal(dial.result.path, 'direct', `not relayed: ${JSON.stringify(dial.result)}\n${logs(a, b)}`);
    assert.equal(dial.result.address, `[${a6}]:7001`, 'B reached A at its IPv6 address and identity port');
    assert.ok(['tcp-simultaneous-open', 'inbound'].includes(dial.result.method), dial.result.method);

    const aAtB = await peerEntry(b, a.id);
    assert.equal(aAtB?.path, 'direct');
    assert.equal(aAtB?.address, `[${a6}]:7001`);
    const bAtA = await eventually('A to list B as connected', async () => {
      const p = await peerEntry(a, b.id);
      return p?.connected ? p : undefined;
    });
    assert.equal(bAtA.path, 'direct');
    assert.equal(bAtA.address, `[${b6}]:7002`, 'A sees B at its IPv6 address: no NAT on IPv6');

    await exchange(b, a, 'hello over IPv6');
    await exchange(a, b, 'hello back');
  });

  it('a dual-stack node dials an IPv4-only one: direct over IPv4 as before', async (t) => {
    const [c, d] = await Promise.all([sl.startNode('c1', { port: 7003, signaler }), sl.startNode('d1', { port: 7004, signaler })]);
    t.after(() => Promise.allSettled([c.stop(), d.stop()]));
    const dial = await d.dial(c.id);
    assert.ok(dial.ok, `${dial.ok ? '' : `${dial.reason}\n${dial.stderr}`}\n${logs(c, d)}`);
    t.diagnostic(`dial: ${JSON.stringify(dial.result)}`);
    assert.equal(dial.result.path, 'direct');
    assert.equal(dial.result.address, `${lab.router6('C').wanIp}:7003`);
    await exchange(d, c, 'hello over IPv4');
  });

  it('two dual-stack nodes behind easy NATs: IPv4 and IPv6 tried at once, one direct session', async (t) => {
    const [d, e] = await Promise.all([sl.startNode('d1', { port: 7005, signaler }), sl.startNode('e1', { port: 7006, signaler })]);
    t.after(() => Promise.allSettled([d.stop(), e.stop()]));
    const dial = await e.dial(d.id);
    assert.ok(dial.ok, `${dial.ok ? '' : `${dial.reason}\n${dial.stderr}`}\n${logs(d, e)}`);
    t.diagnostic(`dial: ${JSON.stringify(dial.result)}`);
    assert.equal(dial.result.path, 'direct');
    assert.ok([`[${lab.host6('d1').ip6}]:7005`, `${lab.router6('D').wanIp}:7005`].includes(dial.result.address), dial.result.address);
    await exchange(e, d, 'one session');
    await exchange(d, e, 'both ways');
    assert.equal((await e.peers()).filter((p) => p.connected).length, 1, 'exactly one session');
  });
});
