/**
 * A relay that changes a byte breaks the session; it cannot make a node accept forged data.
 * Real `sentinel-node` binaries in the NAT lab (root only; skipped with the reason
 * otherwise, failed when SENTINEL_LAB=required) behind two symmetric NATs, so their
 * sessions go through the signaler's relay; the signaler is the real SignalerServer with a
 * tampering RELAY_DATA path (tamper-signaler.ts): once armed, it inverts one byte inside
 * one TLS record a chosen node sends. The end-to-end TLS session inside the circuit must
 * notice (a coded E_TLS failure), nothing altered is ever stored, and the nodes go on
 * serving: a redial delivers the genuine message once, and a third node gets a session.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { HistoryEntry, SendResult, StatusInfo } from '../../src/api.js';
import { buildLab, type Lab } from './index.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { eventually, labAvailable } from './gate.js';

const labOk = await labAvailable('a tampering relay in the NAT lab');

/** Compiled tamper-signaler.ts (this file runs from dist/test/lab/). */
const TAMPER_BIN = fileURLToPath(new URL('./tamper-signaler.js', import.meta.url));
/** Only a CHAT this long makes a TLS record this large (keepalives and gossip are far smaller). */
const LONG_TEXT_CHARS = 6_000;
const LONG_RECORD_BYTES = 3_000;

const counter = (s: StatusInfo, name: string): number => s.counters[name] ?? 0;

if (labOk) describe('a relay that tampers with a byte (hard x hard, real binaries)', { timeout: 180_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let sig: LabSignaler & { dataDir: string };
  let a: LabNode;
  let b: LabNode;
  let c: LabNode;
  let flips = 0;

  /** Arms the relay against `node`'s next record of `minBytes` or more; resolves when armed. */
  async function arm(node: LabNode, minBytes: number): Promise<void> {
    const armed = (sig.proc.output().stdout.match(/^tamper: armed /gm) ?? []).length;
    await writeFile(join(sig.dataDir, 'arm'), `${node.id} ${minBytes}\n`);
    process.kill(sig.proc.pid, 'SIGUSR1');
    await eventually('the relay to arm', async () => ((sig.proc.output().stdout.match(/^tamper: armed /gm) ?? []).length > armed ? true : undefined), 5_000);
  }

  /** Resolves once the relay has flipped one more byte (fails if it never does). */
  async function flipped(): Promise<string> {
    const want = ++flips;
    return eventually(
      `flip ${want} by the relay`,
      async () => {
        const lines = sig.proc.output().stdout.match(/^tamper: flipped .*$/gm) ?? [];
        return lines.length >= want ? lines[want - 1] : undefined;
      },
      10_000,
    );
  }

  const logs = (): string => `--- A:\n${tail(a.stderr(), 15)}\n--- B:\n${tail(b.stderr(), 15)}\n--- C:\n${tail(c.stderr(), 15)}\n--- relay:\n${tail(sig.proc.output().stdout, 10)}`;

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig'] },
        { name: 'A', nat: 'hard', hosts: ['a1', 'c1'] },
        { name: 'B', nat: 'hard', hosts: ['b1'] },
      ],
    });
    sl = new SentinelLab(lab);
    sig = await sl.startSignaler('sig', { script: TAMPER_BIN });
    // B takes strangers' messages as messages, so whatever it stores shows in its history.
    [a, b, c] = await Promise.all([
      sl.startNode('a1', { port: 7401, signaler: sig }),
      sl.startNode('b1', { port: 7402, signaler: sig, extraArgs: ['--strangers', 'accept'] }),
      sl.startNode('c1', { port: 7403, signaler: sig }),
    ]);
  });

  after(async () => {
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('one byte changed after the handshake: the session fails with E_TLS, nothing altered is stored, and a redial delivers the genuine message once', async () => {
    const d = await a.dial(b.id);
    assert.ok(d.ok && d.result.path === 'relay', `relayed dial: ${d.ok ? d.result.path : d.reason}\n${logs()}`);
    assert.equal((await a.json<SendResult>(['send', b.id, 'before the tampering'])).status, 'delivered');
    const failedBefore = counter(await b.status(), 'sessions_failed.E_TLS');

    const long = `after the tampering ${'x'.repeat(LONG_TEXT_CHARS)}`;
    await arm(a, LONG_RECORD_BYTES);
    // Whether this says delivered depends on how soon A's redial resends it: not asserted.
    await a.json<SendResult>(['send', b.id, long]);
    const line = await flipped();
    assert.match(line, new RegExp(`from ${a.id} on circuit`));

    // The receiver cannot authenticate the record: its session ends with a coded TLS error.
    await eventually('B to fail the session with E_TLS', async () => (counter(await b.status(), 'sessions_failed.E_TLS') > failedBefore ? true : undefined), 15_000, async () => `${logs()}\nB's full log:\n${b.stderr().split('\n').filter((l) => l.includes(a.id) || /TLS|relay/.test(l)).join('\n')}`);
    assert.match(b.stderr(), new RegExp(`session with ${a.id} down: TLS failed`));

    // The tampering was one-shot: the next relayed session (A's own redial, or this dial)
    // carries the outbox's resend.
    const again = await a.dial(b.id);
    assert.ok(again.ok, `redial: ${again.ok ? '' : again.reason}\n${logs()}`);
    const fromA = (h: HistoryEntry[]): string[] => h.filter((m) => m.from === a.id).map((m) => m.text);
    await eventually('B to store the genuine message', async () => (fromA(await b.history(a.id)).includes(long) ? true : undefined), 20_000, async () => logs());
    assert.deepEqual(fromA(await b.history(a.id)), ['before the tampering', long], 'exactly what A sent, each once, nothing altered');
    await eventually('A to see it delivered', async () => ((await a.history(b.id)).find((m) => m.text === long)?.status === 'delivered' ? true : undefined), 10_000);
  });

  it('one byte changed in the TLS handshake: the dial fails with E_TLS on both ends; the next dial gets a session', async () => {
    const [bBefore, cBefore] = [counter(await b.status(), 'handshakes_failed.E_TLS'), counter(await c.status(), 'handshakes_failed.E_TLS')];
    await arm(c, 0);
    const d = await c.dial(b.id);
    assert.match(await flipped(), new RegExp(`from ${c.id} on circuit`));
    assert.equal(d.ok, false, `the tampered handshake must not give a session\n${logs()}`);
    // The ClientHello is in both sides' transcripts: B derives other keys than C.
    assert.match(d.ok ? '' : d.reason, /relay \S+ at \S+: TLS failed/, 'the dial names the TLS failure through the relay');
    assert.equal(counter(await b.status(), 'handshakes_failed.E_TLS'), bBefore + 1, 'B counted the failed handshake');
    assert.equal(counter(await c.status(), 'handshakes_failed.E_TLS'), cBefore + 1, 'C counted the failed handshake');

    // The tampering was one-shot: the next session (this dial, or C's own redial) is fine.
    const ok = await c.dial(b.id);
    assert.ok(ok.ok && ok.result.path === 'relay', `second dial: ${ok.ok ? ok.result.path : ok.reason}\n${logs()}`);
    assert.equal((await c.json<SendResult>(['send', b.id, 'from C'])).status, 'delivered');
  });

  it('the nodes and the relay stay up: A and B still talk, and no node exited', async () => {
    assert.equal((await b.json<SendResult>(['send', a.id, 'still here'])).status, 'delivered');
    for (const n of [a, b, c]) assert.equal((await n.status()).id, n.id);
    const stored = (await a.history(b.id)).filter((m) => m.text === 'still here');
    assert.equal(stored.length, 1);
  });
});
