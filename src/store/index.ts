/**
 * The embedded store: the {@link Store} contract, its durable LMDB implementation and
 * an in-memory fake for tests.
 */
export type { PeerRecord, PeerSource, Store, StoredMessage } from './types.js';
export { LmdbStore, openLmdbStore } from './lmdb-store.js';
export { MemoryStore } from './memory-store.js';
