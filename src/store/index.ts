/**
 * The embedded store: the {@link Store} contract, its durable LMDB implementation and
 * an in-memory fake for tests.
 */
export type { HeldAction, HeldMessage, PeerRecord, PeerSource, Store, StoreHealth, StoredMessage, Trust } from './types.js';
export { LmdbStore, openLmdbStore, type LmdbStoreOptions } from './lmdb-store.js';
export * from './limits.js';
export { MemoryStore } from './memory-store.js';
