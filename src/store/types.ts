import type { MessageStatus, NodeId } from '../api.js';

/** What the store keeps about a peer. */
export interface PeerRecord {
  id: NodeId;
  alias: string | null;
  /** Name the peer announced (HELLO). */
  name: string | null;
  /** Dialable addresses, host:port, most recent first. */
  addresses: string[];
  /** ms since epoch, or null if never seen. */
  lastSeen: number | null;
  /** How we first learned of this peer (absent in records written before it existed). */
  learnedFrom?: PeerSource;
  /**
   * Whether the user chose this peer (`contact`), blocked it, or neither (`stranger`).
   * Absent in records written before trust existed (the peer directory migrates them).
   */
  trust?: Trust;
}

/** What the user decided about a peer: see docs/SECURITY.md. */
export type Trust = 'contact' | 'stranger' | 'blocked';

/** Where a peer was learned: dialed or seen directly, the signaler, mDNS or gossip. */
export type PeerSource = 'manual' | 'signaler' | 'mdns' | 'gossip';

/** A signed chat message as stored (history and outbox share this shape). */
export interface StoredMessage {
  /** 32 lowercase hex characters (16 random bytes). */
  id: string;
  from: NodeId;
  to: NodeId;
  timestamp: number;
  text: string;
  /** Ed25519 signature over the CHAT signing input (docs/PROTOCOL.md). 64 bytes. */
  signature: Uint8Array;
  /**
   * Set when the message was signed as part of a batch (CHAT_BATCHED): the proof block
   * (index u16, depth u8, path; docs/PROTOCOL.md) and `signature` is over the batch root.
   * Absent in per-message signed rows (and in every row written before batches existed).
   */
  proof?: Uint8Array;
  status: MessageStatus;
}

/** How the store is doing, for `status`. */
export interface StoreHealth {
  /** True while new messages are refused for lack of disk space (E_STORE_FULL). */
  full: boolean;
  /** Free bytes on the store's filesystem at the last check, or null when unknown. */
  freeBytes: number | null;
  /** Free space kept in reserve: new messages are refused below it. */
  reserveBytes: number;
  /**
   * `store.full_refusals`: writes refused for lack of space (before or at commit);
   * `store.write_failures`: writes that failed for any other reason.
   */
  counters: { 'store.full_refusals': number; 'store.write_failures': number };
}

/**
 * A message received from a stranger, indexed so that the stranger quotas (count and bytes,
 * per stranger and in total) survive restarts, until it is accepted, deleted or released.
 */
export interface HeldMessage {
  peer: NodeId;
  id: string;
  /** Bytes it counts against the quotas. */
  bytes: number;
  /** When it arrived (ms since the epoch). */
  at: number;
  /** True when it is kept as a message request (status `request`). */
  request: boolean;
}

/** What {@link Store.releaseHeld} does with held messages. */
export type HeldAction = 'accept' | 'delete' | 'release';

/**
 * The embedded store. Every method that returns a Promise resolves only after the
 * write is committed AND flushed to disk, so a caller may tell the user "saved".
 * A write that cannot be made durable rejects with SentinelError `E_STORE_FULL` (no disk
 * space) or `E_STORE` (anything else) and changes nothing; reads keep working.
 * Reads are synchronous snapshots.
 */
export interface Store {
  getMeta<T = unknown>(key: string): T | undefined;
  putMeta(key: string, value: unknown): Promise<void>;

  getPeer(id: NodeId): PeerRecord | undefined;
  listPeers(): PeerRecord[];
  /** Insert or replace the record for `rec.id`. */
  putPeer(rec: PeerRecord): Promise<void>;
  /** Forget a peer's record (its messages stay). Unknown id: no-op. */
  deletePeer(id: NodeId): Promise<void>;

  /**
   * Append `msg` to the conversation with `peer` (the other party), in arrival order.
   * With `outbox: true` it is also queued in the outbox for `peer`, in the same transaction.
   * With `held` it is also indexed as held from a stranger (see {@link HeldMessage}).
   * Resolves false (and writes nothing) when a message with the same id already exists.
   */
  addMessage(peer: NodeId, msg: StoredMessage, opts?: { outbox?: boolean; held?: { bytes: number; at: number } }): Promise<boolean>;
  hasMessage(id: string): boolean;
  getMessage(id: string): StoredMessage | undefined;
  /** Update a message's status; `delivered` and `refused` also remove it from the outbox. Unknown id: no-op, resolves false. */
  setStatus(id: string, status: MessageStatus): Promise<boolean>;
  /**
   * The peer acknowledged these messages of ours: each one still queued leaves the outbox
   * and reads `delivered` from then on. All in one write (one transaction), and cheaper
   * than {@link setStatus} (LmdbStore: the message rows are not rewritten, a small mark is
   * written beside each). Unknown or unqueued ids are skipped; resolves with how many were
   * marked.
   */
  markDelivered(ids: readonly string[]): Promise<number>;
  /**
   * The last `limit` messages with `peer`, oldest first (all if limit undefined); with
   * `before` (a message id), only messages stored before that one (paging backwards).
   */
  history(peer: NodeId, limit?: number, before?: string): StoredMessage[];
  /** The last `limit` messages across all conversations, oldest first, in store order; `before` as in history. */
  allHistory(limit?: number, before?: string): StoredMessage[];
  /**
   * The first `limit` messages queued for `peer` (all if undefined), in the order they were
   * queued; with `after` (a message id of that conversation), only those queued after it.
   */
  outbox(peer: NodeId, limit?: number, after?: string): StoredMessage[];
  /** Peers that have at least one queued message. */
  outboxPeers(): NodeId[];

  /** Every held message (from strangers), in arrival order. */
  heldMessages(): HeldMessage[];
  /**
   * Ends the hold on the given held messages: `accept` turns requests into ordinary
   * received messages, `delete` removes the messages themselves, `release` only drops them
   * from the index (they stay as they are). Unknown or not-held ids are skipped. Resolves
   * with how many were affected.
   */
  releaseHeld(ids: readonly string[], action: HeldAction): Promise<number>;
  /** Free space and write refusals (never throws, also after close). */
  health(): StoreHealth;

  close(): Promise<void>;
}
