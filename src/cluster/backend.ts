/**
 * What a signaler instance needs from the store it shares with the other instances of its
 * cluster: expiring presence hints, a list of live instances, one pub/sub channel per
 * instance, and token buckets that hold for the whole cluster. redis-backend.ts is the
 * real one (Redis through ioredis); test/helpers/memory-cluster.ts is an in-process one for
 * fast tests of the logic around it.
 */
import type { NodeId } from '../api.js';
import type { Rate } from '../core/rate.js';

export interface ClusterBackendEvents {
  /** A bus message for this instance (undecoded). */
  message: (msg: Buffer) => void;
  /**
   * The store became reachable (`true`, also after a reconnect, when it may have lost
   * everything: the instance then writes its presence again) or unreachable (`false`).
   */
  state: (up: boolean) => void;
}

export interface ClusterBackend {
  /** This instance's id, 16 hex digits (random per process start). */
  readonly instance: string;
  /** Where the store is, for logs and status (no password). */
  readonly label: string;
  /** Whether the store answers now. */
  readonly up: boolean;
  /** Connects (rejects with a clear message when the store cannot be reached) and subscribes. */
  start(events: ClusterBackendEvents): Promise<void>;
  close(): Promise<void>;
  /** Writes a node's presence with a TTL; resolves with the value it replaced, if any. */
  putPresence(id: NodeId, value: Buffer, ttlMs: number): Promise<Buffer | undefined>;
  /** Writes a node's presence only if the store has none (after the store lost it). */
  restorePresence(id: NodeId, value: Buffer, ttlMs: number): Promise<void>;
  getPresence(id: NodeId): Promise<Buffer | undefined>;
  /** Deletes a node's presence if it still names this instance. */
  dropPresence(id: NodeId): Promise<void>;
  /** Extends the TTL of these nodes' presence; resolves with the ids whose keys were gone. */
  touchPresence(ids: readonly NodeId[], ttlMs: number): Promise<NodeId[]>;
  /** Marks this instance alive for `ttlMs`; resolves with every live instance (this one included). */
  heartbeat(ttlMs: number): Promise<string[]>;
  /** Publishes to one instance's channel; fire and forget (a lost message times out at the asker). */
  send(instance: string, msg: Buffer): void;
  /** Takes one token from the cluster-wide bucket `key`; false when empty. */
  take(key: string, rate: Rate): Promise<boolean>;
  /** Bytes the store uses in all (Redis INFO used_memory), for benchmarks. */
  memoryBytes(): Promise<number>;
}
