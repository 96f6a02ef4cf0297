/**
 * Turning a failed LMDB commit into our error codes, without leaving anything unhandled.
 *
 * How lmdb-js 3.x reports a failed commit (read in node_modules/lmdb/write.js, and
 * reproduced on a full 16 MiB tmpfs): every write promise of the transaction rejects with
 * `Error('Commit failed (see commitError for details)')`, whose `commitError` property
 * is a *second* promise, rejected with the real cause (an errno such as EIO or ENOSPC,
 * or an LMDB code). Nobody else ever handles that second promise: unless the caller
 * does, it is an unhandled rejection, which ends a Node 20 process. {@link commitCause}
 * always handles it.
 *
 * A full disk shows up as ENOSPC, EDQUOT, MDB_MAP_FULL, or (most often: LMDB turns a
 * short `pwrite` into EIO) EIO while the filesystem has almost nothing left.
 */
/** errno numbers (Linux) and names, and the LMDB code, that mean "no space left". */
const NO_SPACE: ReadonlySet<string | number> = new Set(['ENOSPC', 28, 'EDQUOT', 122, 'MDB_MAP_FULL', -30792]);
/** LMDB reports a short write (the disk filled up mid-write) as EIO. */
const SHORT_WRITE: ReadonlySet<string | number> = new Set(['EIO', 5]);

/** The underlying cause of a failed write; handles lmdb-js's `commitError` promise. Never rejects. */
export async function commitCause(err: unknown): Promise<unknown> {
  const inner = err !== null && typeof err === 'object' ? (err as { commitError?: unknown }).commitError : undefined;
  if (!isThenable(inner)) return err;
  try {
    await inner;
    return err;
  } catch (cause) {
    return cause;
  }
}

/** True when `cause` says outright that there is no space (or map) left. */
export function isNoSpace(cause: unknown): boolean {
  const code = codeOf(cause);
  if (code !== undefined && NO_SPACE.has(code)) return true;
  return cause instanceof Error && /^MDB_MAP_FULL|ENOSPC|no space left/i.test(cause.message);
}

/** True when `cause` may be a short write on a full disk (EIO): confirm with the free space. */
export function isShortWrite(cause: unknown): boolean {
  const code = codeOf(cause);
  return code !== undefined && SHORT_WRITE.has(code);
}

/**
 * `full` when the commit failed for lack of space: an explicit no-space code, or a
 * short write while less than `reserveBytes` is free (a short `pwrite` takes whatever
 * space is left, so a full disk reads as nearly 0 free right after one).
 */
export function classifyCommitFailure(cause: unknown, freeBytes: number, reserveBytes: number): 'full' | 'failed' {
  if (isNoSpace(cause)) return 'full';
  if (isShortWrite(cause) && freeBytes < reserveBytes) return 'full';
  return 'failed';
}

function codeOf(err: unknown): string | number | undefined {
  if (err === null || typeof err !== 'object' || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? code : undefined;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}
