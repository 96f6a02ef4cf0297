/**
 * Named limits of the durable store. Each is enforced in one place ({@link FreeSpaceGuard}
 * in `space.ts`, or the warning limiter in `full-notice.ts`) and covered by a test.
 *
 * Why a free-space reserve at all: LMDB only learns that the disk is full in the middle
 * of a commit (a short `pwrite`, reported as EIO, or ENOSPC), after which lmdb-js prints
 * a stack trace and the whole transaction is thrown away. Checking `statfs` before a
 * write lets us refuse it cleanly (`E_STORE_FULL`) while a little space is still left, so
 * the node can keep making its small bookkeeping writes and never reaches that path in
 * normal operation. The commit-failure path is still handled (see `write-errors.ts`):
 * something else can fill the filesystem between our check and the commit.
 */

/**
 * Free bytes the filesystem must keep after a message write (`addMessage`): below it,
 * new messages are refused with E_STORE_FULL. 2 MiB is 12% of the 16 MiB data dir the
 * outside review filled, and ~30 of the largest (64 KiB) messages.
 */
export const STORE_RESERVE_BYTES = 2 * 1024 * 1024;

/**
 * Free bytes that must remain after a small bookkeeping write (message status, peer
 * record, meta value). Lower than {@link STORE_RESERVE_BYTES}, so that with messages
 * already refused the node can still mark messages delivered (which empties its outbox)
 * and remember peers. A rewrite of the largest message row needs ~70 KiB.
 */
export const STORE_CRITICAL_RESERVE_BYTES = 256 * 1024;

/**
 * Estimated bytes one write adds to the data file beyond its own payload: B-tree and
 * overflow-page rounding in the four sub-databases a message touches. Measured
 * 0.7-4.8 KiB per message on 4 KiB pages (bench/store figures, `grow` runs in the
 * faults work); rounded up.
 */
export const WRITE_OVERHEAD_BYTES = 8 * 1024;

/**
 * A free-space sample (`statfs`) is trusted for this long; writes admitted since are
 * subtracted from it by their estimates. After this, the next write samples again.
 */
export const FREE_SPACE_SAMPLE_MAX_AGE_MS = 1_000;

/**
 * When a write does not fit the current sample, the disk is sampled again (space may
 * have been freed, estimates are pessimistic), but at most once per this interval, so a
 * flood of refused writes costs one `statfs` each 100 ms, not one per write.
 */
export const FREE_SPACE_RESAMPLE_MIN_MS = 100;

/**
 * The node logs at most one "disk full" warning per this interval (with the number of
 * writes refused since the previous one), however many writes are refused.
 */
export const FULL_WARNING_INTERVAL_MS = 60_000;

/** All the space limits, for tests that shrink them. */
export interface SpaceLimits {
  reserveBytes: number;
  criticalReserveBytes: number;
  writeOverheadBytes: number;
  sampleMaxAgeMs: number;
  resampleMinMs: number;
}

export const DEFAULT_SPACE_LIMITS: SpaceLimits = {
  reserveBytes: STORE_RESERVE_BYTES,
  criticalReserveBytes: STORE_CRITICAL_RESERVE_BYTES,
  writeOverheadBytes: WRITE_OVERHEAD_BYTES,
  sampleMaxAgeMs: FREE_SPACE_SAMPLE_MAX_AGE_MS,
  resampleMinMs: FREE_SPACE_RESAMPLE_MIN_MS,
};
