/**
 * The free-space check in front of every store write: a write is admitted only if the
 * filesystem keeps its reserve afterwards (see `limits.ts` for why). Free space comes
 * from an injected `freeBytes()` (statfs in production) and an injected clock, so the
 * decisions are exact in tests.
 *
 * Accounting. A `statfs` sample is trusted for `sampleMaxAgeMs`; every write admitted
 * after it is subtracted from it by its estimate, so a burst cannot overshoot between
 * two samples. A new sample starts from the estimates of writes still in flight (they
 * are not on disk yet). Estimates are pessimistic, so a write that does not fit makes
 * the guard sample again, at most once per `resampleMinMs`.
 */
import type { StoredMessage } from './types.js';
import { SentinelError } from '../errors.js';
import { DEFAULT_SPACE_LIMITS, type SpaceLimits } from './limits.js';

/**
 * What a write is for. `message`: a new message (history, outbox), kept to the full
 * reserve. `bookkeeping`: status marks, peer records, meta values, allowed down to the
 * smaller critical reserve.
 */
export type WriteClass = 'message' | 'bookkeeping';

/** The guard's view of the world. */
export interface SpaceIo {
  /** Bytes we may still write on the store's filesystem (statfs: bavail × bsize). */
  freeBytes(): Promise<number>;
  now(): number;
}

/** Call once the admitted write has settled (committed or failed). Idempotent. */
export type Release = () => void;

/** What the guard knows, for `status`. */
export interface SpaceState {
  /** True while messages are being refused for lack of space (see {@link FreeSpaceGuard.state}). */
  full: boolean;
  /** Free bytes at the last sample, minus what was admitted since; null before the first sample or when statfs fails. */
  freeBytes: number | null;
}

/**
 * The admission rule: `free` bytes at the last sample, `admitted` estimated bytes
 * admitted since, and a write of `estimate` bytes must leave `reserve` bytes free.
 */
export function fitsReserve(free: number, admitted: number, estimate: number, reserve: number): boolean {
  return free - admitted - estimate >= reserve;
}

/** Gates writes on free disk space. One per store. */
export class FreeSpaceGuard {
  readonly limits: SpaceLimits;
  readonly #io: SpaceIo;
  /** Free bytes at the last sample; Infinity when statfs failed (let LMDB find out). */
  #free: number | undefined;
  #sampledAt = Number.NEGATIVE_INFINITY;
  /** Estimated bytes admitted since the last sample. */
  #since = 0;
  /** Estimated bytes admitted and not yet settled. */
  #inFlight = 0;
  #sampling: Promise<void> | undefined;
  /** Estimate of the last refused message write, until a message write is admitted. */
  #refusedMessage: number | null = null;

  constructor(io: SpaceIo, limits: Partial<SpaceLimits> = {}) {
    this.#io = io;
    this.limits = { ...DEFAULT_SPACE_LIMITS, ...limits };
  }

  /** Estimated bytes a write of `payloadBytes` adds to the data file. */
  estimate(payloadBytes: number): number {
    return Math.max(0, payloadBytes) + this.limits.writeOverheadBytes;
  }

  /**
   * Admit a write of about `estimate` bytes, or throw E_STORE_FULL. Calls are answered
   * in call order (a call made while a sample is being taken waits for it too).
   */
  async admit(estimate: number, cls: WriteClass): Promise<Release> {
    const reserve = this.#reserve(cls);
    if (this.#sampling || this.#io.now() - this.#sampledAt >= this.limits.sampleMaxAgeMs) await this.#sample();
    if (!this.#fits(estimate, reserve) && this.#io.now() - this.#sampledAt >= this.limits.resampleMinMs) await this.#sample();
    if (!this.#fits(estimate, reserve)) {
      if (cls === 'message') this.#refusedMessage = estimate;
      throw this.#fullError(reserve);
    }
    if (cls === 'message') this.#refusedMessage = null;
    this.#since += estimate;
    this.#inFlight += estimate;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight -= estimate;
    };
  }

  /**
   * A commit failed for lack of space: trust nothing we sampled, count the disk as
   * having nothing left until a sample (no sooner than `resampleMinMs`) says otherwise.
   */
  markFull(): void {
    this.#free = 0;
    this.#since = 0;
    this.#sampledAt = this.#io.now();
  }

  /** Free bytes right now (a fresh sample); Infinity when statfs fails. */
  async freshFreeBytes(): Promise<number> {
    await this.#sample();
    return this.#free ?? Number.POSITIVE_INFINITY;
  }

  /**
   * `full` while the disk is below the message reserve, or the last refused message
   * would still be refused: it clears as soon as a sample shows room for it, even
   * before another message is written.
   */
  state(): SpaceState {
    const free = this.#free;
    if (free === undefined || free === Number.POSITIVE_INFINITY) return { full: false, freeBytes: null };
    const left = Math.max(0, free - this.#since);
    const refused = this.#refusedMessage !== null && !this.#fits(this.#refusedMessage, this.limits.reserveBytes);
    return { full: refused || left < this.limits.reserveBytes, freeBytes: left };
  }

  /** Take a new sample in the background if the last one is stale (for `status`). Never rejects. */
  refreshIfStale(): void {
    if (this.#sampling || this.#io.now() - this.#sampledAt < this.limits.sampleMaxAgeMs) return;
    void this.#sample();
  }

  #fits(estimate: number, reserve: number): boolean {
    return fitsReserve(this.#free ?? Number.POSITIVE_INFINITY, this.#since, estimate, reserve);
  }

  #reserve(cls: WriteClass): number {
    return cls === 'message' ? this.limits.reserveBytes : this.limits.criticalReserveBytes;
  }

  /** One statfs at a time; concurrent callers share it. Never rejects. */
  #sample(): Promise<void> {
    this.#sampling ??= this.#io
      .freeBytes()
      .catch(() => Number.POSITIVE_INFINITY)
      .then((free) => {
        this.#free = free;
        this.#sampledAt = this.#io.now();
        // Writes still in flight are not in this sample yet.
        this.#since = this.#inFlight;
      })
      .finally(() => {
        this.#sampling = undefined;
      });
    return this.#sampling;
  }

  #fullError(reserve: number): SentinelError {
    const free = Math.max(0, (this.#free ?? 0) - this.#since);
    return new SentinelError('E_STORE_FULL', `${formatBytes(free)} free, ${formatBytes(reserve)} kept in reserve`);
  }
}

/** `1.5 MiB`-style size for messages. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Rough encoded size of a stored value (MessagePack is within a few bytes per field of
 * this), for admission estimates of meta and peer writes. Depth-limited; never throws.
 */
export function approxEncodedBytes(value: unknown, depth = 0): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'number' || typeof value === 'bigint') return 9;
  if (typeof value === 'string') return Buffer.byteLength(value) + 5;
  if (ArrayBuffer.isView(value)) return value.byteLength + 5;
  if (depth > 8 || typeof value !== 'object') return 16;
  let total = 5;
  if (Array.isArray(value)) for (const v of value) total += approxEncodedBytes(v, depth + 1);
  else for (const [k, v] of Object.entries(value)) total += Buffer.byteLength(k) + 1 + approxEncodedBytes(v, depth + 1);
  return total;
}

/**
 * {@link approxEncodedBytes} of a message row, computed field by field (the same number,
 * without walking the object: this runs once per message written).
 */
export function approxMessageBytes(m: StoredMessage): number {
  // 5 for the map, and per field: its name's bytes + 1, and its value (strings +5, binary +5, numbers 9).
  let total = 5 + (2 + 1) + (4 + 1) + (2 + 1) + (9 + 1) + (4 + 1) + (9 + 1) + (6 + 1);
  total += Buffer.byteLength(m.id) + 5 + Buffer.byteLength(m.from) + 5 + Buffer.byteLength(m.to) + 5 + 9;
  total += Buffer.byteLength(m.text) + 5 + m.signature.byteLength + 5 + Buffer.byteLength(m.status) + 5;
  if (m.proof) total += 5 + 1 + m.proof.byteLength + 5;
  return total;
}
