/**
 * Opening the LMDB environment behind {@link LmdbStore}: directory preparation, a
 * pre-flight check of the data file, and the named sub-databases.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
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
}

/** What the `held` index keeps per message (the id is in the message row). */
export interface HeldRow {
  bytes: number;
  at: number;
}

const SUB_DATABASES = 7;

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
      // Durability is never traded away: see LmdbStore for how promises wait for fsync.
      noSync: false,
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
