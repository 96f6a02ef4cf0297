import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { MemoryStore, openLmdbStore, type PeerRecord, type Store, type StoredMessage } from '../../src/store/index.js';

const ME = 'a'.repeat(56);
const ALICE = 'b'.repeat(56);
const BOB = 'c'.repeat(56);

let counter = 0;

/** A message with a fresh id; `from`/`to` default to "from `peer` to me". */
function msg(peer: string, text: string, over: Partial<StoredMessage> = {}): StoredMessage {
  counter += 1;
  const signature = new Uint8Array(64);
  signature.fill(counter % 256);
  signature[0] = 0xff;
  return {
    id: counter.toString(16).padStart(32, '0'),
    from: peer,
    to: ME,
    timestamp: 1_700_000_000_000 + counter,
    text,
    signature,
    status: 'received',
    ...over,
  };
}

function peer(id: string, over: Partial<PeerRecord> = {}): PeerRecord {
  return { id, alias: null, name: null, addresses: [], lastSeen: null, ...over };
}

const texts = (ms: StoredMessage[]): string[] => ms.map((m) => m.text);

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'sentinel-store-test-'));
}

interface Harness {
  store: Store;
  cleanup(): Promise<void>;
}

/** The behavioural contract every Store implementation must meet. */
function storeContract(name: string, factory: () => Promise<Harness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: Harness;
    let s: Store;
    beforeEach(async () => {
      h = await factory();
      s = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('puts, gets, lists and replaces peers', async () => {
      assert.equal(s.getPeer(ALICE), undefined);
      await s.putPeer(peer(BOB, { name: 'bob' }));
      await s.putPeer(peer(ALICE, { alias: 'al', addresses: ['10.0.0.1:7000'], lastSeen: 5 }));
      assert.deepEqual(s.getPeer(ALICE), peer(ALICE, { alias: 'al', addresses: ['10.0.0.1:7000'], lastSeen: 5 }));
      assert.deepEqual(s.listPeers().map((p) => p.id), [ALICE, BOB]);

      await s.putPeer(peer(ALICE, { name: 'alice', addresses: ['10.0.0.2:7000', '10.0.0.1:7000'] }));
      assert.deepEqual(s.getPeer(ALICE), peer(ALICE, { name: 'alice', addresses: ['10.0.0.2:7000', '10.0.0.1:7000'] }));
      assert.equal(s.listPeers().length, 2);
    });

    it('hands out copies of peers', async () => {
      const rec = peer(ALICE, { addresses: ['h:1'] });
      await s.putPeer(rec);
      rec.addresses.push('mutated:1');
      s.getPeer(ALICE)?.addresses.push('mutated:2');
      assert.deepEqual(s.getPeer(ALICE)?.addresses, ['h:1']);
    });

    it('stores meta values and removes on undefined', async () => {
      assert.equal(s.getMeta('nope'), undefined);
      await s.putMeta('n', 42);
      await s.putMeta('o', { a: [1, 'two'], b: null });
      assert.equal(s.getMeta<number>('n'), 42);
      assert.deepEqual(s.getMeta('o'), { a: [1, 'two'], b: null });
      await s.putMeta('n', 'replaced');
      assert.equal(s.getMeta('n'), 'replaced');
      await s.putMeta('n', undefined);
      assert.equal(s.getMeta('n'), undefined);
    });

    it('keeps arrival order per conversation and across conversations', async () => {
      const a1 = msg(ALICE, 'a1');
      const b1 = msg(BOB, 'b1');
      const a2 = msg(ME, 'a2', { to: ALICE, status: 'pending' });
      const b2 = msg(BOB, 'b2');
      for (const [p, m] of [[ALICE, a1], [BOB, b1], [ALICE, a2], [BOB, b2]] as const) {
        assert.equal(await s.addMessage(p, m), true);
      }
      assert.deepEqual(s.history(ALICE), [a1, a2]);
      assert.deepEqual(s.history(BOB), [b1, b2]);
      assert.deepEqual(s.allHistory(), [a1, b1, a2, b2]);
      assert.deepEqual(s.history(ME), []);
      const got = s.getMessage(a2.id);
      assert.deepEqual(got, a2);
      assert.ok(got?.signature instanceof Uint8Array);
      assert.equal(s.hasMessage(a1.id), true);
      assert.equal(s.hasMessage('f'.repeat(32)), false);
      assert.equal(s.getMessage('f'.repeat(32)), undefined);
    });

    it('orders by arrival, not by timestamp', async () => {
      await s.addMessage(ALICE, msg(ALICE, 'late', { timestamp: 9e12 }));
      await s.addMessage(ALICE, msg(ALICE, 'early', { timestamp: 1 }));
      assert.deepEqual(texts(s.history(ALICE)), ['late', 'early']);
    });

    it('returns the last n messages oldest first', async () => {
      for (let i = 0; i < 5; i++) await s.addMessage(ALICE, msg(ALICE, `a${i}`));
      await s.addMessage(BOB, msg(BOB, 'b0'));
      assert.deepEqual(texts(s.history(ALICE, 2)), ['a3', 'a4']);
      assert.deepEqual(texts(s.history(ALICE, 99)), ['a0', 'a1', 'a2', 'a3', 'a4']);
      assert.deepEqual(s.history(ALICE, 0), []);
      assert.deepEqual(texts(s.allHistory(3)), ['a3', 'a4', 'b0']);
      assert.deepEqual(s.allHistory(0), []);
      assert.equal(s.allHistory().length, 6);
    });

    it('dedupes a sequential duplicate and writes nothing for it', async () => {
      const m = msg(ALICE, 'original');
      assert.equal(await s.addMessage(ALICE, m), true);
      assert.equal(await s.addMessage(ALICE, { ...m, text: 'dup' }, { outbox: true }), false);
      assert.equal(await s.addMessage(BOB, { ...m, text: 'dup' }), false);
      assert.deepEqual(texts(s.history(ALICE)), ['original']);
      assert.deepEqual(s.history(BOB), []);
      assert.deepEqual(s.outbox(ALICE), []);
      assert.equal(s.allHistory().length, 1);
    });

    it('dedupes concurrent duplicates: the first call wins', async () => {
      const m = msg(ALICE, 'first');
      const other = msg(ALICE, 'other');
      const results = await Promise.all([
        s.addMessage(ALICE, m),
        s.addMessage(ALICE, { ...m, text: 'second' }, { outbox: true }),
        s.addMessage(ALICE, other),
        s.addMessage(BOB, { ...m, text: 'third' }),
      ]);
      assert.deepEqual(results, [true, false, true, false]);
      assert.deepEqual(texts(s.history(ALICE)), ['first', 'other']);
      assert.deepEqual(s.history(BOB), []);
      assert.deepEqual(s.outboxPeers(), []);
    });

    it('queues outbox messages per peer in queue order', async () => {
      const a1 = msg(ME, 'to-a1', { to: ALICE, status: 'pending' });
      const b1 = msg(ME, 'to-b1', { to: BOB, status: 'pending' });
      const a2 = msg(ME, 'to-a2', { to: ALICE, status: 'pending' });
      await s.addMessage(BOB, b1, { outbox: true });
      await s.addMessage(ALICE, a1, { outbox: true });
      await s.addMessage(ALICE, msg(ALICE, 'incoming'));
      await s.addMessage(ALICE, a2, { outbox: true });
      assert.deepEqual(s.outbox(ALICE), [a1, a2]);
      assert.deepEqual(s.outbox(BOB), [b1]);
      assert.deepEqual(s.outbox(ME), []);
      assert.deepEqual(s.outboxPeers(), [ALICE, BOB]);
    });

    it("setStatus('delivered') updates the message and removes it from the outbox", async () => {
      const a1 = msg(ME, 'to-a1', { to: ALICE, status: 'pending' });
      const a2 = msg(ME, 'to-a2', { to: ALICE, status: 'pending' });
      await s.addMessage(ALICE, a1, { outbox: true });
      await s.addMessage(ALICE, a2, { outbox: true });

      assert.equal(await s.setStatus(a1.id, 'delivered'), true);
      assert.equal(s.getMessage(a1.id)?.status, 'delivered');
      assert.deepEqual(texts(s.outbox(ALICE)), ['to-a2']);
      assert.deepEqual(s.history(ALICE).map((m) => m.status), ['delivered', 'pending']);

      assert.equal(await s.setStatus(a2.id, 'received'), true);
      assert.deepEqual(texts(s.outbox(ALICE)), ['to-a2'], 'only delivered leaves the outbox');
      assert.equal(s.outbox(ALICE)[0]?.status, 'received');

      assert.equal(await s.setStatus(a2.id, 'delivered'), true);
      assert.deepEqual(s.outbox(ALICE), []);
      assert.deepEqual(s.outboxPeers(), []);
      assert.equal(s.history(ALICE).length, 2, 'history keeps delivered messages');
    });

    it('setStatus on an unknown id resolves false and changes nothing', async () => {
      const a1 = msg(ME, 'to-a1', { to: ALICE, status: 'pending' });
      await s.addMessage(ALICE, a1, { outbox: true });
      assert.equal(await s.setStatus('0'.repeat(31) + 'z', 'delivered'), false);
      assert.deepEqual(s.outbox(ALICE), [a1]);
      assert.equal(s.hasMessage('0'.repeat(31) + 'z'), false);
    });

    it('hands out copies of messages', async () => {
      const m = msg(ALICE, 'hello');
      const original = Uint8Array.from(m.signature);
      await s.addMessage(ALICE, m);
      m.signature[1] = (original[1] ?? 0) ^ 0xff;
      m.text = 'mutated';
      const got = s.getMessage(m.id);
      assert.ok(got);
      got.signature[2] = (original[2] ?? 0) ^ 0xff;
      assert.equal(s.getMessage(m.id)?.text, 'hello');
      assert.deepEqual(s.getMessage(m.id)?.signature, original);
    });

    it('refuses use after close with E_STORE', async () => {
      await s.close();
      await s.close();
      assert.throws(() => s.history(ALICE), (e) => isSentinelError(e, 'E_STORE'));
      await assert.rejects(s.addMessage(ALICE, msg(ALICE, 'x')), (e) => isSentinelError(e, 'E_STORE'));
      await assert.rejects(s.putMeta('k', 1), (e) => isSentinelError(e, 'E_STORE'));
    });
  });
}

storeContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

storeContract('LmdbStore', async () => {
  const dir = await tempDir();
  const store = await openLmdbStore(join(dir, 'db'));
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('LmdbStore on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps everything across close and reopen, and seq keeps increasing', async () => {
    const path = join(dir, 'nested', 'store.d');
    const a1 = msg(ME, 'to-a1', { to: ALICE, status: 'pending' });
    const a2 = msg(ME, 'to-a2', { to: ALICE, status: 'pending' });
    const b1 = msg(BOB, 'b1');
    let s = await openLmdbStore(path);
    await s.putPeer(peer(ALICE, { alias: 'al', lastSeen: 7 }));
    await s.putMeta('self', { port: 7000 });
    await Promise.all([s.addMessage(ALICE, a1, { outbox: true }), s.addMessage(BOB, b1)]);
    await s.addMessage(ALICE, a2, { outbox: true });
    await s.setStatus(a1.id, 'delivered');
    await s.close();

    s = await openLmdbStore(path);
    try {
      assert.deepEqual(s.getPeer(ALICE), peer(ALICE, { alias: 'al', lastSeen: 7 }));
      assert.deepEqual(s.getMeta('self'), { port: 7000 });
      assert.deepEqual(s.history(ALICE), [{ ...a1, status: 'delivered' }, a2]);
      assert.deepEqual(s.outbox(ALICE), [a2]);
      assert.deepEqual(s.outboxPeers(), [ALICE]);
      assert.equal(await s.addMessage(ALICE, a2), false, 'dedupe index survives');

      const b2 = msg(BOB, 'b2');
      const a3 = msg(ALICE, 'a3');
      assert.equal(await s.addMessage(BOB, b2), true);
      assert.equal(await s.addMessage(ALICE, a3, { outbox: true }), true);
      assert.deepEqual(texts(s.allHistory()), ['to-a1', 'b1', 'to-a2', 'b2', 'a3']);
      assert.deepEqual(texts(s.history(ALICE)), ['to-a1', 'to-a2', 'a3']);
      assert.deepEqual(texts(s.outbox(ALICE)), ['to-a2', 'a3']);
    } finally {
      await s.close();
    }
  });

  it('close waits for writes still in flight', async () => {
    const path = join(dir, 'inflight');
    const s = await openLmdbStore(path);
    const m = msg(ALICE, 'in flight');
    const pending = s.addMessage(ALICE, m, { outbox: true });
    await s.close();
    assert.equal(await pending, true);
    const again = await openLmdbStore(path);
    try {
      assert.deepEqual(again.outbox(ALICE), [m]);
    } finally {
      await again.close();
    }
  });

  it('rejects a path that is a regular file with E_DATA_DIR', async () => {
    const file = join(dir, 'plain-file');
    await writeFile(file, 'not a directory');
    await assert.rejects(openLmdbStore(file), (e) => isSentinelError(e, 'E_DATA_DIR'));
    await assert.rejects(openLmdbStore(join(file, 'below')), (e) => isSentinelError(e, 'E_DATA_DIR'));
  });

  it('rejects a garbage data file with E_STORE instead of crashing', async () => {
    const path = join(dir, 'garbage');
    await mkdir(path);
    await writeFile(join(path, 'data.mdb'), Buffer.alloc(20_000, 7));
    await assert.rejects(openLmdbStore(path), (e) => isSentinelError(e, 'E_STORE'));
  });

  it('rejects a truncated data file with E_STORE instead of crashing', async () => {
    const path = join(dir, 'truncated');
    const s = await openLmdbStore(path);
    for (let i = 0; i < 50; i++) await s.addMessage(ALICE, msg(ALICE, 'x'.repeat(500)));
    await s.close();
    const data = await readFile(join(path, 'data.mdb'));
    await writeFile(join(path, 'data.mdb'), data.subarray(0, data.length - 4096));
    await assert.rejects(openLmdbStore(path), (e) => isSentinelError(e, 'E_STORE'));
    await writeFile(join(path, 'data.mdb'), data.subarray(0, 100));
    await assert.rejects(openLmdbStore(path), (e) => isSentinelError(e, 'E_STORE'));
  });

  it('resolves 5,000 concurrent addMessage calls and keeps them all, in call order', async () => {
    const s = await openLmdbStore(join(dir, 'burst'));
    try {
      const batch = Array.from({ length: 5000 }, (_, i) => msg(i % 2 ? ALICE : BOB, `m${i}`));
      const results = await Promise.all(batch.map((m) => s.addMessage(m.from, m, { outbox: m.from === BOB })));
      assert.equal(results.filter((r) => r === true).length, 5000);
      assert.deepEqual(texts(s.allHistory()), texts(batch));
      assert.equal(s.history(ALICE).length, 2500);
      assert.equal(s.outbox(BOB).length, 2500);
      assert.ok(batch.every((m) => s.hasMessage(m.id)));
    } finally {
      await s.close();
    }
  });
});
