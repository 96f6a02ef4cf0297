/**
 * From the relay to a direct path once one opens, with the real binaries in the NAT lab
 * (root only; skipped with the reason otherwise, failed when SENTINEL_LAB=required).
 *
 * Two nodes behind easy (port-preserving) NATs could punch, but the path between the two
 * sites is cut: each router silently drops everything to and from the other router's
 * public address (cutLink: an nft drop in the input, output and forward hooks at priority
 * -10, so before any NAT and before the home-router rules). The dial by id therefore ends
 * on a relayed session after the punch times out. The cut is then healed, before the
 * upgrader's first attempt (5 s after the relayed session came up): that attempt punches
 * through, the direct session replaces the relayed one on both ends, and 300 messages
 * sent across the switch arrive exactly once.
 *
 * Why a drop and where: a dropped SYN leaves nothing behind (its conntrack entry is never
 * confirmed, so no NAT mapping or stale state survives the heal), and the next attempt
 * after the heal succeeds. A `reject with tcp reset` rule instead makes every attempt fail
 * at once with ECONNREFUSED for as long as it is loaded (seen while investigating); the
 * heal must remove whatever blocks, and must come before the attempt that should succeed,
 * since the upgrader then backs off (10 s, 20 s, ... up to 5 min).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HistoryEntry, SendResult, StatusInfo } from '../../src/api.js';
import { connectControl, type ControlClient } from '../../src/control/client.js';
import { buildLab, cutLink, healLink, type Lab } from './index.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { eventually, labAvailable, sleep } from './gate.js';

const labOk = await labAvailable('relay to direct upgrade in the NAT lab');

const MESSAGES = 300;
/** 10 messages every 300 ms: about 9 s of sending, with the switch 4-6 s in. */
const BATCH = 10;
const BATCH_EVERY_MS = 300;

const counter = (s: StatusInfo, name: string): number => s.counters[name] ?? 0;

if (labOk) describe('relay to direct once a blocked direct path opens (easy x easy, real binaries)', { timeout: 180_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let sig: LabSignaler;
  let a: LabNode;
  let b: LabNode;
  let control: ControlClient | undefined;
  let cut: { ns: string; peer: string }[] = [];

  const logs = (): string => `--- A:\n${tail(a.stderr(), 25)}\n--- B:\n${tail(b.stderr(), 15)}`;

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig'] },
        { name: 'A', nat: 'easy', hosts: ['a1'] },
        { name: 'B', nat: 'easy', hosts: ['b1'] },
      ],
    });
    sl = new SentinelLab(lab);
    sig = await sl.startSignaler('sig');
    [a, b] = await Promise.all([sl.startNode('a1', { port: 7601, signaler: sig }), sl.startNode('b1', { port: 7602, signaler: sig })]);
    const [ra, rb] = [lab.router('A'), lab.router('B')];
    cut = [
      { ns: ra.ns, peer: rb.wanIp },
      { ns: rb.ns, peer: ra.wanIp },
    ];
  });

  after(async () => {
    control?.close();
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('a relayed session moves to the direct path after the heal; 300 messages sent across the switch arrive exactly once', async (t) => {
    for (const c of cut) await cutLink(c.ns, c.peer);
    const d = await a.dial(b.id);
    assert.ok(d.ok, `dial: ${d.ok ? '' : d.reason}\n${logs()}`);
    assert.equal(d.result.path, 'relay', 'with the direct path cut, the dial ends on the relay');
    for (const c of cut) await healLink(c.ns, c.peer);
    assert.equal(counter(await a.status(), 'relay.upgrade_attempts'), 0, 'healed before the first upgrade attempt (else it would back off)');
    await b.json(['accept', a.id]);

    // Send across the switch, watching the path as we go.
    const texts = Array.from({ length: MESSAGES }, (_, i) => `across the switch ${i}`);
    const c = (control = await connectControl(join(a.dataDir, 'control.sock')));
    const sends: Promise<SendResult>[] = [];
    let sentAtSwitch: number | undefined;
    while (sends.length < MESSAGES) {
      for (const text of texts.slice(sends.length, sends.length + BATCH)) sends.push(c.call('send', { target: b.id, text }));
      if (sentAtSwitch === undefined && (await a.peers()).find((p) => p.id === b.id)?.path === 'direct') sentAtSwitch = sends.length;
      await sleep(BATCH_EVERY_MS);
    }
    await eventually('A to list B on a direct path', async () => ((await a.peers()).find((p) => p.id === b.id)?.path === 'direct' ? true : undefined), 20_000, async () => logs());
    assert.ok(sentAtSwitch !== undefined && sentAtSwitch > BATCH && sentAtSwitch < MESSAGES, `the switch came while sending (after ${String(sentAtSwitch)} of ${MESSAGES} were handed over)\n${logs()}`);
    t.diagnostic(`the path was direct after ${String(sentAtSwitch)} of ${MESSAGES} messages had been handed to A`);
    await Promise.all(sends);

    // Exactly once at B, and every one acknowledged at A.
    const fromA = async (): Promise<string[]> => (await b.json<HistoryEntry[]>(['history', a.id, '--limit', '1000'])).filter((m) => m.from === a.id).map((m) => m.text);
    await eventually(`B to store all ${MESSAGES}`, async () => ((await fromA()).length >= MESSAGES ? true : undefined), 30_000, async () => logs());
    const stored = await fromA();
    assert.equal(stored.length, MESSAGES, 'each message stored once');
    assert.deepEqual(new Set(stored), new Set(texts));
    await eventually(
      'A to see every message delivered',
      async () => ((await a.json<HistoryEntry[]>(['history', b.id, '--limit', '1000'])).filter((m) => m.status === 'delivered').length === MESSAGES ? true : undefined),
      30_000,
    );

    const [sa, sb] = [await a.status(), await b.status()];
    assert.equal(counter(sa, 'relay.upgraded'), 1, 'the upgrader moved the peer once');
    // Each end closes its relayed session itself unless the peer's GOAWAY got there first.
    const replaced = [counter(sa, 'sessions_upgraded_to_direct'), counter(sb, 'sessions_upgraded_to_direct')];
    assert.ok(replaced.every((n) => n <= 1) && replaced.some((n) => n === 1), `one relayed session, replaced by the direct one (A, B: ${replaced.join(', ')})`);
    const pb = (await b.peers()).find((p) => p.id === a.id);
    assert.equal(pb?.path, 'direct', 'B agrees: its relayed session was closed');
    const pa = (await a.peers()).find((p) => p.id === b.id);
    assert.equal(pa?.method, 'tcp-simultaneous-open', 'the direct session was punched');
  });
});
