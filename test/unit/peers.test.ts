import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_ID_PREFIX, MIN_STRANGER_PREFIX, generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { DialBudget } from '../../src/peers/dial-budget.js';
import { PeerDirectory, type DirectoryLimits } from '../../src/peers/directory.js';
import { HeldQuota } from '../../src/messaging/quota.js';
import { MemoryStore, type PeerRecord, type Store } from '../../src/store/index.js';
import { Counters } from '../../src/core/counters.js';
import { fakeClock } from '../helpers/fake-clock.js';

const id = (c: string): string => c.repeat(56);
const silent = createLogger('silent', () => {});
const DAY = 24 * 3600_000;

function directory(store: Store, limits: Partial<DirectoryLimits> = {}, now = 1_000_000) {
  const clock = fakeClock(now);
  const counters = new Counters();
  const dir = new PeerDirectory({ store, clock, log: silent, counters, wasChosen: (r) => r.alias !== null, limits });
  return { dir, clock, counters };
}

describe('peer directory', () => {
  it('treats unknown peers as strangers and keeps user decisions durable', async () => {
    const store = new MemoryStore();
    const { dir } = directory(store);
    assert.equal(dir.trustOf(id('a')), 'stranger');
    await dir.setTrust(id('a'), 'contact');
    await dir.setTrust(id('b'), 'blocked');
    assert.equal(store.getPeer(id('a'))?.trust, 'contact', 'written before setTrust resolved');
    assert.equal(store.getPeer(id('b'))?.trust, 'blocked');
    assert.deepEqual(dir.contacts(), [id('a')]);
    assert.deepEqual(dir.counts(), { contact: 1, stranger: 0, blocked: 1 });
  });

  it('migrates records written before trust: chosen peers become contacts, the rest strangers', async () => {
    const store = new MemoryStore();
    const old = (c: string, alias: string | null): PeerRecord => ({ id: id(c), alias, name: null, addresses: [], lastSeen: 1_000_000 });
    await store.putPeer(old('a', 'alice'));
    await store.putPeer(old('b', null));
    const { dir } = directory(store);
    assert.equal(dir.trustOf(id('a')), 'contact');
    assert.equal(dir.trustOf(id('b')), 'stranger');
    await dir.flush();
    assert.equal(store.getPeer(id('a'))?.trust, 'contact', 'the migration is saved');
  });

  it('writes observations of strangers lazily and coalesced', async () => {
    const store = new MemoryStore();
    const { dir, clock } = directory(store, { saveIntervalMs: 10_000 });
    dir.start();
    for (let i = 0; i < 1000; i++) dir.observe(id('s'), { seen: true, name: `n${i % 3}` });
    assert.equal(store.getPeer(id('s')), undefined, 'nothing written yet');
    await clock.advance(10_000);
    assert.equal(store.getPeer(id('s'))?.trust, 'stranger');
    await dir.close();
  });

  it('remembers at most maxStrangers, forgetting the least recently seen; contacts are never evicted', async () => {
    const store = new MemoryStore();
    const { dir, counters } = directory(store, { maxStrangers: 3 });
    await dir.setTrust(id('z'), 'contact');
    for (const c of ['a', 'b', 'c']) dir.observe(id(c), { seen: true });
    dir.observe(id('a'), { seen: true }); // a is now the most recent
    dir.observe(id('d'), { seen: true }); // evicts b
    assert.deepEqual(dir.all().map((r) => r.id).sort(), [id('a'), id('c'), id('d'), id('z')].sort());
    assert.equal(counters.get('peers.strangers_evicted'), 1);
    await dir.flush();
    assert.equal(store.getPeer(id('b')), undefined, 'the evicted record is deleted from the store');
  });

  it('forgets strangers after the TTL, on load and on prune', async () => {
    const store = new MemoryStore();
    await store.putPeer({ id: id('o'), alias: null, name: null, addresses: [], lastSeen: 0, trust: 'stranger' });
    await store.putPeer({ id: id('c'), alias: null, name: null, addresses: [], lastSeen: 0, trust: 'contact' });
    const { dir, clock, counters } = directory(store, { strangerTtlMs: DAY }, 10 * DAY);
    assert.equal(dir.get(id('o')), undefined, 'expired at load');
    assert.equal(dir.trustOf(id('c')), 'contact', 'contacts do not expire');
    dir.observe(id('n'), { seen: true });
    await clock.advance(DAY - 1);
    assert.equal(dir.prune(clock.now()), 0);
    await clock.advance(1);
    assert.equal(dir.prune(clock.now()), 1);
    assert.equal(counters.get('peers.strangers_expired'), 2);
  });

  it('keeps nothing about blocked peers and caps contacts', async () => {
    const store = new MemoryStore();
    const { dir } = directory(store, { maxContacts: 2 });
    await dir.setTrust(id('b'), 'blocked');
    assert.equal(dir.observe(id('b'), { seen: true, address: '10.0.0.1:1' }), false);
    assert.deepEqual(dir.get(id('b'))?.addresses, []);
    await dir.setTrust(id('c'), 'contact');
    await assert.rejects(dir.setTrust(id('d'), 'contact'), { code: 'E_QUOTA' });
    await dir.setTrust(id('b'), 'stranger');
    await dir.setTrust(id('d'), 'contact');
  });

  it('orders addresses: proven first, then learned, at most 8', () => {
    const { dir } = directory(new MemoryStore());
    dir.observe(id('a'), { learned: ['10.0.0.1:1', '10.0.0.2:1'] });
    dir.observe(id('a'), { address: '10.0.0.2:1' });
    assert.deepEqual(dir.get(id('a'))?.addresses, ['10.0.0.2:1', '10.0.0.1:1']);
    dir.observe(id('a'), { learned: Array.from({ length: 20 }, (_, i) => `10.1.0.${i}:1`) });
    assert.equal(dir.get(id('a'))?.addresses.length, 8);
  });

  it('aliases make contacts and are unique', async () => {
    const { dir } = directory(new MemoryStore());
    await dir.setAlias(id('a'), 'alice');
    assert.equal(dir.trustOf(id('a')), 'contact');
    await assert.rejects(dir.setAlias(id('b'), 'alice'), { code: 'E_BAD_REQUEST' });
    assert.equal(dir.aliasOwner('alice'), id('a'));
  });

  it('a failed save of a user decision rejects, and is retried later', async () => {
    const store = new MemoryStore();
    const { dir, counters } = directory(store);
    const put = store.putPeer.bind(store);
    let fail = true;
    store.putPeer = (r) => (fail ? Promise.reject(new Error('disk full')) : put(r));
    await assert.rejects(dir.setTrust(id('a'), 'contact'), /disk full/);
    assert.equal(counters.get('peers.save_failed'), 1);
    fail = false;
    await dir.flush();
    assert.equal(store.getPeer(id('a'))?.trust, 'contact');
  });
});

describe('peer directory: names and hearsay', () => {
  it('resolves a full id, an alias, or a prefix, contacts first; connected strangers count too', async () => {
    const { dir } = directory(new MemoryStore());
    const contact = generateIdentity().id;
    const stranger = generateIdentity().id;
    await dir.setAlias(contact, 'carol');
    assert.equal(dir.resolve(' carol '), contact);
    assert.equal(dir.resolve(contact.toUpperCase()), contact);
    assert.equal(dir.resolve(contact.slice(0, MIN_ID_PREFIX)), contact, 'a short prefix finds a contact');
    assert.throws(() => dir.resolve(stranger.slice(0, MIN_STRANGER_PREFIX)), 'an unknown peer is not found by prefix');
    assert.equal(dir.resolve(stranger.slice(0, MIN_STRANGER_PREFIX), [stranger]), stranger, 'a long prefix finds a connected stranger');
  });

  it('hearsay addresses are kept only while strangers have room', () => {
    const { dir, counters } = directory(new MemoryStore(), { maxStrangers: 1 });
    assert.equal(dir.learned(id('a'), [{ host: '192.0.2.1', port: 7000 }]), true);
    assert.deepEqual(dir.get(id('a'))?.addresses, ['192.0.2.1:7000']);
    assert.equal(dir.get(id('a'))?.learnedFrom, 'gossip');
    assert.equal(dir.learned(id('b'), [{ host: '192.0.2.2', port: 7000 }]), false);
    assert.equal(dir.get(id('b')), undefined);
    assert.equal(counters.get('peers.hearsay_not_kept'), 1);
  });
});

describe('dial budget for strangers', () => {
  it('caps dials in flight', () => {
    const b = new DialBudget(0, { maxInFlight: 2, rate: { perSecond: 100, burst: 100 }, perHost: { perSecond: 100, burst: 100 } });
    const t1 = b.take('10.0.0.1', 0);
    const t2 = b.take('10.0.0.2', 0);
    assert.equal(b.take('10.0.0.3', 0), 'in_flight');
    assert.notEqual(typeof t1, 'string');
    if (typeof t1 !== 'string') {
      t1.release();
      t1.release();
    }
    assert.equal(b.active, 1, 'release is idempotent');
    assert.notEqual(typeof b.take('10.0.0.3', 0), 'string');
    void t2;
  });

  it('limits dials per destination IP whatever the ids, without using the node-wide rate', () => {
    const b = new DialBudget(0, { maxInFlight: 100, rate: { perSecond: 1, burst: 3 }, perHost: { perSecond: 1 / 30, burst: 2 } });
    const take = (h: string, t: number) => {
      const r = b.take(h, t);
      if (typeof r !== 'string') r.release();
      return typeof r === 'string' ? r : 'ok';
    };
    assert.equal(take('192.0.2.1', 0), 'ok');
    assert.equal(take('192.0.2.1', 0), 'ok');
    for (let i = 0; i < 50; i++) assert.equal(take('192.0.2.1', 0), 'host_rate');
    assert.equal(take('192.0.2.2', 0), 'ok', 'the refused host did not consume the global rate');
    assert.equal(take('192.0.2.3', 0), 'rate');
    assert.equal(take('192.0.2.1', 30_000), 'ok', 'refilled after 30 s');
  });
});

describe('held-message quota', () => {
  const limits = { perStranger: 3, bytesPerStranger: 100, total: 5, bytesTotal: 150, requestTtlMs: 1000, acceptedHoldMs: 100 };

  it('refuses per stranger and in total, by count and bytes', () => {
    const q = new HeldQuota([], limits);
    for (let i = 0; i < 3; i++) assert.equal(q.reserve(id('a'), 10), null);
    assert.equal(q.reserve(id('a'), 1), 'per_stranger');
    assert.equal(q.reserve(id('b'), 101), 'bytes_per_stranger');
    assert.equal(q.reserve(id('b'), 100), null);
    assert.equal(q.reserve(id('c'), 30), 'bytes_total');
    assert.equal(q.reserve(id('c'), 10), null);
    assert.equal(q.reserve(id('d'), 1), 'total');
    assert.deepEqual(q.usage(), { count: 5, bytes: 140 });
  });

  it('cancel and forget give room back; load counts existing held messages', () => {
    const q = new HeldQuota([{ peer: id('a'), id: 'x1', bytes: 50, at: 0, request: true }], limits);
    assert.deepEqual(q.usage(id('a')), { count: 1, bytes: 50 });
    assert.equal(q.reserve(id('a'), 50), null);
    q.cancel(id('a'), 50);
    q.forget(['x1', 'unknown']);
    assert.deepEqual(q.usage(), { count: 0, bytes: 0 });
  });

  it('expires requests after their TTL (delete) and accepted-policy holds after the hold (release)', () => {
    const q = new HeldQuota(
      [
        { peer: id('a'), id: 'r', bytes: 1, at: 0, request: true },
        { peer: id('b'), id: 'k', bytes: 1, at: 0, request: false },
      ],
      limits,
    );
    assert.deepEqual(q.expired(99), { remove: [], release: [] });
    assert.deepEqual(q.expired(100), { remove: [], release: ['k'] });
    assert.deepEqual(q.expired(1000), { remove: ['r'], release: ['k'] });
  });
});
