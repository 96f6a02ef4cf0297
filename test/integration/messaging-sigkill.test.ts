/**
 * Exactly-once delivery survives a SIGKILL in the middle of a batch (real `sentinel-node`
 * processes on loopback, no root). The sender's user fires hundreds of sends in waves (many
 * control connections, each with all its requests in flight at once, the next wave starting
 * at the previous one's first answer); once part of the batch has been answered and the
 * rest is still in flight, one node is
 * SIGKILLed: the receiver in one case, the sender in the other. It is restarted on the
 * same data dir and port, the sender re-dials, and both drain. Then every message whose
 * `send` was answered (pending or delivered) is in the receiver's history exactly once, and
 * no id or text appears twice in either history.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectControl, controlSocketPath, type ControlClient } from '../../src/control/index.js';
import { errorCode } from '../../src/errors.js';
import { openLmdbStore, type StoredMessage } from '../../src/store/index.js';
import { CycledNode, verify } from '../helpers/kill-cycles.js';
import { binariesBuilt, freePort, useProcs, type Procs } from '../helpers/procs.js';

/** Control connections and requests in flight on each: CONNECTIONS * PER_CONNECTION sends at once. */
const CONNECTIONS = 16;
const PER_CONNECTION = 30;
const BATCH = CONNECTIONS * PER_CONNECTION;
/** The kill comes once this many sends of the batch were answered. */
const KILL_AFTER_ANSWERS = 60;
const DRAIN_TIMEOUT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function storeOf<T>(dataDir: string, read: (s: Awaited<ReturnType<typeof openLmdbStore>>) => T): Promise<T> {
  const store = await openLmdbStore(join(dataDir, 'store'));
  try {
    return read(store);
  } finally {
    await store.close();
  }
}

/** Messages still queued in a node's outbox (read from its store; LMDB allows readers in other processes). */
const outboxSize = (dataDir: string): Promise<number> => storeOf(dataDir, (s) => s.outboxPeers().reduce((n, p) => n + s.outbox(p).length, 0));
const allHistory = (dataDir: string): Promise<StoredMessage[]> => storeOf(dataDir, (s) => s.allHistory());

async function pair(procs: Procs): Promise<{ a: CycledNode; b: CycledNode }> {
  const a = new CycledNode('A', await procs.tempDir('sk-a'), await freePort(), procs);
  const b = new CycledNode('B', await procs.tempDir('sk-b'), await freePort(), procs);
  await Promise.all([a.start(), b.start()]);
  await b.dial(a);
  // Contacts (chosen by the user): no stranger quota or rate applies to the batch.
  await (await a.ready()).client.call('alias', { target: b.id, alias: 'b' });
  await (await b.ready()).client.call('alias', { target: a.id, alias: 'a' });
  return { a, b };
}

interface BatchOutcome {
  acked: Array<{ from: 'A' | 'B'; id: string; text: string }>;
  /** Sends that ended with an error (the sender was killed before it answered). */
  cut: number;
  errors: string[];
  /** Answers when the kill came. */
  answeredAtKill: number;
}

/**
 * B sends BATCH messages to A in waves: one control connection's PER_CONNECTION sends at
 * once (they reach the node in one turn, so they share one batch signature and one outbox
 * commit), the next wave as soon as the first answer of the previous one comes. Once
 * KILL_AFTER_ANSWERS were answered, `victim` is SIGKILLed: the wave issued at the previous
 * wave's first answer is then in the middle of its batch. When the sender is the victim,
 * no wave starts after the kill.
 */
async function batchWithKill(from: CycledNode, to: CycledNode, victim: CycledNode): Promise<BatchOutcome> {
  const clients: ControlClient[] = [];
  for (let i = 0; i < CONNECTIONS; i++) clients.push(await connectControl(controlSocketPath(from.dataDir)));
  const out: BatchOutcome = { acked: [], cut: 0, errors: [], answeredAtKill: -1 };
  let answered = 0;
  let kill: Promise<void> | undefined;
  const sends: Array<Promise<void>> = [];
  const wave = (c: number): void => {
    const client = clients[c];
    if (!client || (kill && victim === from)) return;
    let next = true;
    for (let i = 0; i < PER_CONNECTION; i++) {
      sends.push(
        (async () => {
          const text = `batch ${c}-${i}`;
          try {
            const r = await client.call('send', { target: to.id, text });
            out.acked.push({ from: from.name, id: r.id, text });
          } catch (err) {
            if (victim === from && errorCode(err) === 'E_NOT_RUNNING') out.cut += 1;
            else out.errors.push(`${errorCode(err) ?? 'unknown'}: ${String(err)}`);
          }
          if (next) {
            next = false;
            wave(c + 1);
          }
          answered += 1;
          if (answered === KILL_AFTER_ANSWERS && !kill) {
            out.answeredAtKill = answered;
            kill = victim.kill();
          }
        })(),
      );
    }
  };
  wave(0);
  for (let i = 0; i < sends.length; i++) await sends[i];
  await kill;
  for (const c of clients) c.close();
  return out;
}

async function drained(nodes: CycledNode[]): Promise<number> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    let queued = 0;
    for (const n of nodes) queued += await outboxSize(n.dataDir);
    if (queued === 0 || Date.now() > deadline) return queued;
    await sleep(200);
  }
}

async function checkExactlyOnce(a: CycledNode, b: CycledNode, outcome: BatchOutcome): Promise<{ receiverHas: number }> {
  const stops = await Promise.all([a.stop(), b.stop()]);
  for (const r of stops) assert.equal(r?.code, 0, `a node did not stop cleanly: ${r?.stderr.slice(-2000)}`);
  const histories = { A: await allHistory(a.dataDir), B: await allHistory(b.dataDir) };
  const { lost, duplicates } = verify(outcome.acked, histories);
  assert.deepEqual(duplicates, [], 'no message stored twice');
  assert.deepEqual(lost, [], 'every acknowledged message arrived');
  const receiver = outcome.acked[0]?.from === 'B' ? histories.A : histories.B;
  return { receiverHas: receiver.filter((m) => m.text.startsWith('batch ')).length };
}

test('exactly once: the receiver is SIGKILLed in the middle of a batch', { timeout: 180_000 }, async (t) => {
  assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
  const { a, b } = await pair(useProcs(t));
  const outcome = await batchWithKill(b, a, a);
  assert.deepEqual(outcome.errors, []);
  // The sender was never killed: every send was answered (delivered, or pending once A died).
  assert.equal(outcome.acked.length, BATCH);
  const undeliveredAfterBatch = await outboxSize(b.dataDir).catch(() => -1);
  t.diagnostic(`kill after ${outcome.answeredAtKill} answers; B's outbox held ${undeliveredAfterBatch} after the batch`);
  assert.ok(undeliveredAfterBatch > 0, 'part of the batch was not delivered when the receiver died');
  await a.start();
  await b.dial(a);
  assert.equal(await drained([a, b]), 0, 'everything delivered after the restart');
  const { receiverHas } = await checkExactlyOnce(a, b, outcome);
  assert.equal(receiverHas, BATCH);
});

test('exactly once: the sender is SIGKILLed in the middle of a batch', { timeout: 180_000 }, async (t) => {
  assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
  const { a, b } = await pair(useProcs(t));
  const outcome = await batchWithKill(b, a, b);
  assert.deepEqual(outcome.errors, []);
  t.diagnostic(`kill after ${outcome.answeredAtKill} answers; ${outcome.acked.length} acknowledged, ${outcome.cut} cut by the kill`);
  assert.ok(outcome.cut > 0, 'sends were in flight when the sender died');
  assert.ok(outcome.acked.length >= KILL_AFTER_ANSWERS);
  await b.start();
  await b.dial(a);
  assert.equal(await drained([a, b]), 0, 'everything delivered after the restart');
  const { receiverHas } = await checkExactlyOnce(a, b, outcome);
  // Acknowledged ones all arrived (checked above); cut ones may or may not have been stored.
  assert.ok(receiverHas >= outcome.acked.length && receiverHas <= outcome.acked.length + outcome.cut);
});
