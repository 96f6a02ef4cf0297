/**
 * PeerBook: the verified peer records a node holds, at most one per node id and at most
 * `maxRecords` in all. Pure state: time comes in as `now` arguments (ms since the epoch).
 *
 * An offered record is checked in the order: size, layout, validity window (records.ts),
 * replay (same or lower seq than the one held), capacity, and only then the signature, so
 * that a flood of records costs no public-key work once the book is full or up to date.
 *
 * Capacity is shared fairly between sources (the partner a record came from; records of
 * our own or loaded from disk form one source). When the book is full, a newcomer from
 * source S takes the slot of the oldest record of the source holding the most records, if
 * that source holds more than S; otherwise it is refused ('full') before its signature is
 * checked. So a flooding partner only ever evicts its own records, while a newcomer from
 * anyone else still gets in. Records for which `keep(id)` is true (contacts, ourselves)
 * are never evicted, and are admitted even when the book is full.
 * Each entry carries a change number (the book's version when it was accepted); the
 * exchange uses it to send recently changed records first.
 */
import type { NodeId } from '../api.js';
import { Counters } from '../core/counters.js';
import type { PeerRecord } from '../wire/index.js';
import { checkRecord, signatureValid, type RecordRejection } from './records.js';

/** Most records a book holds (about 4 MiB of record bytes at most). */
export const MAX_BOOK_RECORDS = 10_000;

/** Why {@link PeerBook.offer} refused a record. */
export type OfferRejection = RecordRejection | 'replayed' | 'full' | 'verify_limited';
/** Outcome counters besides acceptance and rejections. */
export const BOOK_EVICTED = 'evicted';
/** Outcome of {@link PeerBook.offer}. */
export type OfferResult = 'accepted' | OfferRejection;

/** Every rejection reason, for status output and tests. */
export const OFFER_REJECTIONS: readonly OfferRejection[] = [
  'malformed',
  'oversized',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'too_long_lived',
  'replayed',
  'full',
  'verify_limited',
];

/** One held record. */
export interface BookEntry {
  readonly id: NodeId;
  readonly record: PeerRecord;
  /** The exact signed bytes, as received. */
  readonly bytes: Uint8Array;
  /** Book version at acceptance; higher means changed more recently. */
  readonly change: number;
  /** The peer it came from (undefined: our own, or loaded from the store). */
  readonly from: string | undefined;
}

/** Options of {@link PeerBook}. */
export interface PeerBookOptions {
  /** Capacity; defaults to MAX_BOOK_RECORDS. */
  maxRecords?: number;
  /** Records never evicted (contacts, our own); default none. */
  keep?: (id: NodeId) => boolean;
}

export class PeerBook {
  /** Offers by outcome: `accepted` and one counter per {@link OfferRejection}. */
  readonly counters = new Counters();
  readonly maxRecords: number;
  /** Ascending change order: an accepted record is deleted and re-inserted at the end. */
  private readonly entries = new Map<NodeId, BookEntry>();
  /** Ids by source (partner; '' for our own and stored ones), oldest change first. */
  private readonly bySource = new Map<string, Set<NodeId>>();
  private readonly keep: (id: NodeId) => boolean;
  private changes = 0;
  /** No entry expires before this time (a lower bound; exact after prune). */
  private nextExpiry = Infinity;

  constructor(opts: PeerBookOptions = {}) {
    this.maxRecords = opts.maxRecords ?? MAX_BOOK_RECORDS;
    this.keep = opts.keep ?? (() => false);
  }

  /** Number of records held. */
  get size(): number {
    return this.entries.size;
  }

  /** Change number of the most recent acceptance (0 when none). */
  get version(): number {
    return this.changes;
  }

  /**
   * Offers untrusted record bytes; stores them when valid and newer than what is held.
   * `canVerify` is asked right before the one expensive step, the signature check (a
   * budget of public-key work): false refuses the record as `verify_limited`.
   */
  offer(bytes: Uint8Array, now: number, from?: string, canVerify?: () => boolean): OfferResult {
    const result = this.admit(bytes, now, from, canVerify);
    this.counters.inc(result);
    return result;
  }

  private admit(bytes: Uint8Array, now: number, from: string | undefined, canVerify: (() => boolean) | undefined): OfferResult {
    const c = checkRecord(bytes, now);
    if (!c.ok) return c.reason;
    const { id, record } = c.record;
    const held = this.entries.get(id);
    if (held && held.record.seq >= record.seq) return 'replayed';
    let victim: NodeId | undefined;
    if (!held && this.entries.size >= this.maxRecords && this.prune(now) === 0) {
      victim = this.victimFor(from ?? '', this.keep(id));
      if (victim === undefined) return 'full';
    }
    if (canVerify && !canVerify()) return 'verify_limited';
    if (!signatureValid(c.record)) return 'bad_signature';
    if (victim !== undefined) {
      this.remove(victim);
      this.counters.inc(BOOK_EVICTED);
    }
    if (held) this.remove(id);
    this.entries.set(id, { id, record, bytes: c.record.bytes, change: ++this.changes, from });
    this.sourceSet(from ?? '').add(id);
    this.nextExpiry = Math.min(this.nextExpiry, record.expiresAt);
    return 'accepted';
  }

  /**
   * The record to evict for a newcomer from `source` in a full book: the oldest evictable
   * record of the largest source, if that source is larger than `source` (or the newcomer
   * must be kept).
   */
  private victimFor(source: string, mustAdmit: boolean): NodeId | undefined {
    const own = this.bySource.get(source)?.size ?? 0;
    const bySize = [...this.bySource.entries()].sort((x, y) => y[1].size - x[1].size);
    for (const [src, ids] of bySize) {
      if (!mustAdmit && (src === source || ids.size <= own)) return undefined;
      for (const id of ids) if (!this.keep(id)) return id;
    }
    return undefined;
  }

  private sourceSet(source: string): Set<NodeId> {
    let set = this.bySource.get(source);
    if (!set) this.bySource.set(source, (set = new Set()));
    return set;
  }

  private remove(id: NodeId): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    const src = e.from ?? '';
    const set = this.bySource.get(src);
    set?.delete(id);
    if (set && set.size === 0) this.bySource.delete(src);
  }

  /** The record held for `id`. */
  get(id: NodeId): BookEntry | undefined {
    return this.entries.get(id);
  }

  /** Every held record, least recently changed first. */
  all(): BookEntry[] {
    return [...this.entries.values()];
  }

  /** Held records in ascending change order (no copy; do not offer while iterating). */
  inChangeOrder(): IterableIterator<BookEntry> {
    return this.entries.values();
  }

  /** Removes expired records; returns how many. Cheap when nothing can have expired yet. */
  prune(now: number): number {
    if (now < this.nextExpiry) return 0;
    let removed = 0;
    let next = Infinity;
    for (const [id, e] of this.entries) {
      if (e.record.expiresAt <= now) {
        this.remove(id);
        removed++;
      } else {
        next = Math.min(next, e.record.expiresAt);
      }
    }
    this.nextExpiry = next;
    return removed;
  }

  /** (id, seq) of every record, sorted by id: compares two books' knowledge. */
  digest(): Array<{ id: NodeId; seq: number }> {
    return [...this.entries.values()].map((e) => ({ id: e.id, seq: e.record.seq })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The records as plain byte arrays, oldest change first, for persisting. */
  toStore(): Uint8Array[] {
    return [...this.entries.values()].map((e) => e.bytes);
  }

  /**
   * A book rebuilt from {@link toStore} output. Every record is verified again (stored
   * bytes are not trusted); expired and invalid ones are dropped and counted.
   */
  static fromStore(records: readonly Uint8Array[], now: number, opts: PeerBookOptions = {}): PeerBook {
    const book = new PeerBook(opts);
    for (const bytes of records) book.offer(bytes, now);
    return book;
  }

  /** An independent copy of the held records (counters start at zero). */
  clone(): PeerBook {
    const copy = new PeerBook({ maxRecords: this.maxRecords, keep: this.keep });
    for (const [id, e] of this.entries) {
      copy.entries.set(id, e);
      copy.sourceSet(e.from ?? '').add(id);
    }
    copy.changes = this.changes;
    copy.nextExpiry = this.nextExpiry;
    return copy;
  }
}
