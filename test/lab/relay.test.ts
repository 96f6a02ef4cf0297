/**
 * Relayed sessions with the real binaries in the NAT lab (root only; skipped with the
 * reason otherwise, failed when SENTINEL_LAB=required): two nodes behind symmetric ("hard")
 * NATs, where no hole punch can work, dial each other by id and get a session through the
 * signaler's relay: messages both ways, and VPN traffic (ping) through their TUN devices.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildLab, tryExec, type Lab } from './index.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { labAvailable } from './gate.js';

const labOk = await labAvailable('relayed sessions in the NAT lab');

interface Ids {
  id: string;
  vpn: { ipv4: string; ipv6: string };
}

if (labOk) describe('relay through the signaler (hard x hard)', { timeout: 180_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let signaler: LabSignaler;
  let a: LabNode;
  let b: LabNode;
  let A: Ids;
  let B: Ids;

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig'] },
        { name: 'A', nat: 'hard', hosts: ['a1'] },
        { name: 'B', nat: 'hard', hosts: ['b1'] },
      ],
    });
    sl = new SentinelLab(lab);
    signaler = await sl.startSignaler('sig');
    const tun = ['--tun', '--mtu', '1400'];
    [a, b] = await Promise.all([sl.startNode('a1', { port: 7201, signaler, extraArgs: tun }), sl.startNode('b1', { port: 7202, signaler, extraArgs: tun })]);
    A = await a.json<Ids>(['id']);
    B = await b.json<Ids>(['id']);
    await a.json(['allow', B.id]);
    await b.json(['allow', A.id]);
  });

  after(async () => {
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('dial by id ends on a relayed session through the signaler, and says so', async () => {
    const d = await a.dial(B.id);
    assert.ok(d.ok, `dial: ${d.ok ? '' : d.reason}\n--- A:\n${tail(a.stderr())}\n--- B:\n${tail(b.stderr())}`);
    assert.equal(d.result.method, 'relay');
    assert.equal(d.result.path, 'relay');
    assert.match(d.result.relay ?? '', new RegExp(`^${signaler.id} at `));
    const pa = (await a.peers()).find((p) => p.id === B.id);
    assert.equal(pa?.path, 'relay');
    const pb = (await b.peers()).find((p) => p.id === A.id);
    assert.equal(pb?.path, 'relay');
    assert.equal(pb?.connected, true);
  });

  it('the human-readable dial names the path', async () => {
    const r = await b.client(['dial', A.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`already connected to ${A.id} through relay ${signaler.id} at `), r.stdout);
  });

  it('messages flow both ways through the relay', async () => {
    const sent = await a.json<{ status: string }>(['send', B.id, 'over the relay']);
    assert.equal(sent.status, 'delivered');
    const back = await b.json<{ status: string }>(['send', A.id, 'and back']);
    assert.equal(back.status, 'delivered');
    assert.ok((await a.history(B.id)).some((h) => h.text === 'and back'));
    assert.ok((await b.history(A.id)).some((h) => h.text === 'over the relay'));
  });

  it('VPN traffic crosses the relay: ping of the peer VPN address', async () => {
    const r = await tryExec(a.host.ns, 'ping', ['-c', '3', '-W', '2', B.vpn.ipv4], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, `ping ${B.vpn.ipv4}: ${r.stdout}${r.stderr}\n--- A:\n${tail(a.stderr())}`);
  });

  it('the direct attempts of the upgrader never go through the tunnel itself: the relayed session stays and carries traffic', async () => {
    // The upgrader tries 5 s (+ up to 20%) after the session came up, and again 10 s later;
    // the end that opened the circuit tries (A, unless the session was re-dialed by B).
    const { eventually } = await import('./gate.js');
    const attempts = async (): Promise<number> => {
      const [ca, cb] = [(await a.status()).counters, (await b.status()).counters];
      return (ca['relay.upgrade_attempts'] ?? 0) + (cb['relay.upgrade_attempts'] ?? 0);
    };
    await eventually('an upgrade attempt', async () => ((await attempts()) >= 1 ? true : undefined), 25_000, async () => `--- A:\n${tail(a.stderr())}\n--- B:\n${tail(b.stderr())}`);
    const pa = (await a.peers()).find((p) => p.id === B.id);
    assert.equal(pa?.path, 'relay', `still relayed (no direct path exists), not ${pa?.path} at ${pa?.address}`);
    const [ca, cb] = [(await a.status()).counters, (await b.status()).counters];
    assert.equal((ca['sessions_upgraded_to_direct'] ?? 0) + (cb['sessions_upgraded_to_direct'] ?? 0), 0);
    const r = await tryExec(a.host.ns, 'ping', ['-c', '2', '-W', '2', B.vpn.ipv4], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, `ping after the upgrade attempts: ${r.stdout}${r.stderr}\n--- A:\n${tail(a.stderr())}`);
  });
});
