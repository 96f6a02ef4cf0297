/**
 * A full disk, without a disk: the free-space guard with a fake statfs and clock, the
 * rate-limited warning, the classification of failed commits, and what the messenger
 * does when its store refuses writes (no ACK for anything not stored).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/api.js';
import { isSentinelError } from '../../src/errors.js';
import { generateIdentity } from '../../src/identity/index.js';
import { Messenger, type MessageChannel } from '../../src/messaging/index.js';
import { FullNotice } from '../../src/store/full-notice.js';
import { FULL_WARNING_INTERVAL_MS, MemoryStore, STORE_CRITICAL_RESERVE_BYTES, STORE_RESERVE_BYTES, WRITE_OVERHEAD_BYTES, type StoredMessage } from '../../src/store/index.js';
import { FreeSpaceGuard, approxEncodedBytes, approxMessageBytes, fitsReserve } from '../../src/store/space.js';
import { classifyCommitFailure, commitCause } from '../../src/store/write-errors.js';
import { Counters, systemClock } from '../../src/transport/index.js';
import { FrameType, RefuseCode, decodeChatRefused } from '../../src/wire/index.js';

const MiB = 1024 * 1024;

/** A statfs that answers `free` and counts its calls, and a clock moved by hand. */
function fakeDisk(free: number) {
  const disk = { free, calls: 0, time: 1_000_000 };
  const io = {
    freeBytes: async () => {
      disk.calls += 1;
      return disk.free;
    },
    now: () => disk.time,
  };
  return { disk, io };
}

const refusedFull = (e: unknown): boolean => isSentinelError(e, 'E_STORE_FULL');

describe('fitsReserve', () => {
  it('admits exactly up to the reserve', () => {
    assert.equal(fitsReserve(10 * MiB, 0, 8 * MiB, 2 * MiB), true);
    assert.equal(fitsReserve(10 * MiB, 1, 8 * MiB, 2 * MiB), false);
    assert.equal(fitsReserve(10 * MiB, 4 * MiB, 4 * MiB, 2 * MiB), true);
    assert.equal(fitsReserve(Number.POSITIVE_INFINITY, 1e15, 1e15, 2 * MiB), true);
  });
});

describe('FreeSpaceGuard', () => {
  it('refuses a message that would eat into the reserve, and still admits small bookkeeping writes', async () => {
    const { io } = fakeDisk(STORE_RESERVE_BYTES + 100 * 1024);
    const guard = new FreeSpaceGuard(io);
    const small = guard.estimate(200);
    assert.equal(small, 200 + WRITE_OVERHEAD_BYTES);
    (await guard.admit(guard.estimate(50_000), 'message'))();
    await assert.rejects(guard.admit(guard.estimate(50_000), 'message'), (e: Error) => refusedFull(e) && /kept in reserve/.test(e.message));
    assert.equal(guard.state().full, true);
    // Below the message reserve, above the critical one: status marks and peers still go through.
    (await guard.admit(small, 'bookkeeping'))();
  });

  it('never lets a burst overshoot between two samples', async () => {
    const { disk, io } = fakeDisk(STORE_RESERVE_BYTES + 10 * (1000 + WRITE_OVERHEAD_BYTES));
    const guard = new FreeSpaceGuard(io);
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => guard.admit(guard.estimate(1000), 'message')));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10, 'exactly what fits the sample');
    assert.ok(results.filter((r) => r.status === 'rejected').every((r) => refusedFull(r.reason)));
    assert.equal(disk.calls, 1, 'the whole burst shares one statfs (the clock did not move)');
  });

  it('answers concurrent calls in call order while a sample is taken', async () => {
    const { io } = fakeDisk(100 * MiB);
    const guard = new FreeSpaceGuard(io);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 20 }, (_, i) => guard.admit(100, i % 2 ? 'message' : 'bookkeeping').then(() => order.push(i))));
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
  });

  it('samples again when the sample is stale, and while full at most once per resample interval', async () => {
    const { disk, io } = fakeDisk(STORE_RESERVE_BYTES);
    const guard = new FreeSpaceGuard(io);
    const big = guard.estimate(60_000);
    await assert.rejects(guard.admit(big, 'message'), refusedFull);
    const after = disk.calls;
    for (let i = 0; i < 50; i++) await assert.rejects(guard.admit(big, 'message'), refusedFull);
    assert.equal(disk.calls, after, 'a flood of refused writes within the resample interval costs no statfs');

    disk.free = 50 * MiB; // space freed
    disk.time += guard.limits.resampleMinMs - 1;
    await assert.rejects(guard.admit(big, 'message'), refusedFull, 'not seen before the resample interval');
    disk.time += 1;
    (await guard.admit(big, 'message'))();
    assert.equal(guard.state().full, false);
  });

  it('counts writes still in flight against a new sample', async () => {
    const { disk, io } = fakeDisk(STORE_RESERVE_BYTES + 3 * MiB);
    const guard = new FreeSpaceGuard(io, { writeOverheadBytes: 0 });
    const release = await guard.admit(2 * MiB, 'message');
    disk.time += guard.limits.sampleMaxAgeMs; // stale: the next admit samples again, the 2 MiB are not on disk yet
    await assert.rejects(guard.admit(2 * MiB, 'message'), refusedFull);
    release();
    disk.time += guard.limits.sampleMaxAgeMs;
    (await guard.admit(2 * MiB, 'message'))();
  });

  it('after a failed commit counts the disk as full until a new sample', async () => {
    const { disk, io } = fakeDisk(100 * MiB);
    const guard = new FreeSpaceGuard(io);
    (await guard.admit(100, 'message'))();
    guard.markFull();
    assert.deepEqual(guard.state(), { full: true, freeBytes: 0 });
    await assert.rejects(guard.admit(100, 'bookkeeping'), refusedFull);
    disk.time += guard.limits.resampleMinMs;
    (await guard.admit(100, 'bookkeeping'))();
    assert.equal(guard.state().full, false);
  });

  it('clears `full` on a fresh sample with room for the refused message, before any write', async () => {
    const { disk, io } = fakeDisk(STORE_RESERVE_BYTES + 10 * 1024);
    const guard = new FreeSpaceGuard(io);
    await assert.rejects(guard.admit(guard.estimate(60_000), 'message'), refusedFull);
    assert.equal(guard.state().full, true, 'above the reserve, but the refused message does not fit');
    disk.free = 40 * MiB;
    disk.time += guard.limits.sampleMaxAgeMs;
    guard.refreshIfStale();
    await new Promise((r) => setImmediate(r));
    assert.equal(guard.state().full, false);
  });

  it('admits writes when statfs fails (LMDB reports a real full disk itself)', async () => {
    const guard = new FreeSpaceGuard({ freeBytes: () => Promise.reject(new Error('EACCES')), now: () => 0 });
    (await guard.admit(10 * MiB, 'message'))();
    assert.deepEqual(guard.state(), { full: false, freeBytes: null });
  });

  it('keeps bookkeeping writes to the critical reserve', async () => {
    assert.ok(STORE_CRITICAL_RESERVE_BYTES < STORE_RESERVE_BYTES);
    const { io } = fakeDisk(STORE_CRITICAL_RESERVE_BYTES + 2 * WRITE_OVERHEAD_BYTES);
    const guard = new FreeSpaceGuard(io);
    await assert.rejects(guard.admit(guard.estimate(0), 'message'), refusedFull);
    (await guard.admit(guard.estimate(0), 'bookkeeping'))();
    (await guard.admit(guard.estimate(0), 'bookkeeping'))();
    await assert.rejects(guard.admit(guard.estimate(0), 'bookkeeping'), refusedFull, 'the critical reserve itself is never used');
  });
});

describe('FullNotice', () => {
  it('warns at most once per interval, with the number of refusals in between, and says when writes resume', () => {
    const notice = new FullNotice();
    const lines: string[] = [];
    const say = (l: string | null): void => void (l !== null && lines.push(l));
    say(notice.refused(0, '1 KiB free'));
    let quiet = 0;
    for (let t = 1; t < FULL_WARNING_INTERVAL_MS; t += 100, quiet++) say(notice.refused(t, 'x'));
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /^store: disk full, refusing writes until space is freed: 1 KiB free$/);
    say(notice.refused(FULL_WARNING_INTERVAL_MS, '0 B free'));
    assert.equal(lines.length, 2);
    assert.ok(lines[1]?.endsWith(`(${quiet + 1} writes refused since the last warning)`), lines[1]);
    say(notice.admitted());
    assert.match(lines[2] ?? '', /^store: disk space is available again, writes resumed$/);
    say(notice.admitted());
    assert.equal(lines.length, 3, 'resumed is said once');
  });

  it('says at most two lines per interval when writes flap around the threshold', () => {
    const notice = new FullNotice();
    let lines = 0;
    for (let t = 0; t < FULL_WARNING_INTERVAL_MS; t += 10) {
      if (notice.refused(t, 'x') !== null) lines += 1;
      if (notice.admitted() !== null) lines += 1;
    }
    assert.equal(lines, 2);
  });
});

describe('failed commits', () => {
  const errno = (code: string | number, message = 'x'): Error => Object.assign(new Error(message), { code });

  it('classifies no-space codes as full, EIO as full only when the disk is nearly full', () => {
    assert.equal(classifyCommitFailure(errno('ENOSPC'), 50 * MiB, MiB), 'full');
    assert.equal(classifyCommitFailure(errno(28), 50 * MiB, MiB), 'full');
    assert.equal(classifyCommitFailure(errno(-30792, 'MDB_MAP_FULL: Environment mapsize limit reached'), 50 * MiB, MiB), 'full');
    assert.equal(classifyCommitFailure(errno(5, 'Input/output error'), 4096, MiB), 'full');
    assert.equal(classifyCommitFailure(errno(5, 'Input/output error'), 50 * MiB, MiB), 'failed');
    assert.equal(classifyCommitFailure(errno('EACCES'), 0, MiB), 'failed');
    assert.equal(classifyCommitFailure(new Error('Database is closed'), 0, MiB), 'failed');
  });

  it("unwraps and handles lmdb-js's commitError promise", async () => {
    const cause = errno(5, 'Input/output error');
    let rejectInner: (e: unknown) => void = () => {};
    const inner = new Promise((_, reject) => (rejectInner = reject));
    const outer = Object.assign(new Error('Commit failed (see commitError for details)'), { commitError: inner });
    const got = commitCause(outer);
    rejectInner(cause); // rejected after the caller looked: still handled, no unhandled rejection
    assert.equal(await got, cause);
    const plain = new Error('plain');
    assert.equal(await commitCause(plain), plain);
  });
});

describe('approxEncodedBytes', () => {
  it('grows with the payload and never throws on odd values', () => {
    const small = approxEncodedBytes({ text: 'a' });
    const big = approxEncodedBytes({ text: 'a'.repeat(60_000), sig: new Uint8Array(64) });
    assert.ok(big >= 60_064 && big > small);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.ok(approxEncodedBytes(cyclic) > 0);
  });

  it('approxMessageBytes gives the same estimate for a message row, field by field', () => {
    const base = { id: 'ab'.repeat(16), from: 'f'.repeat(56), to: 't'.repeat(56), timestamp: 1_700_000_000_000, signature: new Uint8Array(64) };
    const rows: StoredMessage[] = [
      { ...base, text: 'hi', status: 'pending' },
      { ...base, text: 'h\u00e9llo \u{1F600}', status: 'received', proof: new Uint8Array(3 + 32 * 10) },
      { ...base, text: 'x'.repeat(65_536), status: 'request' },
    ];
    for (const row of rows) assert.equal(approxMessageBytes(row), approxEncodedBytes(row), row.status);
  });
});

describe('MemoryStore.failWrites', () => {
  it('rejects every write with the code, changes nothing, keeps reads, and counts', async () => {
    const store = new MemoryStore();
    const peer = 'p'.repeat(56);
    await store.putMeta('k', 1);
    store.failWrites('E_STORE_FULL');
    const m = { id: 'f'.repeat(32), from: peer, to: peer, timestamp: 1, text: 't', signature: new Uint8Array(64), status: 'received' as const };
    await assert.rejects(store.addMessage(peer, m), refusedFull);
    await assert.rejects(store.putMeta('k', 2), refusedFull);
    assert.equal(store.hasMessage(m.id), false);
    assert.equal(store.getMeta('k'), 1);
    assert.deepEqual(store.health(), { full: true, freeBytes: null, reserveBytes: STORE_RESERVE_BYTES, counters: { 'store.full_refusals': 2, 'store.write_failures': 0 } });
    store.failWrites(null);
    assert.equal(await store.addMessage(peer, m), true);
    assert.equal(store.health().full, false);
  });
});

describe('Messenger on a full store', () => {
  class FakeChannel implements MessageChannel {
    sent: Array<{ type: number; payload: Buffer }> = [];
    writableLength = 0;
    constructor(readonly peerId: NodeId) {}
    onDrain(): void {}
    send(type: number, payload: Uint8Array): boolean {
      this.sent.push({ type, payload: Buffer.from(payload) });
      return true;
    }
    of(type: number): Buffer[] {
      return this.sent.filter((f) => f.type === type).map((f) => f.payload);
    }
  }
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('a sender with a full store answers E_STORE_FULL and sends nothing; a full receiver does not acknowledge (it refuses for now)', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const toB = new FakeChannel(b.id);
    const toA = new FakeChannel(a.id);
    const storeA = new MemoryStore();
    const storeB = new MemoryStore();
    const counters = new Counters();
    const A = new Messenger({ identity: a, store: storeA, clock: systemClock, counters: new Counters(), channelFor: () => toB, emit: () => {} });
    const B = new Messenger({ identity: b, store: storeB, clock: systemClock, counters, channelFor: () => toA, emit: () => {} });
    A.onSessionUp(toB);
    B.onSessionUp(toA);

    storeA.failWrites('E_STORE_FULL');
    await assert.rejects(A.send(b.id, 'not stored'), refusedFull);
    assert.equal(toB.of(FrameType.CHAT).length, 0, 'nothing unstored goes on the wire');
    storeA.failWrites(null);

    const sent = await A.send(b.id, 'hello');
    const [chat] = toB.of(FrameType.CHAT);
    assert.ok(chat);
    storeB.failWrites('E_STORE_FULL');
    B.onChat(toA, chat);
    await tick();
    await tick();
    assert.equal(toA.of(FrameType.ACK).length, 0, 'no ACK for a message that is not on disk');
    assert.equal(counters.get('chat_refused.store_full'), 1);
    const [refusal] = toA.of(FrameType.CHAT_REFUSED);
    assert.equal(decodeChatRefused(refusal as Buffer).code, RefuseCode.STORE_FULL, 'a temporary refusal: the sender keeps it');
    A.onRefused(toB, refusal as Buffer);
    await tick();
    assert.equal(storeA.getMessage(sent.id)?.status, 'pending');
    assert.deepEqual(storeA.outbox(b.id).map((m) => m.id), [sent.id], 'still queued for redelivery');

    // Space returns; the next session's outbox flush delivers it.
    storeB.failWrites(null);
    A.onSessionDown(b.id);
    A.onSessionUp(toB);
    const again = toB.of(FrameType.CHAT).at(-1);
    assert.ok(again);
    B.onChat(toA, again);
    await tick();
    await tick();
    assert.equal(toA.of(FrameType.ACK).length, 1);
    assert.equal(storeB.history(a.id).length, 1);
  });
});
