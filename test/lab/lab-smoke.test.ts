/**
 * Smoke test of the NAT lab itself (root only; skipped with the reason otherwise, or
 * failed when SENTINEL_LAB=required): the topology builds, NAT rewrites addresses the way
 * each NAT kind should, the firewall drops unsolicited packets, two peers behind easy NATs
 * get a direct TCP connection by simultaneous open, and destroy() leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  buildLab,
  connectFrom,
  cutLink,
  exec,
  getConntrackEstablishedTimeout,
  healLink,
  listNamespaces,
  ping,
  probeTcp,
  setConntrackEstablishedTimeout,
  simultaneousOpen,
  startAddressEchoServer,
  type Lab,
  type LabProcess,
} from './index.js';
import { labAvailable } from './gate.js';

const ECHO_PORT = 7000;
// Distinct local ports per case, so conntrack entries of one case never affect another.
const EASY_CLIENT_PORT = 40001;
const HARD_CLIENT_PORT = 40002;
const SHARED_CLIENT_PORT = 40003;
const PUNCH_PORT = 45000;
const HARD_PUNCH_PORT = 45001;
const CLOSED_PORT = 9;

const labOk = await labAvailable('NAT lab smoke');

if (labOk) describe('NAT lab smoke', { timeout: 60_000 }, () => {
  let lab: Lab;
  const servers: LabProcess[] = [];

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['signaler', 'echo2'] },
        { name: 'A', nat: 'easy', hosts: ['a1'] },
        { name: 'B', nat: 'hard', hosts: ['b1'] },
        { name: 'C', nat: 'easy', hosts: ['c1', 'c2'] },
      ],
    });
    for (const h of ['signaler', 'echo2']) servers.push(await startAddressEchoServer(lab.host(h).ns, ECHO_PORT));
  });

  after(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await lab?.destroy();
  });

  const echoTargets = (): { host: string; port: number }[] => [
    { host: lab.host('signaler').ip, port: ECHO_PORT },
    { host: lab.host('echo2').ip, port: ECHO_PORT },
  ];

  it('gives hosts public and LAN addresses from documentation ranges', async () => {
    const sig = lab.host('signaler');
    assert.match(sig.ip, /^203\.0\.113\.\d+$/);
    assert.equal(sig.publicIp, sig.ip);
    assert.notEqual(lab.host('echo2').ip, sig.ip);
    for (const [name, site] of [['a1', 'A'], ['b1', 'B'], ['c1', 'C'], ['c2', 'C']] as const) {
      const h = lab.host(name);
      assert.match(h.ip, /^192\.168\.\d+\.\d+$/);
      assert.equal(h.publicIp, lab.router(site).wanIp);
    }
    assert.notEqual(lab.host('c1').ip, lab.host('c2').ip);
    const listed = await listNamespaces();
    for (const ns of lab.namespaces) {
      assert.ok(ns.startsWith(lab.prefix), ns);
      assert.ok(listed.includes(ns), `${ns} missing from ip netns list`);
    }
  });

  it('lets a LAN host reach a public host', async () => {
    const sig = lab.host('signaler').ip;
    assert.equal(await ping(lab.host('a1').ns, sig), true, 'a1 -> signaler');
    assert.equal(await ping(lab.host('b1').ns, sig), true, 'b1 -> signaler');
    assert.equal(await ping(lab.host('c2').ns, lab.host('echo2').ip), true, 'c2 -> echo2');
  });

  it('easy NAT keeps the local port and the same mapping for every destination', async () => {
    const seen = await connectFrom(lab.host('a1').ns, EASY_CLIENT_PORT, echoTargets());
    assert.equal(seen.length, 2);
    for (const c of seen) {
      assert.equal(c.localPort, EASY_CLIENT_PORT);
      assert.deepEqual(c.observed, { address: lab.router('A').wanIp, port: EASY_CLIENT_PORT }, c.target);
    }
  });

  it('hard NAT gives each destination a different public port', async () => {
    const seen = await connectFrom(lab.host('b1').ns, HARD_CLIENT_PORT, echoTargets());
    assert.equal(seen.length, 2);
    for (const c of seen) assert.equal(c.observed.address, lab.router('B').wanIp, c.target);
    const [first, second] = seen;
    assert.notEqual(first?.observed.port, second?.observed.port, JSON.stringify(seen));
  });

  it('two hosts behind one NAT share its address; a clashing port is remapped', async () => {
    const target = [{ host: lab.host('signaler').ip, port: ECHO_PORT }];
    const [c1] = await connectFrom(lab.host('c1').ns, SHARED_CLIENT_PORT, target);
    const [c2] = await connectFrom(lab.host('c2').ns, SHARED_CLIENT_PORT, target);
    const wan = lab.router('C').wanIp;
    assert.deepEqual(c1?.observed, { address: wan, port: SHARED_CLIENT_PORT });
    assert.equal(c2?.observed.address, wan);
    assert.notEqual(c2?.observed.port, SHARED_CLIENT_PORT);
  });

  it('drops an unsolicited inbound connection instead of refusing it', async () => {
    const sig = lab.host('signaler').ns;
    // Control: the probe does tell a refusal (RST) from silence.
    assert.equal(await probeTcp(sig, { host: lab.host('echo2').ip, port: CLOSED_PORT }), 'refused');
    assert.equal(await probeTcp(sig, { host: lab.router('A').wanIp, port: EASY_CLIENT_PORT }), 'timeout');
  });

  it('connects two hosts behind two easy NATs by TCP simultaneous open', async () => {
    const a1 = lab.host('a1');
    const c1 = lab.host('c1');
    const [a, c] = await simultaneousOpen({ ns: a1.ns, peerHost: c1.publicIp, tag: 'a1' }, { ns: c1.ns, peerHost: a1.publicIp, tag: 'c1' }, { port: PUNCH_PORT });
    assert.equal(a.ok, true, `a1: ${JSON.stringify(a)}`);
    assert.equal(c.ok, true, `c1: ${JSON.stringify(c)}`);
    assert.equal(a.got, 'c1');
    assert.equal(c.got, 'a1');
    assert.equal(a.remote, `${c1.publicIp}:${PUNCH_PORT}`);
    assert.equal(c.remote, `${a1.publicIp}:${PUNCH_PORT}`);
  });

  it('cannot connect by simultaneous open when one NAT is hard', async () => {
    const a1 = lab.host('a1');
    const b1 = lab.host('b1');
    const [a, b] = await simultaneousOpen({ ns: a1.ns, peerHost: b1.publicIp, tag: 'a1' }, { ns: b1.ns, peerHost: a1.publicIp, tag: 'b1' }, { port: HARD_PUNCH_PORT, attemptMs: 2_500, attempts: 1 });
    assert.equal(a.ok, false, JSON.stringify(a));
    assert.equal(b.ok, false, JSON.stringify(b));
  });

  it('cuts and heals the link between a namespace and a peer', async () => {
    const a1 = lab.host('a1').ns;
    const sig = lab.host('signaler').ip;
    await cutLink(a1, sig);
    await cutLink(a1, sig); // idempotent
    assert.equal(await ping(a1, sig, 1), false, 'ping through a cut link');
    assert.equal(await ping(a1, lab.host('echo2').ip), true, 'a cut is per peer');
    await healLink(a1, sig);
    await healLink(a1, sig); // idempotent
    assert.equal(await ping(a1, sig), true, 'ping after heal');
  });

  it('sets the conntrack established timeout in one router only', async () => {
    const rootValue = await getConntrackEstablishedTimeout(null);
    await setConntrackEstablishedTimeout(lab.router('A'), 30);
    assert.equal(await getConntrackEstablishedTimeout(lab.router('A')), 30);
    assert.notEqual(await getConntrackEstablishedTimeout(lab.router('B')), 30);
    assert.equal(await getConntrackEstablishedTimeout(null), rootValue);
  });

  it('destroy() removes every namespace and interface it made', async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await lab.destroy();
    await lab.destroy(); // idempotent
    const left = (await listNamespaces()).filter((n) => n.startsWith(lab.prefix));
    assert.deepEqual(left, []);
    const links = await exec(null, 'ip', ['-o', 'link', 'show']);
    assert.equal(links.includes(lab.prefix), false, 'no lab interface in the root namespace');
  });
});
