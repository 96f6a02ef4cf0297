/**
 * A peer relay with the real binaries in the NAT lab (root only; skipped with the reason
 * otherwise, failed when SENTINEL_LAB=required): two nodes behind symmetric ("hard") NATs,
 * where no hole punch can work, and whose signaler does not relay (`--no-relay`), reach
 * each other through a third node on a public address started with `sentinel-node --relay`
 * that both chose (a contact each way): messages both ways and a VPN ping.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildLab, tryExec, type Lab } from './index.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { labAvailable, sleep } from './gate.js';

const labOk = await labAvailable('a peer relay in the NAT lab');

interface Ids {
  id: string;
  vpn: { ipv4: string; ipv6: string };
}

if (labOk) describe('peer relay (hard x hard, the signaler does not relay)', { timeout: 180_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let signaler: LabSignaler;
  let r: LabNode;
  let a: LabNode;
  let b: LabNode;
  let A: Ids;
  let B: Ids;

  const logs = (): string => `\n--- A:\n${tail(a.stderr())}\n--- B:\n${tail(b.stderr())}\n--- relay:\n${tail(r.stderr())}`;

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig', 'rel'] },
        { name: 'A', nat: 'hard', hosts: ['a1'] },
        { name: 'B', nat: 'hard', hosts: ['b1'] },
      ],
    });
    sl = new SentinelLab(lab);
    signaler = await sl.startSignaler('sig', { extraArgs: ['--no-relay'] });
    const tun = ['--tun', '--mtu', '1400'];
    [r, a, b] = await Promise.all([
      sl.startNode('rel', { port: 7300, signaler, extraArgs: ['--relay'] }),
      sl.startNode('a1', { port: 7301, signaler, extraArgs: tun }),
      sl.startNode('b1', { port: 7302, signaler, extraArgs: tun }),
    ]);
    A = await a.json<Ids>(['id']);
    B = await b.json<Ids>(['id']);
    await a.json(['allow', B.id]);
    await b.json(['allow', A.id]);
    // The relay serves its contacts (the default --relay=contacts): it accepts A and B.
    await r.json(['accept', A.id]);
    await r.json(['accept', B.id]);
  });

  after(async () => {
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('the relay on a public address is advertised, and both nodes bind with it after dialing it', async () => {
    const offering = (await r.status()).relay?.offering;
    assert.equal(offering?.advertised, true, `advertised: ${offering?.reason}`);
    for (const n of [a, b]) {
      const d = await n.dial(`${r.host.ip}:7300`);
      assert.ok(d.ok, `dial the relay: ${d.ok ? '' : d.reason}${logs()}`);
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [sa, sb] = await Promise.all([a.status(), b.status()]);
      const bound = [sa, sb].every((s) => s.relay?.peers.some((p) => p.id === r.id && p.bound !== null));
      if (bound) break;
      if (Date.now() > deadline) assert.fail(`not bound with the relay: ${JSON.stringify([sa.relay, sb.relay])}${logs()}`);
      await sleep(200);
    }
    assert.equal((await r.status()).relay?.offering?.bound, 2);
  });

  it('dial by id ends on a session through the peer relay, and says so', async () => {
    const d = await a.dial(B.id);
    assert.ok(d.ok, `dial: ${d.ok ? '' : d.reason}${logs()}`);
    assert.equal(d.result.path, 'relay');
    assert.match(d.result.relay ?? '', new RegExp(`^${r.id} at ${r.host.ip.replace(/\./g, '\\.')}:7300$`));
    const pb = (await b.peers()).find((p) => p.id === A.id);
    assert.equal(pb?.path, 'relay');
    assert.match(pb?.relay ?? '', new RegExp(`^${r.id} at `));
    const human = await b.client(['peers']);
    assert.match(human.stdout, new RegExp(`relay ${r.id.slice(0, 8)}`), human.stdout);
  });

  it('messages flow both ways through the peer relay', async () => {
    const sent = await a.json<{ status: string }>(['send', B.id, 'over a peer relay']);
    assert.equal(sent.status, 'delivered');
    const back = await b.json<{ status: string }>(['send', A.id, 'and back']);
    assert.equal(back.status, 'delivered');
    assert.ok((await a.history(B.id)).some((h) => h.text === 'and back'));
    assert.ok((await b.history(A.id)).some((h) => h.text === 'over a peer relay'));
  });

  it('VPN traffic crosses the peer relay: ping of the peer VPN address', async () => {
    const res = await tryExec(a.host.ns, 'ping', ['-c', '3', '-W', '2', B.vpn.ipv4], { timeoutMs: 15_000 });
    assert.equal(res.code, 0, `ping ${B.vpn.ipv4}: ${res.stdout}${res.stderr}${logs()}`);
    const offering = (await r.status()).relay?.offering;
    assert.equal(offering?.circuits, 1);
    assert.ok((offering?.bytes ?? 0) > 0);
  });
});
