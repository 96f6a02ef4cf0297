/**
 * The embedded store: the {@link Store} contract, its durable LMDB implementation and
 * an in-memory fake for tests.
 */
export type { HeldAction, HeldMessage, PeerRecord, PeerSource, Store, StoredMessage, Trust } from './types.js';
export { LmdbStore, openLmdbStore } from './lmdb-store.js';
export { MemoryStore } from './memory-store.js';
