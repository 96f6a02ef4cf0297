/**
 * {@link Store} in memory, for tests of other modules. It behaves like the LMDB store
 * (ordering, dedupe, outbox, copies in and out, errors after close) except that a
 * write is visible to reads as soon as the call returns, before its promise settles,
 * and nothing survives the process. {@link MemoryStore.failWrites} makes every write
 * fail like the LMDB store on a full (or broken) disk, for tests of the callers.
 */
import type { MessageStatus, NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { copyMessage, copyPeer, normalizeLimit } from './records.js';
import { STORE_RESERVE_BYTES } from './limits.js';
import type { HeldAction, HeldMessage, PeerRecord, Store, StoreHealth, StoredMessage } from './types.js';

interface Entry {
  peer: NodeId;
  msg: StoredMessage;
  held?: { bytes: number; at: number };
}

/** An in-memory store. */
export class MemoryStore implements Store {
  readonly #meta = new Map<string, unknown>();
  readonly #peers = new Map<NodeId, PeerRecord>();
  /** id -> entry; Map iteration order is insertion order, i.e. arrival order. */
  readonly #byId = new Map<string, Entry>();
  readonly #byPeer = new Map<NodeId, Entry[]>();
  /** peer -> queued entries in queue order. */
  readonly #outbox = new Map<NodeId, Set<Entry>>();
  #closed = false;
  #failing: 'E_STORE_FULL' | 'E_STORE' | null = null;
  #fullRefusals = 0;
  #writeFailures = 0;

  /**
   * From now on every write rejects with this code and changes nothing (null: writes
   * work again), as the LMDB store does on a full disk (`E_STORE_FULL`) or a failing one.
   */
  failWrites(code: 'E_STORE_FULL' | 'E_STORE' | null): void {
    this.#failing = code;
  }

  health(): StoreHealth {
    return {
      full: this.#failing === 'E_STORE_FULL',
      freeBytes: null,
      reserveBytes: STORE_RESERVE_BYTES,
      counters: { 'store.full_refusals': this.#fullRefusals, 'store.write_failures': this.#writeFailures },
    };
  }

  getMeta<T = unknown>(key: string): T | undefined {
    this.#live();
    const v = this.#meta.get(key);
    return (v === undefined ? undefined : structuredClone(v)) as T | undefined;
  }

  /** Stores a copy of `value`; `undefined` removes the key. */
  async putMeta(key: string, value: unknown): Promise<void> {
    this.#live();
    this.#writable();
    if (value === undefined) this.#meta.delete(key);
    else this.#meta.set(key, structuredClone(value));
  }

  getPeer(id: NodeId): PeerRecord | undefined {
    this.#live();
    const rec = this.#peers.get(id);
    return rec && copyPeer(rec);
  }

  /** All peers, ordered by id. */
  listPeers(): PeerRecord[] {
    this.#live();
    return [...this.#peers.values()].sort((a, b) => compare(a.id, b.id)).map(copyPeer);
  }

  async putPeer(rec: PeerRecord): Promise<void> {
    this.#live();
    this.#writable();
    this.#peers.set(rec.id, copyPeer(rec));
  }

  async deletePeer(id: NodeId): Promise<void> {
    this.#live();
    this.#writable();
    this.#peers.delete(id);
  }

  async addMessage(peer: NodeId, msg: StoredMessage, opts: { outbox?: boolean; held?: { bytes: number; at: number } } = {}): Promise<boolean> {
    this.#live();
    this.#writable();
    if (this.#byId.has(msg.id)) return false;
    const entry: Entry = { peer, msg: copyMessage(msg), ...(opts.held ? { held: { ...opts.held } } : {}) };
    this.#byId.set(msg.id, entry);
    listFor(this.#byPeer, peer).push(entry);
    if (opts.outbox === true) setFor(this.#outbox, peer).add(entry);
    return true;
  }

  hasMessage(id: string): boolean {
    this.#live();
    return this.#byId.has(id);
  }

  getMessage(id: string): StoredMessage | undefined {
    this.#live();
    const entry = this.#byId.get(id);
    return entry && copyMessage(entry.msg);
  }

  async setStatus(id: string, status: MessageStatus): Promise<boolean> {
    this.#live();
    this.#writable();
    const entry = this.#byId.get(id);
    if (!entry) return false;
    entry.msg.status = status;
    if (status === 'delivered' || status === 'refused') this.#unqueue(entry);
    return true;
  }

  async markDelivered(ids: readonly string[]): Promise<number> {
    this.#live();
    this.#writable();
    let n = 0;
    for (const id of ids) {
      const entry = this.#byId.get(id);
      if (!entry || !this.#outbox.get(entry.peer)?.has(entry)) continue;
      entry.msg.status = 'delivered';
      this.#unqueue(entry);
      n++;
    }
    return n;
  }

  history(peer: NodeId, limit?: number, before?: string): StoredMessage[] {
    this.#live();
    return lastOf(this.#before(this.#byPeer.get(peer) ?? [], before), limit).map((e) => copyMessage(e.msg));
  }

  allHistory(limit?: number, before?: string): StoredMessage[] {
    this.#live();
    return lastOf(this.#before([...this.#byId.values()], before), limit).map((e) => copyMessage(e.msg));
  }

  outbox(peer: NodeId, limit?: number, after?: string): StoredMessage[] {
    this.#live();
    let queued = [...(this.#outbox.get(peer) ?? [])];
    const pivot = after === undefined ? undefined : this.#byId.get(after);
    if (pivot && pivot.peer === peer) {
      const rank = new Map([...this.#byId.values()].map((e, i) => [e, i]));
      const at = rank.get(pivot) as number;
      queued = queued.filter((e) => (rank.get(e) as number) > at);
    }
    const n = normalizeLimit(limit);
    return (n === undefined ? queued : queued.slice(0, n)).map((e) => copyMessage(e.msg));
  }

  /** Peers with queued messages, ordered by id. */
  outboxPeers(): NodeId[] {
    this.#live();
    return [...this.#outbox.keys()].sort(compare);
  }

  heldMessages(): HeldMessage[] {
    this.#live();
    const out: HeldMessage[] = [];
    for (const e of this.#byId.values()) {
      if (e.held) out.push({ peer: e.peer, id: e.msg.id, bytes: e.held.bytes, at: e.held.at, request: e.msg.status === 'request' });
    }
    return out.sort((a, b) => a.at - b.at);
  }

  async releaseHeld(ids: readonly string[], action: HeldAction): Promise<number> {
    this.#live();
    this.#writable();
    let n = 0;
    for (const id of ids) {
      const e = this.#byId.get(id);
      if (!e?.held) continue;
      delete e.held;
      n++;
      if (action === 'accept' && e.msg.status === 'request') e.msg.status = 'received';
      if (action === 'delete') {
        this.#byId.delete(id);
        const list = this.#byPeer.get(e.peer) ?? [];
        list.splice(list.indexOf(e), 1);
        this.#unqueue(e);
      }
    }
    return n;
  }

  /** Idempotent; every later call throws (or rejects with) `E_STORE`. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /** The entries stored before message `before` (all when undefined; none when unknown). */
  #before(entries: Entry[], before: string | undefined): Entry[] {
    if (before === undefined) return entries;
    const pivot = this.#byId.get(before);
    if (!pivot) return [];
    const order = [...this.#byId.values()];
    const rank = new Map(order.map((e, i) => [e, i]));
    const limit = rank.get(pivot) as number;
    return entries.filter((e) => (rank.get(e) as number) < limit);
  }

  #unqueue(entry: Entry): void {
    const queued = this.#outbox.get(entry.peer);
    if (!queued) return;
    queued.delete(entry);
    if (queued.size === 0) this.#outbox.delete(entry.peer);
  }

  #live(): void {
    if (this.#closed) throw new SentinelError('E_STORE', 'store is closed');
  }

  #writable(): void {
    if (this.#failing === null) return;
    if (this.#failing === 'E_STORE_FULL') this.#fullRefusals += 1;
    else this.#writeFailures += 1;
    throw new SentinelError(this.#failing, 'simulated by MemoryStore.failWrites');
  }
}

function lastOf<T>(items: T[], limit: number | undefined): T[] {
  const n = normalizeLimit(limit);
  if (n === undefined) return items.slice();
  return n === 0 ? [] : items.slice(-n);
}

function listFor<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  return list;
}

function setFor<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  return set;
}

/** Plain code-unit order, matching LMDB's byte order for the ASCII ids we store. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
