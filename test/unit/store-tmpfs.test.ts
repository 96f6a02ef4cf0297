/**
 * The LMDB store on a real, tiny filesystem (a 16 MiB tmpfs, the size the outside
 * review filled): it never crashes or hangs when the disk fills, refuses writes with
 * E_STORE_FULL, keeps reading, and writes again once space returns, without a restart.
 * Needs root (mount); skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { FREE_SPACE_RESAMPLE_MIN_MS, FREE_SPACE_SAMPLE_MAX_AGE_MS, STORE_CRITICAL_RESERVE_BYTES, STORE_RESERVE_BYTES, openLmdbStore, type StoredMessage } from '../../src/store/index.js';
import { mountTmpfs, tmpfsRequired, tmpfsUnavailable } from '../helpers/tmpfs.js';

const MiB = 1024 * 1024;
const ME = 'a'.repeat(56);
const PEER = 'b'.repeat(56);
/** About the largest message text (MAX_TEXT_BYTES is 64 KiB). */
const BIG_TEXT = 'x'.repeat(60_000);

let counter = 0;
function message(text = BIG_TEXT): StoredMessage {
  counter += 1;
  return { id: counter.toString(16).padStart(32, '0'), from: PEER, to: ME, timestamp: counter, text, signature: new Uint8Array(64).fill(counter % 256), status: 'received' };
}

/** A clock moved by hand, so "after the resample interval" is exact. */
function manualClock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function captureLog() {
  const lines: Array<{ level: 'warn' | 'info'; line: string }> = [];
  return { lines, log: { warn: (line: string) => void lines.push({ level: 'warn', line }), info: (line: string) => void lines.push({ level: 'info', line }) } };
}

/** Records unhandled rejections while `fn` runs (a failed LMDB commit used to leave two). */
async function noUnhandledRejections(fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', onRejection);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  assert.deepEqual(seen.map(String), [], 'no unhandled rejection');
}

const reason = await tmpfsUnavailable();

describe('LmdbStore on a full disk (16 MiB tmpfs)', { skip: reason !== null && !tmpfsRequired() ? reason : false }, () => {
  it('can run here', () => assert.equal(reason, null, `SENTINEL_LAB=required: ${reason ?? ''}`));

  it('fills up: writes reject E_STORE_FULL, reads work, bookkeeping goes on; freed space is used without a restart', async (t) => {
    const fs = await mountTmpfs(16 * MiB);
    t.after(() => fs.cleanup());
    const clock = manualClock();
    const { lines, log } = captureLog();
    const path = join(fs.dir, 'store');
    // A file that "something else" wrote, freed later.
    const ballast = await fs.fill('ballast', 12 * MiB);
    let store = await openLmdbStore(path, { log, now: clock.now });
    const stored: StoredMessage[] = [];
    let refusal: unknown;
    await noUnhandledRejections(async () => {
      for (let i = 0; i < 400 && refusal === undefined; i++) {
        clock.advance(FREE_SPACE_SAMPLE_MAX_AGE_MS); // time passes: each batch sees a fresh statfs
        const batch = [message(), message(), message(), message()];
        const results = await Promise.allSettled(batch.map((m) => store.addMessage(PEER, m)));
        results.forEach((r, j) => {
          if (r.status === 'fulfilled') stored.push(batch[j] as StoredMessage);
          else refusal ??= r.reason;
        });
      }
    });
    assert.ok(isSentinelError(refusal, 'E_STORE_FULL'), `refused with E_STORE_FULL, got ${String(refusal)}`);
    assert.ok(stored.length > 100, `stored ${stored.length} messages before it filled`);
    const free = await fs.free();
    // A batch of 4 is admitted against one sample: at most 4 estimates above the reserve.
    assert.ok(free >= STORE_RESERVE_BYTES - 4 * 70_000 && free < STORE_RESERVE_BYTES + 5 * 70_000, `the reserve was the limit (free ${free})`);
    assert.ok(free >= STORE_CRITICAL_RESERVE_BYTES, 'the critical reserve is intact');

    // Reads work, and every write that resolved is there.
    assert.equal(store.allHistory().length, stored.length);
    assert.equal(store.getMessage(stored[0]?.id ?? '')?.text, BIG_TEXT);
    // Refused writes changed nothing; bookkeeping still goes through.
    await assert.rejects(store.addMessage(PEER, message()), (e) => isSentinelError(e, 'E_STORE_FULL'));
    assert.equal(store.allHistory().length, stored.length);
    assert.equal(await store.setStatus(stored[0]?.id ?? '', 'delivered'), true);
    await store.putPeer({ id: PEER, alias: null, name: 'peer', addresses: [], lastSeen: 1 });

    const health = store.health();
    assert.equal(health.full, true);
    assert.ok(health.counters['store.full_refusals'] >= 2);
    assert.equal(health.counters['store.write_failures'], 0);
    const warnings = lines.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1, `one warning however many refusals: ${JSON.stringify(lines)}`);
    assert.match(warnings[0]?.line ?? '', /^store: disk full, refusing writes until space is freed: .* free in .*, 2\.0 MiB kept in reserve$/);

    // Space returns: once the resample interval has passed, writes work again, same process.
    await rm(ballast);
    clock.advance(FREE_SPACE_RESAMPLE_MIN_MS);
    const later = message();
    assert.equal(await store.addMessage(PEER, later), true);
    assert.equal(store.health().full, false);
    assert.ok(lines.some((l) => l.level === 'info' && /writes resumed/.test(l.line)));

    // And it was all durable: reopen and compare.
    await store.close();
    store = await openLmdbStore(path);
    try {
      assert.deepEqual(store.allHistory().map((m) => m.id), [...stored, later].map((m) => m.id));
      assert.equal(store.getMessage(stored[0]?.id ?? '')?.status, 'delivered');
    } finally {
      await store.close();
    }
  });

  it('a commit that fails because something else filled the disk since the check: E_STORE_FULL, no crash, no hang', async (t) => {
    const fs = await mountTmpfs(16 * MiB);
    t.after(() => fs.cleanup());
    const clock = manualClock();
    const path = join(fs.dir, 'store');
    // The sample taken by the first write stays trusted (the clock does not move).
    let store = await openLmdbStore(path, { now: clock.now });
    const first = message();
    assert.equal(await store.addMessage(PEER, first), true);
    // Now the disk fills behind the store's back.
    const filler = await fs.fill('filler', 0);
    const results: PromiseSettledResult<boolean>[] = [];
    await noUnhandledRejections(async () => {
      for (let i = 0; i < 5; i++) results.push(...(await Promise.allSettled([store.addMessage(PEER, message()), store.addMessage(PEER, message())])));
    });
    const reasons = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
    assert.ok(reasons.length > 0, 'the disk is full: some commits fail');
    assert.ok(reasons.every((e) => isSentinelError(e, 'E_STORE_FULL')), `all E_STORE_FULL: ${reasons.map(String).join('; ')}`);
    assert.ok(reasons.some((e) => /could not grow/.test(e.message)), 'at least one came from the failed commit itself');
    assert.equal(store.health().full, true);
    assert.equal(store.getMessage(first.id)?.text, BIG_TEXT, 'reads work');
    const kept = store.allHistory().length;
    assert.equal(kept, 1 + results.filter((r) => r.status === 'fulfilled').length, 'failed commits wrote nothing');

    await rm(filler);
    clock.advance(FREE_SPACE_RESAMPLE_MIN_MS);
    assert.equal(await store.addMessage(PEER, message()), true, 'writes work again once space returns');
    await store.close(); // does not hang after a failed commit
    store = await openLmdbStore(path);
    try {
      assert.equal(store.allHistory().length, kept + 1);
    } finally {
      await store.close();
    }
  });

  it('a data file on a full disk still opens and reads', async (t) => {
    const fs = await mountTmpfs(16 * MiB);
    t.after(() => fs.cleanup());
    const path = join(fs.dir, 'store');
    let store = await openLmdbStore(path);
    const m = message('survives');
    await store.addMessage(PEER, m);
    await store.close();
    await fs.fill('filler', 0);
    store = await openLmdbStore(path);
    try {
      assert.equal(store.getMessage(m.id)?.text, 'survives');
      await assert.rejects(store.addMessage(PEER, message()), (e) => isSentinelError(e, 'E_STORE_FULL'));
    } finally {
      await store.close();
    }
  });
});
