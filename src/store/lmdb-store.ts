/**
 * {@link Store} on LMDB (the `lmdb` package): one environment, named sub-databases
 * (see {@link LmdbHandles}), synchronous snapshot reads and asynchronous writes.
 *
 * Durability. Every write is an asynchronous lmdb-js write or `transaction()`. The
 * environment runs without overlapping sync (see `lmdb-open.ts`), so LMDB fsyncs inside
 * the commit and a write's promise resolves only once its transaction is on disk: no
 * Promise of this store resolves before its data is durable.
 *
 * Throughput. No write uses a synchronous transaction: each write enqueues work and
 * returns; writes queued while the writer thread commits share the next transaction
 * and its fsync, so thousands of concurrent `addMessage` calls cost a few commits.
 *
 * A full disk. Every write is first admitted by a {@link FreeSpaceGuard} (statfs with a
 * named reserve, `limits.ts`): a write that would eat into the reserve is refused with
 * E_STORE_FULL before LMDB sees it. A commit that fails anyway (something else filled the
 * disk since the check) is classified by `write-errors.ts`: E_STORE_FULL for lack of
 * space, E_STORE otherwise; lmdb-js's extra rejected promise is handled. Reads keep
 * working, nothing is half-written (a failed transaction commits nothing), and writes
 * succeed again as soon as space returns: the guard samples the disk again at most every
 * `FREE_SPACE_RESAMPLE_MIN_MS` while refusing. Refusals are counted
 * (`store.full_refusals`; other failures `store.write_failures`) and logged at most once
 * per `FULL_WARNING_INTERVAL_MS`.
 */
import type { MessageStatus, NodeId } from '../api.js';
import { SentinelError, errorMessage, isSentinelError } from '../errors.js';
import type { Logger } from '../log.js';
import { FullNotice } from './full-notice.js';
import type { SpaceLimits } from './limits.js';
import { lastSeq, openLmdbHandles, statfsFreeBytes, type HeldRow, type LmdbHandles, type MessageKey } from './lmdb-open.js';
import { copyMessage, copyPeer, normalizeLimit } from './records.js';
import { FreeSpaceGuard, approxEncodedBytes, approxMessageBytes, formatBytes, type WriteClass } from './space.js';
import type { HeldAction, HeldMessage, PeerRecord, Store, StoreHealth, StoredMessage } from './types.js';
import { classifyCommitFailure, commitCause, isNoSpace, isShortWrite } from './write-errors.js';

/** Upper bound for sequence numbers in range queries; never assigned. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** Options of {@link openLmdbStore}. */
export interface LmdbStoreOptions {
  /** Where the (rate-limited) disk-full warnings go; default nowhere. */
  log?: Pick<Logger, 'warn' | 'info'>;
  /** Shrunk limits, for tests. */
  space?: Partial<SpaceLimits>;
  /** Free bytes on the store's filesystem; default statfs of the store directory. */
  freeBytes?: () => Promise<number>;
  /** Clock for sampling and warnings; default Date.now. */
  now?: () => number;
}

/** The durable store. Obtain one with {@link openLmdbStore}. */
export class LmdbStore implements Store {
  readonly #h: LmdbHandles;
  readonly #path: string;
  readonly #guard: FreeSpaceGuard;
  readonly #notice = new FullNotice();
  readonly #log: Pick<Logger, 'warn' | 'info'> | undefined;
  readonly #now: () => number;
  /** Writes started and not settled yet; close() waits for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Next store-wide sequence number; only touched inside write transactions. */
  #nextSeq: number;
  #closed = false;
  #fullRefusals = 0;
  #writeFailures = 0;

  private constructor(handles: LmdbHandles, path: string, opts: LmdbStoreOptions) {
    this.#h = handles;
    this.#path = path;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    const freeBytes = opts.freeBytes ?? (() => statfsFreeBytes(path));
    this.#guard = new FreeSpaceGuard({ freeBytes, now: this.#now }, opts.space);
    this.#nextSeq = lastSeq(handles) + 1;
  }

  /** See {@link openLmdbStore}. */
  static async open(path: string, opts: LmdbStoreOptions = {}): Promise<LmdbStore> {
    return new LmdbStore(await openLmdbHandles(path), path, opts);
  }

  getMeta<T = unknown>(key: string): T | undefined {
    this.#live();
    return this.#h.meta.get(key) as T | undefined;
  }

  /** Stores `value` (MessagePack); `undefined` removes the key. */
  async putMeta(key: string, value: unknown): Promise<void> {
    this.#live();
    const { meta } = this.#h;
    await this.#write('bookkeeping', approxEncodedBytes(key) + approxEncodedBytes(value), () => (value === undefined ? meta.remove(key) : meta.put(key, value)));
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
    const row = copyPeer(rec);
    await this.#write('bookkeeping', approxEncodedBytes(row), () => this.#h.peers.put(row.id, row));
  }

  async deletePeer(id: NodeId): Promise<void> {
    this.#live();
    await this.#write('bookkeeping', 64, () => this.#h.peers.remove(id));
  }

  async addMessage(peer: NodeId, msg: StoredMessage, opts: { outbox?: boolean; held?: HeldRow } = {}): Promise<boolean> {
    this.#live();
    const row = copyMessage(msg);
    const queue = opts.outbox === true;
    const held = opts.held ? { bytes: opts.held.bytes, at: opts.held.at } : undefined;
    // Enqueued, not run: writes queued together share one transaction and one fsync.
    return this.#write('message', approxMessageBytes(row), () => this.#h.root.transaction(() => this.#insert(peer, row, queue, held)));
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
    // The row is rewritten (copy on write): it needs about its own size again.
    const key = this.#h.ids.get(id);
    const size = key ? (this.#h.messages.getBinary(key)?.length ?? 0) : 0;
    return this.#write('bookkeeping', size, () => this.#h.root.transaction(() => this.#updateStatus(id, status)));
  }

  /** Drops the queued ids from the outbox and marks them in `delivered`; their rows (`pending`) stay as written. */
  async markDelivered(ids: readonly string[]): Promise<number> {
    this.#live();
    if (ids.length === 0) return 0;
    const list = [...ids];
    const { ids: index, outbox, delivered } = this.#h;
    return this.#write('bookkeeping', 64 * list.length, () =>
      this.#h.root.transaction(() => {
        let n = 0;
        for (const id of list) {
          const key = index.get(id);
          // Inside a transaction removeSync says whether the entry was there (no lookup first).
          if (!key || !outbox.removeSync(key)) continue;
          delivered.put(key, true);
          n++;
        }
        return n;
      }),
    );
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
    return Array.from(range, (e) => copyMessage(e.value, this.#status(e.key, e.value))).reverse();
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

  outbox(peer: NodeId, limit?: number, after?: string): StoredMessage[] {
    this.#live();
    const n = normalizeLimit(limit);
    if (n === 0) return [];
    const from = after === undefined ? undefined : this.#h.ids.get(after);
    const start: MessageKey | [NodeId] = from && from[0] === peer ? [peer, from[1] + 1] : [peer];
    const out: StoredMessage[] = [];
    for (const key of this.#h.outbox.getKeys({ start, end: [peer, MAX_SEQ], ...(n === undefined ? {} : { limit: n }) })) {
      // Queued, so never marked delivered: the row's own status is the truth.
      const row = this.#h.messages.get(key);
      if (row) out.push(copyMessage(row));
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

  /** Bookkeeping (also frees space): allowed on a full disk down to the critical reserve. */
  async releaseHeld(ids: readonly string[], action: HeldAction): Promise<number> {
    this.#live();
    const list = [...ids];
    return this.#write('bookkeeping', 64 * list.length, () => this.#h.root.transaction(() => list.reduce((n, id) => n + (this.#release(id, action) ? 1 : 0), 0)));
  }

  /** Free space and write refusals, for `status`. Also starts a fresh free-space sample when the last is stale. */
  health(): StoreHealth {
    if (!this.#closed) this.#guard.refreshIfStale();
    const { full, freeBytes } = this.#guard.state();
    return {
      full,
      freeBytes,
      reserveBytes: this.#guard.limits.reserveBytes,
      counters: { 'store.full_refusals': this.#fullRefusals, 'store.write_failures': this.#writeFailures },
    };
  }

  /** Waits for the writes already started to settle, then closes. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#inFlight);
    try {
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
      this.#h.delivered.remove(key);
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
    const { messages, ids, outbox, delivered } = this.#h;
    const key = ids.get(id);
    const row = key && messages.get(key);
    if (!key || !row) return false;
    messages.put(key, copyMessage(row, status));
    // The row says it all now (see #status).
    if (delivered.doesExist(key)) delivered.remove(key);
    // Answered for good: nothing more to send.
    if (status === 'delivered' || status === 'refused') outbox.remove(key);
    return true;
  }

  #read(key: MessageKey): StoredMessage | undefined {
    const row = this.#h.messages.get(key);
    return row && copyMessage(row, this.#status(key, row));
  }

  /**
   * A row's status as the user sees it: `markDelivered` leaves the row `pending` and
   * writes a mark in `delivered` instead of rewriting it. (Data written before the marks
   * existed has none: its rows read as written.)
   */
  #status(key: MessageKey, row: StoredMessage): StoredMessage['status'] {
    return row.status === 'pending' && this.#h.delivered.doesExist(key) ? 'delivered' : row.status;
  }

  /**
   * Admits a write of about `payloadBytes` (or refuses it: E_STORE_FULL), starts it and
   * resolves with its result once it is committed and fsync'd (see the file header).
   */
  #write<T>(cls: WriteClass, payloadBytes: number, start: () => Promise<T>): Promise<T> {
    const op = this.#admitAndRun(cls, payloadBytes, start);
    this.#inFlight.add(op);
    const done = (): void => void this.#inFlight.delete(op);
    op.then(done, done);
    return op;
  }

  async #admitAndRun<T>(cls: WriteClass, payloadBytes: number, start: () => Promise<T>): Promise<T> {
    let release: () => void;
    try {
      release = await this.#guard.admit(this.#guard.estimate(payloadBytes), cls);
    } catch (err) {
      if (isSentinelError(err, 'E_STORE_FULL')) this.#refused();
      throw err;
    }
    try {
      const result = await start();
      if (cls === 'message') this.#resumed();
      return result;
    } catch (err) {
      throw await this.#failure(err);
    } finally {
      release();
    }
  }

  /** The coded error for a failed commit (always handling lmdb-js's inner promise). */
  async #failure(err: unknown): Promise<SentinelError> {
    const cause = await commitCause(err);
    const free = isNoSpace(cause) ? 0 : isShortWrite(cause) ? await this.#guard.freshFreeBytes() : Number.POSITIVE_INFINITY;
    if (classifyCommitFailure(cause, free, this.#guard.limits.reserveBytes) === 'full') {
      this.#guard.markFull();
      this.#refused();
      return new SentinelError('E_STORE_FULL', `the data file could not grow (${errorMessage(cause)})`, { cause });
    }
    this.#writeFailures += 1;
    return new SentinelError('E_STORE', `write failed: ${errorMessage(cause)}`, { cause });
  }

  #refused(): void {
    this.#fullRefusals += 1;
    const { freeBytes } = this.#guard.state();
    const detail = `${formatBytes(freeBytes ?? 0)} free in ${this.#path}, ${formatBytes(this.#guard.limits.reserveBytes)} kept in reserve`;
    const line = this.#notice.refused(this.#now(), detail);
    if (line !== null) this.#log?.warn(line);
  }

  #resumed(): void {
    const line = this.#notice.admitted();
    if (line !== null) this.#log?.info(line);
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
export function openLmdbStore(path: string, opts: LmdbStoreOptions = {}): Promise<LmdbStore> {
  return LmdbStore.open(path, opts);
}
