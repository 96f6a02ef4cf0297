/**
 * The relay's byte rate is per node: a node over it is delayed, and only that node. Real
 * binaries in the NAT lab (root only; skipped with the reason otherwise, failed when
 * SENTINEL_LAB=required): `sentinel-signaler --relay-rate 32K` and two relayed pairs
 * (hosts behind two symmetric NATs, so no hole punch can work). Pair 1 pushes bulk
 * (60 KiB messages, far over 32 KiB/s) through the relay; while it is throttled, pair 2's
 * messages are delivered one after the other, before pair 1's bulk is through. The
 * signaler reports pair 1's sender as over its rate, and nobody else; pair 1's bulk still
 * arrives, whole and once (delayed, not dropped).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HistoryEntry, SendResult } from '../../src/api.js';
import { connectControl, type ControlClient } from '../../src/control/client.js';
import { buildLab, type Lab } from './index.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { eventually, labAvailable } from './gate.js';

const labOk = await labAvailable('relay rate per node in the NAT lab');

const RATE = '32K';
const BULK_MESSAGES = 10;
/** 10 x 60 KiB at 32 KiB/s (after a 64 KiB burst): about 17 s of throttling. */
const BULK_CHARS = 60 * 1024;
const SMALL_MESSAGES = 10;
/** Generous: pair 2 needs well under a second per message when it is not held back. */
const SMALL_DEADLINE_MS = 20_000;
/** Pair 1's bulk needs about 17 s at the rate; twice that and more. */
const BULK_DEADLINE_MS = 60_000;

/** `relay: <id> is over its rate ...` lines of the signaler's log: the ids, in order. */
function throttledIds(log: string): string[] {
  return [...log.matchAll(/ relay: (\S+) is over its rate /g)].map((m) => m[1] as string);
}

if (labOk) describe('the relay rate holds back one node, not the others (real binaries)', { timeout: 180_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let sig: LabSignaler;
  let a1: LabNode;
  let b1: LabNode;
  let a2: LabNode;
  let b2: LabNode;
  let control: ControlClient | undefined;

  const logs = (): string =>
    [
      `--- signaler:\n${tail(sig.proc.output().stderr, 10)}`,
      ...[a1, b1, a2, b2].map((n) => `--- ${n.host.name}:\n${tail(n.stderr(), 8)}`),
    ].join('\n');

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig'] },
        { name: 'X', nat: 'hard', hosts: ['a1', 'a2'] },
        { name: 'Y', nat: 'hard', hosts: ['b1', 'b2'] },
      ],
    });
    sl = new SentinelLab(lab);
    sig = await sl.startSignaler('sig', { extraArgs: ['--relay-rate', RATE] });
    [a1, b1, a2, b2] = await Promise.all([
      sl.startNode('a1', { port: 7501, signaler: sig, logLevel: 'info' }),
      sl.startNode('b1', { port: 7502, signaler: sig, logLevel: 'info' }),
      sl.startNode('a2', { port: 7503, signaler: sig, logLevel: 'info' }),
      sl.startNode('b2', { port: 7504, signaler: sig, logLevel: 'info' }),
    ]);
  });

  after(async () => {
    control?.close();
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('pair 2 is served while pair 1 is throttled; only pair 1 is reported; pair 1 still gets everything', async () => {
    for (const [x, y] of [[a1, b1], [a2, b2]] as const) {
      const d = await x.dial(y.id);
      assert.ok(d.ok && d.result.path === 'relay', `${x.host.name} -> ${y.host.name} relayed: ${d.ok ? d.result.path : d.reason}\n${logs()}`);
      // A contact's messages are not held to a stranger's quota (the bulk is far over it).
      await y.json(['accept', x.id]);
    }
    assert.deepEqual(throttledIds(sig.proc.output().stderr), [], 'nobody is over the rate yet');

    // Pair 1: all the bulk at once through a1's control socket (each call returns within 3 s).
    const bulk = Array.from({ length: BULK_MESSAGES }, (_, i) => `bulk ${i} ${String.fromCharCode(97 + i).repeat(BULK_CHARS)}`);
    const c = (control = await connectControl(join(a1.dataDir, 'control.sock')));
    const bulkSends = bulk.map((text) => c.call('send', { target: b1.id, text }));
    await eventually('the signaler to report a1 over its rate', async () => (throttledIds(sig.proc.output().stderr).includes(a1.id) ? true : undefined), 15_000, async () => logs());

    // Pair 2, meanwhile: one message after the other, each acknowledged by b2.
    const began = Date.now();
    for (let i = 0; i < SMALL_MESSAGES; i++) {
      const r = await a2.json<SendResult>(['send', b2.id, `small ${i}`]);
      assert.equal(r.status, 'delivered', `small ${i} delivered (${Date.now() - began} ms into pair 2)\n${logs()}`);
      assert.ok(Date.now() - began < SMALL_DEADLINE_MS, `pair 2 within ${SMALL_DEADLINE_MS} ms`);
    }
    const fromA2 = (await b2.history(a2.id)).filter((m) => m.from === a2.id).map((m) => m.text);
    assert.deepEqual(fromA2, Array.from({ length: SMALL_MESSAGES }, (_, i) => `small ${i}`));
    // Pair 2 was served while pair 1 still waited: not merely after the bulk was through.
    const bulkStored = (h: HistoryEntry[]): string[] => h.filter((m) => m.from === a1.id && m.text.startsWith('bulk ')).map((m) => m.text);
    const storedSoFar = bulkStored(await b1.json<HistoryEntry[]>(['history', a1.id, '--limit', '1000'])).length;
    assert.ok(storedSoFar < BULK_MESSAGES, `pair 1's bulk was still held back when pair 2 was done (${storedSoFar}/${BULK_MESSAGES} stored)`);

    // Pair 1 is delayed, not cut: everything arrives, once, intact.
    await Promise.allSettled(bulkSends);
    await eventually(
      "all of pair 1's bulk at b1",
      async () => (bulkStored(await b1.json<HistoryEntry[]>(['history', a1.id, '--limit', '1000'])).length >= BULK_MESSAGES ? true : undefined),
      BULK_DEADLINE_MS,
      async () => logs(),
    );
    assert.deepEqual(bulkStored(await b1.json<HistoryEntry[]>(['history', a1.id, '--limit', '1000'])).sort(), [...bulk].sort());

    // Only a1 was ever reported over its rate.
    const reported = new Set(throttledIds(sig.proc.output().stderr));
    assert.deepEqual([...reported], [a1.id], `throttled nodes in the signaler log\n${logs()}`);
  });
});
