/**
 * The parts of the Store contract the trust model uses: held messages (stranger quotas and
 * message requests), deleting peers, trust in peer records, paging history and the outbox.
 * Both implementations run the same cases.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MemoryStore, openLmdbStore, type Store, type StoredMessage } from '../../src/store/index.js';

const ME = 'a'.repeat(56);
const ALICE = 'b'.repeat(56);
const BOB = 'c'.repeat(56);
let counter = 0;

function msg(from: string, text: string, over: Partial<StoredMessage> = {}): StoredMessage {
  counter += 1;
  return { id: counter.toString(16).padStart(32, '0'), from, to: ME, timestamp: 1_700_000_000_000 + counter, text, signature: new Uint8Array(64).fill(7), status: 'received', ...over };
}

const texts = (ms: StoredMessage[]): string[] => ms.map((m) => m.text);

function contract(name: string, open: () => Promise<{ store: Store; reopen?: () => Promise<Store>; cleanup(): Promise<void> }>): void {
  describe(`Store held messages and paging: ${name}`, () => {
    let h: Awaited<ReturnType<typeof open>>;
    let s: Store;
    beforeEach(async () => {
      h = await open();
      s = h.store;
    });
    afterEach(() => h.cleanup());

    it('indexes held messages with their size, time and request flag, in arrival order', async () => {
      const r1 = msg(ALICE, 'hi', { status: 'request' });
      const plain = msg(BOB, 'normal');
      const r2 = msg(BOB, 'accepted policy', { status: 'received' });
      await s.addMessage(ALICE, r1, { held: { bytes: 2, at: 10 } });
      await s.addMessage(BOB, plain);
      await s.addMessage(BOB, r2, { held: { bytes: 15, at: 20 } });
      assert.deepEqual(s.heldMessages(), [
        { peer: ALICE, id: r1.id, bytes: 2, at: 10, request: true },
        { peer: BOB, id: r2.id, bytes: 15, at: 20, request: false },
      ]);
    });

    it('accept turns requests into received messages and ends the hold', async () => {
      const r1 = msg(ALICE, 'one', { status: 'request' });
      const r2 = msg(ALICE, 'two', { status: 'request' });
      await s.addMessage(ALICE, r1, { held: { bytes: 3, at: 1 } });
      await s.addMessage(ALICE, r2, { held: { bytes: 3, at: 2 } });
      assert.equal(await s.releaseHeld([r1.id, r2.id, 'f'.repeat(32)], 'accept'), 2);
      assert.deepEqual(s.heldMessages(), []);
      assert.deepEqual(s.history(ALICE).map((m) => m.status), ['received', 'received']);
      assert.equal(await s.releaseHeld([r1.id], 'accept'), 0, 'no longer held');
    });

    it('delete removes held messages from history, ids and the global order; others stay', async () => {
      const keep = msg(ALICE, 'keep');
      const r1 = msg(ALICE, 'spam', { status: 'request' });
      await s.addMessage(ALICE, keep);
      await s.addMessage(ALICE, r1, { held: { bytes: 4, at: 1 } });
      assert.equal(await s.releaseHeld([r1.id, keep.id], 'delete'), 1, 'only held messages are touched');
      assert.deepEqual(texts(s.history(ALICE)), ['keep']);
      assert.deepEqual(texts(s.allHistory()), ['keep']);
      assert.equal(s.hasMessage(r1.id), false);
      assert.equal(s.getMessage(r1.id), undefined);
    });

    it('release only ends the hold', async () => {
      const r = msg(BOB, 'stays', { status: 'received' });
      await s.addMessage(BOB, r, { held: { bytes: 5, at: 1 } });
      assert.equal(await s.releaseHeld([r.id], 'release'), 1);
      assert.deepEqual(s.heldMessages(), []);
      assert.deepEqual(texts(s.history(BOB)), ['stays']);
    });

    it('pages history backwards with `before`', async () => {
      const ms = [0, 1, 2, 3, 4].map((i) => msg(i % 2 ? BOB : ALICE, `m${i}`));
      for (const m of ms) await s.addMessage(m.from, m);
      assert.deepEqual(texts(s.allHistory(2)), ['m3', 'm4']);
      assert.deepEqual(texts(s.allHistory(2, ms[3]?.id)), ['m1', 'm2']);
      assert.deepEqual(texts(s.allHistory(10, ms[1]?.id)), ['m0']);
      assert.deepEqual(texts(s.allHistory(10, ms[0]?.id)), []);
      assert.deepEqual(texts(s.history(ALICE, 1, ms[4]?.id)), ['m2']);
      assert.deepEqual(texts(s.history(ALICE, 10, ms[3]?.id)), ['m0', 'm2'], 'a pivot from another conversation works');
      assert.deepEqual(texts(s.allHistory(10, 'e'.repeat(32))), [], 'an unknown pivot yields nothing');
    });

    it('reads the first n outbox entries', async () => {
      for (const t of ['a', 'b', 'c']) await s.addMessage(ALICE, msg(ME, t, { to: ALICE, status: 'pending' }), { outbox: true });
      assert.deepEqual(texts(s.outbox(ALICE, 2)), ['a', 'b']);
      assert.deepEqual(texts(s.outbox(ALICE)), ['a', 'b', 'c']);
      assert.deepEqual(texts(s.outbox(ALICE, 0)), []);
    });

    it('keeps trust in peer records and deletes peers', async () => {
      await s.putPeer({ id: ALICE, alias: null, name: null, addresses: [], lastSeen: 5, trust: 'contact' });
      await s.putPeer({ id: BOB, alias: null, name: null, addresses: [], lastSeen: 6, trust: 'blocked' });
      assert.equal(s.getPeer(ALICE)?.trust, 'contact');
      await s.deletePeer(BOB);
      await s.deletePeer('d'.repeat(56));
      assert.deepEqual(s.listPeers().map((p) => p.id), [ALICE]);
    });

    if (name === 'LmdbStore') {
      it('held messages survive a reopen', async () => {
        const r = msg(ALICE, 'persist', { status: 'request' });
        await s.addMessage(ALICE, r, { held: { bytes: 7, at: 3 } });
        s = await (h.reopen as () => Promise<Store>)();
        assert.deepEqual(s.heldMessages(), [{ peer: ALICE, id: r.id, bytes: 7, at: 3, request: true }]);
      });
    }
  });
}

contract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

contract('LmdbStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-held-'));
  let store: Store = await openLmdbStore(join(dir, 'store'));
  return {
    store,
    async reopen() {
      await store.close();
      store = await openLmdbStore(join(dir, 'store'));
      return store;
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
