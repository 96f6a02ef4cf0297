/**
 * Names for VPN peers with the real binaries (root only; skipped with the reason otherwise,
 * failed when SENTINEL_LAB=required): two nodes with real TUN devices in network
 * namespaces. A calls B "bob"; in A's namespace `bob.sentinel` resolves through A's
 * responder on its VPN IPv4 (with `dig`, and with the system resolver pointed at it by a
 * per-namespace /etc/netns/<ns>/resolv.conf, which `ip netns exec` mounts) and ping by
 * name crosses the tunnel. B, asking A's responder through the tunnel, is refused.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { StatusInfo } from '../../src/api.js';
import { buildLab, tryExec, type Lab } from './index.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { eventually, labAvailable } from './gate.js';

const labOk = await labAvailable('DNS for VPN peers through the TUN');
const digOk = (await tryExec(null, 'dig', ['-v'])).code === 0;

interface Ids {
  id: string;
  vpn: { ipv4: string; ipv6: string };
}

async function dig(node: LabNode, server: string, ...args: string[]): Promise<string> {
  const r = await tryExec(node.host.ns, 'dig', [`@${server}`, '+time=2', '+tries=2', ...args], { timeoutMs: 15_000 });
  assert.equal(r.code, 0, `dig ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

if (labOk) describe('DNS for VPN peers through the TUN', { timeout: 120_000, skip: digOk ? false : 'dig is not installed (apt install bind9-dnsutils)' }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let signaler: LabSignaler;
  let a: LabNode;
  let b: LabNode;
  let A: Ids;
  let B: Ids;
  let netnsDir: string | undefined;

  before(async () => {
    lab = await buildLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['sig', 'a1', 'b1'] }] });
    sl = new SentinelLab(lab);
    signaler = await sl.startSignaler('sig');
    [a, b] = await Promise.all([
      sl.startNode('a1', { port: 7201, signaler, name: 'alice', extraArgs: ['--tun'] }),
      sl.startNode('b1', { port: 7202, signaler, name: 'bobs-box', extraArgs: ['--tun'] }),
    ]);
    A = await a.json<Ids>(['id']);
    B = await b.json<Ids>(['id']);
    await a.json(['allow', B.id]);
    await b.json(['allow', A.id]);
    await a.json(['alias', B.id, 'bob']);
    const d = await b.dial(A.id);
    assert.ok(d.ok, `dial: ${d.ok ? '' : d.reason}\n${tail(b.stderr())}`);
    // The system resolver of A's namespace asks A's responder (ip netns exec mounts this file on /etc/resolv.conf).
    netnsDir = `/etc/netns/${a.host.ns}`;
    await mkdir(netnsDir, { recursive: true });
    await writeFile(`${netnsDir}/resolv.conf`, `nameserver ${A.vpn.ipv4}\noptions timeout:2 attempts:2\n`);
  });

  after(async () => {
    if (netnsDir !== undefined) await rm(netnsDir, { recursive: true, force: true });
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('status shows the responder on the VPN IPv4, port 53', async () => {
    const s = await a.json<StatusInfo>(['status']);
    assert.deepEqual(s.dns, { state: 'up', address: `${A.vpn.ipv4}:53`, reason: null });
  });

  it('dig @<A’s VPN IPv4> bob.sentinel gives B’s VPN addresses, over UDP and TCP', async () => {
    assert.equal((await dig(a, A.vpn.ipv4, 'bob.sentinel', 'A', '+short')).trim(), B.vpn.ipv4);
    assert.equal((await dig(a, A.vpn.ipv4, 'bob.sentinel', 'AAAA', '+short')).trim(), B.vpn.ipv6);
    assert.equal((await dig(a, A.vpn.ipv4, 'BOB.sentinel', 'A', '+short', '+tcp')).trim(), B.vpn.ipv4);
  });

  it('an unknown name is NXDOMAIN; a name outside .sentinel is REFUSED', async () => {
    assert.match(await dig(a, A.vpn.ipv4, 'nobody.sentinel'), /status: NXDOMAIN/);
    assert.match(await dig(a, A.vpn.ipv4, 'example.com'), /status: REFUSED/);
  });

  it('ping bob.sentinel through the system resolver crosses the tunnel', async () => {
    const r4 = await tryExec(a.host.ns, 'ping', ['-4', '-c', '1', '-W', '3', 'bob.sentinel'], { timeoutMs: 20_000 });
    assert.equal(r4.code, 0, `${r4.stdout}${r4.stderr}\n${tail(a.stderr())}`);
    // iputils prints the resolved address in parentheses (its canonical-name slot may be empty).
    assert.ok(r4.stdout.includes(`(${B.vpn.ipv4})`) && r4.stdout.includes(`from ${B.vpn.ipv4}`), r4.stdout);
    const r6 = await tryExec(a.host.ns, 'ping', ['-6', '-c', '1', '-W', '3', 'bob.sentinel'], { timeoutMs: 20_000 });
    assert.equal(r6.code, 0, `${r6.stdout}${r6.stderr}`);
    assert.ok(r6.stdout.includes(B.vpn.ipv6), r6.stdout);
    const t = (await a.json<StatusInfo>(['status'])).vpn.peers[B.id];
    assert.ok((t?.packetsOut ?? 0) >= 2 && (t?.packetsIn ?? 0) >= 2, JSON.stringify(t));
  });

  it('B names A by the name A announced (A is B’s contact)', async () => {
    assert.equal((await dig(b, B.vpn.ipv4, 'alice.sentinel', '+short')).trim(), A.vpn.ipv4);
  });

  it('a peer asking A’s responder through the tunnel is refused, and counted', async () => {
    const out = await dig(b, A.vpn.ipv4, 'bob.sentinel');
    assert.match(out, /status: REFUSED/);
    const refused = await eventually('the refusal counted on A', async () => {
      const n = (await a.json<StatusInfo>(['status'])).counters['dns.refused.not_local'] ?? 0;
      return n >= 1 ? n : undefined;
    });
    assert.ok(refused >= 1);
  });
});
