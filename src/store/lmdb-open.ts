/**
 * Opening the LMDB environment behind {@link LmdbStore}: directory preparation, a
 * pre-flight check of the data file, the named sub-databases, and the free-space probe.
 *
 * Options chosen for a disk that can fill up (measured on a full 16 MiB tmpfs, lmdb 3.5.6):
 *
 * - `useWritemap: false` (pages are written with `pwrite`). With a write map, LMDB
 *   `ftruncate`s the data file to the map size (a sparse file) and writes through the
 *   map: on a full filesystem the first write to an unbacked page kills the process with
 *   SIGBUS (reproduced). With `pwrite`, a full disk is an error code (a short write,
 *   reported as EIO, or ENOSPC) and the transaction is simply not committed.
 * - `eventTurnBatching: false`. With event-turn batching, lmdb-js opens each batch with
 *   an internal write whose promise nobody can reach; when that batch's commit fails,
 *   the promise rejects unhandled and Node 20 ends the process (reproduced: "Commit
 *   failed" as an unhandled rejection). Without it, writes queued while the writer
 *   thread is busy still share the next transaction (one fsync for many writes), and
 *   each `transaction()` stays atomic.
 * - `overlappingSync: false`. With overlapping sync, durability needs `root.flushed`,
 *   which is resolved only by a *successful* later commit: after a failed commit it
 *   never resolves (reproduced), so a write, or `close()`, waiting for it hangs. Without
 *   it, LMDB fsyncs the data pages inside the commit and writes the meta page with
 *   O_DSYNC, so a commit promise resolves only once the data is on disk. Throughput
 *   is unchanged within noise (bench/store.ts figures in BENCHMARKS.md).
 * - No fixed `mapSize`: lmdb-js grows the map itself (doubling) as the file grows, so
 *   MDB_MAP_FULL only happens at address-space limits; it is reported as E_STORE_FULL.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat, statfs } from 'node:fs/promises';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage, isSentinelError } from '../errors.js';
import { checkLmdbDataFile } from './lmdb-file-check.js';
import type { PeerRecord, StoredMessage } from './types.js';

/** Key of a message, its outbox entry and its id-index value: [peer, store sequence]. */
export type MessageKey = [NodeId, number];

/**
 * The named sub-databases. Keys use lmdb's ordered-binary encoding (arrays sort
 * element by element, numbers numerically); values are MessagePack.
 *
 * - `meta`:     string -> any value
 * - `peers`:    node id -> PeerRecord
 * - `messages`: [peer, seq] -> StoredMessage (signature stored as MessagePack bin)
 * - `order`:    seq -> peer; store-wide arrival order, and the source of the next seq
 * - `ids`:      message id -> [peer, seq]
 * - `outbox`:   [peer, seq] -> true
 * - `held`:     [peer, seq] -> HeldRow; messages from strangers counted against quotas
 * - `delivered`: [peer, seq] -> true; our messages the peer acknowledged (`markDelivered`):
 *               the row keeps `pending` and reads `delivered` (a mark instead of a rewrite
 *               of the row). Added later: a data dir without it opens and reads as before,
 *               and every row written before has its true status in the row itself.
 */
export interface LmdbHandles {
  root: RootDatabase;
  meta: Database<unknown, string>;
  peers: Database<PeerRecord, NodeId>;
  messages: Database<StoredMessage, MessageKey>;
  order: Database<NodeId, number>;
  ids: Database<MessageKey, string>;
  outbox: Database<true, MessageKey>;
  held: Database<HeldRow, MessageKey>;
  delivered: Database<true, MessageKey>;
}

/** What the `held` index keeps per message (the id is in the message row). */
/** The highest message sequence number in the store (0 when empty): the next one follows it. */
export function lastSeq(h: LmdbHandles): number {
  for (const seq of h.order.getKeys({ reverse: true, limit: 1 })) return seq;
  return 0;
}

export interface HeldRow {
  bytes: number;
  at: number;
}

const SUB_DATABASES = 8;

/**
 * Create `path` if needed and open the environment in it.
 * @throws SentinelError `E_DATA_DIR` if `path` cannot be used as a directory,
 *   `E_STORE` if the data file is damaged or LMDB refuses to open it.
 */
export async function openLmdbHandles(path: string): Promise<LmdbHandles> {
  await prepareDirectory(path);
  try {
    await checkLmdbDataFile(path);
    const root = open(path, {
      // Always a directory, even when the name contains a dot.
      noSubdir: false,
      maxDbs: SUB_DATABASES,
      // Durability is never traded away: a commit resolves once fsync'd (see the header).
      noSync: false,
      overlappingSync: false,
      eventTurnBatching: false,
      useWritemap: false,
    });
    return {
      root,
      meta: root.openDB<unknown, string>('meta', {}),
      peers: root.openDB<PeerRecord, NodeId>('peers', {}),
      messages: root.openDB<StoredMessage, MessageKey>('messages', {}),
      order: root.openDB<NodeId, number>('order', {}),
      ids: root.openDB<MessageKey, string>('ids', {}),
      outbox: root.openDB<true, MessageKey>('outbox', {}),
      held: root.openDB<HeldRow, MessageKey>('held', {}),
      delivered: root.openDB<true, MessageKey>('delivered', {}),
    };
  } catch (err) {
    if (isSentinelError(err)) throw err;
    throw new SentinelError('E_STORE', `cannot open ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

async function prepareDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
    if (!(await stat(path)).isDirectory()) throw new Error('not a directory');
    await access(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw new SentinelError('E_DATA_DIR', `${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Bytes an unprivileged writer may still use on the filesystem holding `path` (statfs). */
export async function statfsFreeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}
