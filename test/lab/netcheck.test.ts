/**
 * `sentinel netcheck` with the real executables in the NAT lab (root only; skipped with the
 * reason otherwise, failed when SENTINEL_LAB=required): one node per kind of network, each
 * classified in RFC 4787 terms by a signaler on a public host with its probe port (8889):
 *
 * - public host: no NAT, endpoint-independent, port kept, inbound open; with a host
 *   firewall that rejects with a reset: reset;
 * - easy NAT: endpoint-independent, port preserving, drop;
 * - hard NAT (`masquerade random`): endpoint-dependent, not port preserving, drop;
 * - a NAT that answers with a TCP reset (`rst`) or an ICMP error (`icmp`): reset;
 * - the second host on one easy NAT with the same local port: the NAT must pick another
 *   port, and (Linux 6.18 masquerade) picks the same one towards every destination:
 *   endpoint-independent without port preservation, which the punch planner, seeing only
 *   the changed port, calls hard (a note says so);
 * - IPv6 (the dual-stack cell): the signaler reached over IPv6, the node's own address seen;
 * - a dial between two hard-NAT nodes ends relayed and says why in those terms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DialResult, NetcheckReport } from '../../src/api.js';
import { buildLab, loadRuleset, type Lab } from './index.js';
import { buildLab6, type Lab6 } from './topology6.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { labAvailable } from './gate.js';

const labOk = await labAvailable('netcheck in the NAT lab');
/** The port the firewalled public host rejects unsolicited connections to. */
const FIREWALLED_PORT = 7102;

/** A host firewall on a public host: established traffic passes, new inbound TCP to `port` is reset. */
const hostResetRuleset = (port: number): string =>
  ['table inet hostfw {', '  chain input {', '    type filter hook input priority filter; policy accept;', '    ct state established,related accept', `    tcp dport ${port} reject with tcp reset`, '  }', '}', ''].join('\n');

async function netcheck(n: LabNode): Promise<NetcheckReport> {
  const r = await n.json<NetcheckReport>(['netcheck'], 20_000);
  return r;
}

function show(n: LabNode, r: NetcheckReport): string {
  return `${n.host.name}: ${JSON.stringify(r)}\n${tail(n.stderr(), 20)}`;
}

if (labOk) describe('netcheck in the NAT lab: every classification', { timeout: 240_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let signaler: LabSignaler;

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig', 'p1', 'p2', 'sig2'] },
        { name: 'A', nat: 'easy', hosts: ['a1', 'a2'] },
        { name: 'H', nat: 'hard', hosts: ['h1'] },
        { name: 'B', nat: 'hard', hosts: ['b1'] },
        { name: 'R', nat: 'rst', hosts: ['r1'] },
        { name: 'I', nat: 'icmp', hosts: ['i1'] },
      ],
    });
    await loadRuleset(lab.host('p2').ns, hostResetRuleset(FIREWALLED_PORT));
    sl = new SentinelLab(lab);
    signaler = await sl.startSignaler('sig');
    const line = await signaler.proc.waitFor(/^netcheck probe port: (\S+)$/m, 5_000);
    assert.equal(line[1], '8889', 'the probe port defaults to port + 1');
  });

  after(async () => {
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('public host: no NAT, endpoint-independent, port kept, unsolicited inbound open', async (t) => {
    const n = await sl.startNode('p1', { port: 7101, signaler });
    const r = await netcheck(n);
    t.diagnostic(JSON.stringify(r));
    const ip = lab.host('p1').ip;
    assert.equal(r.signaler.reachable, true, show(n, r));
    assert.equal(typeof r.signaler.rttMs, 'number');
    assert.equal(r.publicAddress, `${ip}:7101`);
    assert.equal(r.probeAddress, `${ip}:7101`);
    assert.equal(r.behindNat, false);
    assert.equal(r.natKind, 'public');
    assert.equal(r.mapping, 'endpoint-independent');
    assert.equal(r.portPreserving, true);
    assert.equal(r.filtering, 'open', show(n, r));
    assert.equal(r.ipv6.addresses.length, 0);
    const human = await n.client(['netcheck']);
    t.diagnostic(`\n${human.stdout}`);
  });

  it('public host whose firewall rejects unsolicited connections: reset', async () => {
    const n = await sl.startNode('p2', { port: FIREWALLED_PORT, signaler });
    const r = await netcheck(n);
    assert.equal(r.behindNat, false, show(n, r));
    assert.equal(r.filtering, 'reset', show(n, r));
    assert.equal(r.filteringDetail, 'TCP reset');
  });

  it('easy NAT: endpoint-independent, port preserving, unsolicited inbound dropped', async (t) => {
    const n = await sl.startNode('a1', { port: 7103, signaler });
    const r = await netcheck(n);
    t.diagnostic(JSON.stringify(r));
    const wan = lab.router('A').wanIp;
    assert.equal(r.publicAddress, `${wan}:7103`, show(n, r));
    assert.equal(r.probeAddress, `${wan}:7103`);
    assert.equal(r.behindNat, true);
    assert.equal(r.natKind, 'easy');
    assert.equal(r.mapping, 'endpoint-independent');
    assert.equal(r.portPreserving, true);
    assert.equal(r.filtering, 'drop', show(n, r));
    const human = await n.client(['netcheck']);
    t.diagnostic(`\n${human.stdout}`);
  });

  it('the second host on one easy NAT with the same local port: endpoint-independent, not port preserving', async (t) => {
    // a1 holds <wan>:7103; a2's mapping needs another port, and the NAT keeps that one for both destinations.
    const n = await sl.startNode('a2', { port: 7103, signaler });
    const r = await netcheck(n);
    t.diagnostic(JSON.stringify(r));
    const wan = lab.router('A').wanIp;
    assert.equal(r.behindNat, true, show(n, r));
    assert.equal(r.portPreserving, false, show(n, r));
    assert.match(r.publicAddress ?? '', new RegExp(`^${wan.replace(/\./g, '\\.')}:\\d+$`));
    assert.notEqual(r.publicAddress, `${wan}:7103`);
    assert.equal(r.probeAddress, r.publicAddress, show(n, r));
    assert.equal(r.mapping, 'endpoint-independent');
    assert.equal(r.natKind, 'hard', 'the punch planner sees only the changed port');
    assert.match(r.notes.join('\n'), /punch planner.*hard/);
  });

  it('hard NAT: endpoint-dependent, not port preserving, dropped', async (t) => {
    const n = await sl.startNode('h1', { port: 7104, signaler });
    const r = await netcheck(n);
    t.diagnostic(JSON.stringify(r));
    const wan = lab.router('H').wanIp;
    assert.match(r.publicAddress ?? '', new RegExp(`^${wan.replace(/\./g, '\\.')}:\\d+$`), show(n, r));
    assert.match(r.probeAddress ?? '', new RegExp(`^${wan.replace(/\./g, '\\.')}:\\d+$`));
    assert.notEqual(r.publicAddress, r.probeAddress);
    assert.equal(r.natKind, 'hard');
    assert.equal(r.mapping, 'endpoint-dependent');
    assert.equal(r.portPreserving, false);
    assert.equal(r.filtering, 'drop', show(n, r));
    t.diagnostic(`\n${(await n.client(['netcheck'])).stdout}`);
  });

  it('a NAT that answers with a TCP reset: reset', async () => {
    const n = await sl.startNode('r1', { port: 7105, signaler });
    const r = await netcheck(n);
    assert.equal(r.mapping, 'endpoint-independent', show(n, r));
    assert.equal(r.filtering, 'reset', show(n, r));
    assert.equal(r.filteringDetail, 'TCP reset');
  });

  it('a NAT that answers with ICMP administratively prohibited: reset, saying ICMP', async () => {
    const n = await sl.startNode('i1', { port: 7106, signaler });
    const r = await netcheck(n);
    assert.equal(r.filtering, 'reset', show(n, r));
    assert.match(r.filteringDetail, /ICMP/);
  });

  it('a dial between two hard-NAT nodes ends relayed and says why in netcheck terms', async (t) => {
    const h = (await sl.startNode('b1', { port: 7107, signaler })) as LabNode;
    const other = await sl.startNode('h1', { port: 7108, signaler });
    const d = await h.dial(other.id);
    assert.ok(d.ok, d.ok ? '' : `${d.reason}\n${tail(h.stderr())}`);
    const res: DialResult = d.result;
    t.diagnostic(JSON.stringify(res));
    assert.equal(res.path, 'relay');
    assert.equal(res.reason?.code, 'both-endpoint-dependent');
    assert.equal(res.reason?.self.mapping, 'endpoint-dependent');
    assert.equal(res.reason?.peer?.mapping, 'endpoint-dependent');
    assert.match(res.explanation ?? '', /you are behind a NAT that changes the port per destination.*and so is the peer/);
    const human = await other.client(['dial', h.id]);
    t.diagnostic(`\n${human.stdout}`);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^why not direct: you are behind a NAT that changes the port per destination/m);
  });

  it('the same dial through a signaler that does not relay fails, and says why', async (t) => {
    const noRelay = await sl.startSignaler('sig2', { extraArgs: ['--no-relay'] });
    const [x, y] = await Promise.all([sl.startNode('b1', { port: 7109, signaler: noRelay }), sl.startNode('h1', { port: 7110, signaler: noRelay })]);
    const d = await x.dial(y.id);
    assert.equal(d.ok, false, 'no relay, no punch: the dial fails');
    if (d.ok) return;
    t.diagnostic(d.reason);
    assert.match(d.reason, /Why: you are behind a NAT that changes the port per destination.*and so is the peer: no hole punch can match the ports, and no relay could take the session/);
  });
});

if (labOk) describe('netcheck in the IPv6 cell', { timeout: 120_000 }, () => {
  let lab: Lab6;
  let sl: SentinelLab;
  let signaler: LabSignaler;

  before(async () => {
    lab = await buildLab6({ sites: [{ name: 'pub', v4: 'public', hosts: ['sig'] }, { name: 'A', v4: 'easy', hosts: ['a1'] }, { name: 'C', v4: 'easy', hosts: ['c1'], ipv6: false }] });
    sl = new SentinelLab(lab);
    // Dual-stack, so its probe port takes IPv6 and it offers its global IPv6 address.
    signaler = await sl.startSignaler('sig', { extraArgs: ['--host', '::'] });
  });

  after(async () => {
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('a dual-stack node reaches the signaler over IPv6 and is seen at its own address', async (t) => {
    const n = await sl.startNode('a1', { port: 7201, signaler });
    const r = await netcheck(n);
    t.diagnostic(JSON.stringify(r.ipv6));
    const a6 = lab.host6('a1').ip6 as string;
    assert.deepEqual(r.ipv6.addresses, [a6], show(n, r));
    assert.equal(r.ipv6.signaler, 'reachable', show(n, r));
    assert.equal(r.ipv6.observed, `[${a6}]:7201`, 'no NAT on IPv6: the identity port, at its own address');
    assert.equal(r.mapping, 'endpoint-independent', 'the IPv4 part is classified as before');
  });

  it('an IPv4-only node: no global IPv6 address', async () => {
    const n = await sl.startNode('c1', { port: 7202, signaler });
    const r = await netcheck(n);
    assert.deepEqual(r.ipv6.addresses, []);
    assert.equal(r.ipv6.signaler, 'unknown');
    assert.equal(r.ipv6.detail, 'no global IPv6 address');
  });
});
