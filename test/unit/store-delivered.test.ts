/**
 * `Store.markDelivered` (one write per ACK frame, no message row rewritten) and the status
 * a row reads afterwards, on both stores; on LMDB also the layout it leaves on disk (the
 * row still says `pending`; the outbox entry is gone, a `delivered` mark is there), that it
 * survives a reopen, and that a data dir of the older layout reads unchanged.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MemoryStore, openLmdbStore, type Store, type StoredMessage } from '../../src/store/index.js';
import { openLmdbHandles } from '../../src/store/lmdb-open.js';

const ME = 'a'.repeat(56);
const ALICE = 'b'.repeat(56);

let counter = 0;

/** A message of ours to ALICE (pending) unless `over` says otherwise. */
function mine(text: string, over: Partial<StoredMessage> = {}): StoredMessage {
  counter += 1;
  return {
    id: (0xd000 + counter).toString(16).padStart(32, '0'),
    from: ME,
    to: ALICE,
    timestamp: 1_700_000_000_000 + counter,
    text,
    signature: new Uint8Array(64).fill(counter % 256),
    status: 'pending',
    ...over,
  };
}

const statuses = (ms: StoredMessage[]): string[] => ms.map((m) => `${m.text}:${m.status}`);

function contract(name: string, open: () => Promise<{ store: Store; cleanup(): Promise<void> }>): void {
  describe(`markDelivered: ${name}`, () => {
    let s: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store: s, cleanup } = await open());
    });
    afterEach(async () => cleanup());

    it('takes the queued ids out of the outbox in one call; they read delivered everywhere', async () => {
      const [m1, m2, m3] = [mine('one'), mine('two'), mine('three')];
      for (const m of [m1, m2, m3]) await s.addMessage(ALICE, m, { outbox: true });
      assert.equal(await s.markDelivered([m1.id, m3.id]), 2);
      assert.deepEqual(statuses(s.outbox(ALICE)), ['two:pending']);
      assert.deepEqual(statuses(s.history(ALICE)), ['one:delivered', 'two:pending', 'three:delivered']);
      assert.deepEqual(statuses(s.allHistory()), ['one:delivered', 'two:pending', 'three:delivered']);
      assert.equal(s.getMessage(m3.id)?.status, 'delivered');
    });

    it('skips unknown, unqueued and already marked ids and counts only what it marked', async () => {
      const queued = mine('queued');
      const received = mine('received', { from: ALICE, to: ME, status: 'received' });
      await s.addMessage(ALICE, queued, { outbox: true });
      await s.addMessage(ALICE, received);
      assert.equal(await s.markDelivered(['f'.repeat(32), received.id, queued.id, queued.id]), 1);
      assert.equal(await s.markDelivered([queued.id]), 0, 'already out of the outbox');
      assert.equal(await s.markDelivered([]), 0);
      assert.deepEqual(statuses(s.history(ALICE)), ['queued:delivered', 'received:received']);
      assert.deepEqual(s.outboxPeers(), []);
    });

    it('a later setStatus wins over the mark; a pending message that was never queued stays pending', async () => {
      const [m1, m2, lone] = [mine('first'), mine('second'), mine('lone')];
      await s.addMessage(ALICE, m1, { outbox: true });
      await s.addMessage(ALICE, m2, { outbox: true });
      await s.addMessage(ALICE, lone);
      assert.equal(await s.markDelivered([m1.id, lone.id]), 1);
      assert.equal(await s.setStatus(m1.id, 'pending'), true);
      assert.equal(s.getMessage(m1.id)?.status, 'pending');
      assert.equal(await s.setStatus(m2.id, 'refused'), true);
      assert.deepEqual(statuses(s.history(ALICE)), ['first:pending', 'second:refused', 'lone:pending']);
      assert.deepEqual(s.outboxPeers(), []);
    });
  });
}

contract('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

contract('LmdbStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-store-delivered-'));
  const store = await openLmdbStore(dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('markDelivered on disk (LmdbStore)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sentinel-store-delivered-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('leaves the row as written (pending), swaps the outbox entry for a mark, and reads delivered after a reopen', async () => {
    const [m1, m2] = [mine('kept'), mine('queued')];
    const s = await openLmdbStore(dir);
    await s.addMessage(ALICE, m1, { outbox: true });
    await s.addMessage(ALICE, m2, { outbox: true });
    await s.markDelivered([m1.id]);
    await s.close();

    const h = await openLmdbHandles(dir);
    try {
      const rows = Array.from(h.messages.getRange(), (e) => `${e.value.text}:${e.value.status}`);
      assert.deepEqual(rows, ['kept:pending', 'queued:pending'], 'no row rewritten');
      assert.equal(Array.from(h.outbox.getKeys()).length, 1);
      assert.equal(Array.from(h.delivered.getKeys()).length, 1);
    } finally {
      await h.root.close();
    }

    const again = await openLmdbStore(dir);
    try {
      assert.deepEqual(statuses(again.history(ALICE)), ['kept:delivered', 'queued:pending']);
      assert.deepEqual(statuses(again.outbox(ALICE)), ['queued:pending']);
    } finally {
      await again.close();
    }
  });

  it('reads a data dir written with setStatus rows (the older layout) unchanged', async () => {
    const [m1, m2] = [mine('old delivered'), mine('old pending')];
    const s = await openLmdbStore(dir);
    await s.addMessage(ALICE, m1, { outbox: true });
    await s.addMessage(ALICE, m2, { outbox: true });
    await s.setStatus(m1.id, 'delivered');
    await s.close();
    // The older layout had no `delivered` sub-database at all.
    const h = await openLmdbHandles(dir);
    await h.delivered.drop();
    await h.root.close();
    const again = await openLmdbStore(dir);
    try {
      assert.deepEqual(statuses(again.history(ALICE)), ['old delivered:delivered', 'old pending:pending']);
      assert.equal(await again.markDelivered([m2.id]), 1);
      assert.deepEqual(statuses(again.history(ALICE)), ['old delivered:delivered', 'old pending:delivered']);
    } finally {
      await again.close();
    }
  });
});
