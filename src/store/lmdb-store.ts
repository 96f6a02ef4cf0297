/**
 * {@link Store} on LMDB (the `lmdb` package): one environment, named sub-databases
 * (see {@link LmdbHandles}), synchronous snapshot reads and batched asynchronous writes.
 *
 * Durability. lmdb-js queues every asynchronous write (`put`, `remove`, `transaction`)
 * issued in one event turn into a single LMDB transaction that a worker thread commits.
 * With `overlappingSync` (the default on Linux and macOS) the returned promise resolves
 * when the transaction is *committed* (visible), and the fsync happens afterwards, off the
 * writer lock. The environment's `flushed` thenable resolves once the last queued commit
 * is fsync'd; because flushes complete in commit order, awaiting it after our commit
 * promise covers our transaction. So every write here is
 * `await <commit promise>; await root.flushed;` (see `#durable`), and no Promise of this
 * store resolves before its data is on disk. (Without overlappingSync, LMDB syncs inside
 * commit and `flushed` is the commit itself, so the same code stays correct.)
 *
 * Throughput. No write uses a synchronous transaction: each write enqueues work and
 * returns, so thousands of concurrent `addMessage` calls made in the same turn run as
 * callbacks of one LMDB transaction, with one commit and one fsync.
 */
import type { MessageStatus, NodeId } from '../api.js';
import { SentinelError, errorMessage } from '../errors.js';
import { openLmdbHandles, type HeldRow, type LmdbHandles, type MessageKey } from './lmdb-open.js';
import { copyMessage, copyPeer, normalizeLimit } from './records.js';
import type { HeldAction, HeldMessage, PeerRecord, Store, StoredMessage } from './types.js';

/** Upper bound for sequence numbers in range queries; never assigned. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** The durable store. Obtain one with {@link openLmdbStore}. */
export class LmdbStore implements Store {
  readonly #h: LmdbHandles;
  /** Next store-wide sequence number; only touched inside write transactions. */
  #nextSeq: number;
  #closed = false;

  private constructor(handles: LmdbHandles) {
    this.#h = handles;
    this.#nextSeq = lastSeq(handles) + 1;
  }

  /** See {@link openLmdbStore}. */
  static async open(path: string): Promise<LmdbStore> {
    return new LmdbStore(await openLmdbHandles(path));
  }

  getMeta<T = unknown>(key: string): T | undefined {
    this.#live();
    return this.#h.meta.get(key) as T | undefined;
  }

  /** Stores `value` (MessagePack); `undefined` removes the key. */
  async putMeta(key: string, value: unknown): Promise<void> {
    this.#live();
    const { meta } = this.#h;
    await this.#durable(value === undefined ? meta.remove(key) : meta.put(key, value));
  }

  getPeer(id: NodeId): PeerRecord | undefined {
    this.#live();
    const rec = this.#h.peers.get(id);
    return rec && copyPeer(rec);
  }

  /** All peers, ordered by id. */
  listPeers(): PeerRecord[] {
    this.#live();
    return Array.from(this.#h.peers.getRange(), (e) => copyPeer(e.value));
  }

  async putPeer(rec: PeerRecord): Promise<void> {
    this.#live();
    await this.#durable(this.#h.peers.put(rec.id, copyPeer(rec)));
  }

  async deletePeer(id: NodeId): Promise<void> {
    this.#live();
    await this.#durable(this.#h.peers.remove(id));
  }

  async addMessage(peer: NodeId, msg: StoredMessage, opts: { outbox?: boolean; held?: HeldRow } = {}): Promise<boolean> {
    this.#live();
    const row = copyMessage(msg);
    const queue = opts.outbox === true;
    const held = opts.held ? { bytes: opts.held.bytes, at: opts.held.at } : undefined;
    // Enqueued, not run: all calls of this turn share one transaction and one fsync.
    return this.#durable(this.#h.root.transaction(() => this.#insert(peer, row, queue, held)));
  }

  hasMessage(id: string): boolean {
    this.#live();
    return this.#h.ids.doesExist(id);
  }

  getMessage(id: string): StoredMessage | undefined {
    this.#live();
    const key = this.#h.ids.get(id);
    return key && this.#read(key);
  }

  async setStatus(id: string, status: MessageStatus): Promise<boolean> {
    this.#live();
    return this.#durable(this.#h.root.transaction(() => this.#updateStatus(id, status)));
  }

  history(peer: NodeId, limit?: number, before?: string): StoredMessage[] {
    this.#live();
    const n = normalizeLimit(limit);
    if (n === 0) return [];
    const below = this.#seqBefore(before);
    if (below === null) return [];
    const range = this.#h.messages.getRange({
      start: [peer, below],
      end: [peer],
      reverse: true,
      ...(n === undefined ? {} : { limit: n }),
    });
    return Array.from(range, (e) => copyMessage(e.value)).reverse();
  }

  allHistory(limit?: number, before?: string): StoredMessage[] {
    this.#live();
    const n = normalizeLimit(limit);
    if (n === 0) return [];
    const below = this.#seqBefore(before);
    if (below === null) return [];
    const range = this.#h.order.getRange({ start: below, reverse: true, ...(n === undefined ? {} : { limit: n }) });
    const out: StoredMessage[] = [];
    for (const { key: seq, value: peer } of range) {
      const msg = this.#read([peer, seq]);
      if (msg) out.push(msg);
    }
    return out.reverse();
  }

  outbox(peer: NodeId, limit?: number): StoredMessage[] {
    this.#live();
    const n = normalizeLimit(limit);
    if (n === 0) return [];
    const out: StoredMessage[] = [];
    for (const key of this.#h.outbox.getKeys({ start: [peer], end: [peer, MAX_SEQ], ...(n === undefined ? {} : { limit: n }) })) {
      const msg = this.#read(key);
      if (msg) out.push(msg);
    }
    return out;
  }

  /** Peers with queued messages, ordered by id. */
  outboxPeers(): NodeId[] {
    this.#live();
    const peers: NodeId[] = [];
    // Keys are sorted by peer, so equal peers are adjacent.
    for (const [peer] of this.#h.outbox.getKeys()) {
      if (peers[peers.length - 1] !== peer) peers.push(peer);
    }
    return peers;
  }

  heldMessages(): HeldMessage[] {
    this.#live();
    const out: HeldMessage[] = [];
    for (const { key, value } of this.#h.held.getRange()) {
      const msg = this.#read(key);
      if (msg) out.push({ peer: key[0], id: msg.id, bytes: value.bytes, at: value.at, request: msg.status === 'request' });
    }
    return out.sort((a, b) => a.at - b.at);
  }

  async releaseHeld(ids: readonly string[], action: HeldAction): Promise<number> {
    this.#live();
    const list = [...ids];
    return this.#durable(this.#h.root.transaction(() => list.reduce((n, id) => n + (this.#release(id, action) ? 1 : 0), 0)));
  }

  /** Waits for queued writes to be flushed, then closes. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#h.root.flushed;
      await this.#h.root.close();
    } catch (err) {
      throw new SentinelError('E_STORE', `close failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Runs inside a write transaction; reads see earlier inserts of the same batch. */
  #insert(peer: NodeId, row: StoredMessage, queue: boolean, held: HeldRow | undefined): boolean {
    const { messages, order, ids, outbox } = this.#h;
    if (ids.doesExist(row.id)) return false;
    const key: MessageKey = [peer, this.#nextSeq++];
    messages.put(key, row);
    order.put(key[1], peer);
    ids.put(row.id, key);
    if (queue) outbox.put(key, true);
    if (held) this.#h.held.put(key, held);
    return true;
  }

  /** Runs inside a write transaction. */
  #release(id: string, action: HeldAction): boolean {
    const { messages, order, ids, outbox, held } = this.#h;
    const key = ids.get(id);
    if (!key || !held.doesExist(key)) return false;
    held.remove(key);
    if (action === 'delete') {
      messages.remove(key);
      order.remove(key[1]);
      ids.remove(id);
      outbox.remove(key);
    } else if (action === 'accept') {
      const row = messages.get(key);
      if (row && row.status === 'request') messages.put(key, { ...copyMessage(row), status: 'received' });
    }
    return true;
  }

  /** The sequence number to page below: MAX_SEQ without `before`, null when `before` is unknown. */
  #seqBefore(before: string | undefined): number | null {
    if (before === undefined) return MAX_SEQ;
    const key = this.#h.ids.get(before);
    return key ? key[1] - 1 : null;
  }

  /** Runs inside a write transaction. */
  #updateStatus(id: string, status: MessageStatus): boolean {
    const { messages, ids, outbox } = this.#h;
    const key = ids.get(id);
    const row = key && messages.get(key);
    if (!key || !row) return false;
    messages.put(key, { ...copyMessage(row), status });
    // Answered for good: nothing more to send.
    if (status === 'delivered' || status === 'refused') outbox.remove(key);
    return true;
  }

  #read(key: MessageKey): StoredMessage | undefined {
    const row = this.#h.messages.get(key);
    return row && copyMessage(row);
  }

  /** Resolves with the commit's result once it is committed and fsync'd (see file header). */
  async #durable<T>(commit: Promise<T>): Promise<T> {
    try {
      const result = await commit;
      await this.#h.root.flushed;
      return result;
    } catch (err) {
      throw new SentinelError('E_STORE', `write failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  #live(): void {
    if (this.#closed) throw new SentinelError('E_STORE', 'store is closed');
  }
}

/**
 * Open (creating if needed) the durable store in directory `path`.
 * @throws SentinelError `E_DATA_DIR` when `path` cannot be used as a directory,
 *   `E_STORE` when the data file is damaged or cannot be opened.
 */
export function openLmdbStore(path: string): Promise<LmdbStore> {
  return LmdbStore.open(path);
}

function lastSeq(h: LmdbHandles): number {
  for (const seq of h.order.getKeys({ reverse: true, limit: 1 })) return seq;
  return 0;
}
