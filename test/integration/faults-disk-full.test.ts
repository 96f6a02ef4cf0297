/**
 * A full disk with real binaries: receiver R keeps its whole data dir on a 16 MiB tmpfs,
 * which something else fills. R must not crash or hang: a message to it is not
 * acknowledged (the sender keeps it pending), a send on R answers E_STORE_FULL in one
 * line, `status` shows the condition, the warning is logged once. When space returns,
 * R (never restarted) stores the pending message on redelivery and works again.
 * Needs root (mount); skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DialResult, HistoryEntry, SendResult, StatusInfo } from '../../src/api.js';
import { ERROR_CODES } from '../../src/errors.js';
import { STORE_RESERVE_BYTES } from '../../src/store/index.js';
import { Procs, binariesBuilt, clientJson, freePort, messageLines, runClient, stackLines, waitUntil } from '../helpers/procs.js';
import { mountTmpfs, tmpfsRequired, tmpfsUnavailable } from '../helpers/tmpfs.js';

const MiB = 1024 * 1024;
const reason = await tmpfsUnavailable();

test('a node whose disk fills keeps serving, acknowledges nothing it cannot store, and recovers', { skip: reason !== null && !tmpfsRequired() ? reason : false }, async (t) => {
  assert.equal(reason, null, `SENTINEL_LAB=required: ${reason ?? ''}`);
  assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
  const fs = await mountTmpfs(16 * MiB);
  const procs = new Procs();
  t.after(async () => {
    await procs.cleanup();
    await fs.cleanup();
  });
  const r = await procs.startNode({ dataDir: join(fs.dir, 'r') });
  const senderDir = await procs.tempDir('s');
  const senderPort = await freePort();
  let s = await procs.startNode({ dataDir: senderDir, port: senderPort });
  const dial = await clientJson<DialResult>(s.dataDir, ['dial', `127.0.0.1:${r.port}`]);
  assert.equal(dial.id, r.id);
  // S is R's contact (a stranger's messages would be held to quotas, another subject).
  await clientJson(r.dataDir, ['alias', s.id, 'sender']);
  const before = await clientJson<SendResult>(s.dataDir, ['send', r.id, 'before the disk filled']);
  assert.equal(before.status, 'delivered');

  // Something else fills R's disk, leaving less than the store's reserve.
  const filler = await fs.fill('filler', MiB);
  assert.ok((await fs.free()) < STORE_RESERVE_BYTES);
  // R trusts a free-space sample for up to FREE_SPACE_SAMPLE_MAX_AGE_MS; status takes a fresh one.
  await waitUntil(async () => (await clientJson<StatusInfo>(r.dataDir, ['status'])).store?.full === true, { what: 'R to notice its disk is full' });

  const pending = await clientJson<SendResult>(s.dataDir, ['send', r.id, 'while the disk is full']);
  assert.equal(pending.status, 'pending', 'R could not store it, so it did not acknowledge it');
  const onS = await clientJson<HistoryEntry[]>(s.dataDir, ['history', r.id]);
  assert.equal(onS.find((m) => m.id === pending.id)?.status, 'pending');
  const onR = await clientJson<HistoryEntry[]>(r.dataDir, ['history']);
  assert.deepEqual(onR.map((m) => m.id), [before.id], 'nothing unacknowledged was stored either');

  // A send on the full node: one line, the E_STORE_FULL message, exit 1, no stack.
  const refused = await runClient(r.dataDir, ['send', s.id, 'from the full node']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.deepEqual(stackLines(refused.stderr + refused.stdout), []);
  const lines = messageLines(refused.stderr);
  assert.equal(lines.length, 1, refused.stderr);
  assert.ok(lines[0]?.startsWith(`sentinel: ${ERROR_CODES.E_STORE_FULL}`), lines[0]);

  // R says so in status, keeps serving, and logged one warning however many refusals.
  const status = await clientJson<StatusInfo>(r.dataDir, ['status']);
  assert.equal(status.store?.full, true);
  assert.ok((status.store?.freeBytes ?? Infinity) < STORE_RESERVE_BYTES);
  assert.ok((status.counters['store.full_refusals'] ?? 0) >= 2, JSON.stringify(status.counters));
  // R answered CHAT_REFUSED STORE_FULL (for now): S keeps the message and retries later.
  assert.ok((status.counters['chat_refused.store_full'] ?? 0) >= 1, JSON.stringify(status.counters));
  assert.equal(status.peers, 1, 'the session with S is still up');
  assert.ok(r.running());
  const warnings = r.stderr().split('\n').filter((l) => / WARN  store: disk full/.test(l));
  assert.equal(warnings.length, 1, r.stderr());

  // Space returns. R is not restarted; S reconnects, which redelivers its outbox.
  await rm(filler);
  await waitUntil(async () => (await clientJson<StatusInfo>(r.dataDir, ['status'])).store?.full === false, { what: 'R to see free space again' });
  assert.equal((await s.stop()).code, 0);
  s = await procs.startNode({ dataDir: senderDir, port: senderPort });
  await clientJson<DialResult>(s.dataDir, ['dial', `127.0.0.1:${r.port}`]);
  await waitUntil(
    async () => (await clientJson<HistoryEntry[]>(s.dataDir, ['history', r.id])).find((m) => m.id === pending.id)?.status === 'delivered',
    { what: 'the pending message to be delivered after space returned' },
  );
  const after = await clientJson<HistoryEntry[]>(r.dataDir, ['history', s.id]);
  assert.deepEqual(after.map((m) => m.id), [before.id, pending.id], 'stored exactly once');
  const back = await clientJson<SendResult>(r.dataDir, ['send', s.id, 'space is back']);
  assert.equal(back.status, 'delivered');
  assert.ok(r.running());
  assert.match(r.stderr(), /store: disk space is available again, writes resumed/);
});
