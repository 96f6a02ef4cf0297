/**
 * An in-process cluster store for fast tests of the cluster logic (beside the real Redis
 * tests): one {@link MemoryStore} shared by any number of {@link MemoryBackend}s, with
 * expiring keys on an injected clock, channels delivered on the next microtask, and
 * switches a test can flip: the store down, reads held (never answered until released).
 */
import type { NodeId } from '../../src/api.js';
import type { Clock } from '../../src/core/clock.js';
import { TokenBucket, type Rate } from '../../src/core/rate.js';
import type { ClusterBackend, ClusterBackendEvents } from '../../src/cluster/backend.js';

export class MemoryStore {
  readonly keys = new Map<string, { value: Buffer; expires: number }>();
  readonly instances = new Map<string, number>();
  readonly buckets = new Map<string, TokenBucket>();
  readonly channels = new Map<string, (msg: Buffer) => void>();
  up = true;
  /** While true, presence reads wait until {@link release}. */
  holdReads = false;
  private held: (() => void)[] = [];
  readonly backends = new Set<MemoryBackend>();

  constructor(readonly clock: Clock) {}

  release(): void {
    const h = this.held;
    this.held = [];
    for (const f of h) f();
  }

  hold(): Promise<void> {
    return new Promise((r) => this.held.push(r));
  }

  setUp(up: boolean): void {
    this.up = up;
    for (const b of this.backends) b.notify(up);
  }

  get(key: string): Buffer | undefined {
    const e = this.keys.get(key);
    if (!e) return undefined;
    if (e.expires <= this.clock.now()) {
      this.keys.delete(key);
      return undefined;
    }
    return e.value;
  }
}

let seq = 0;

export class MemoryBackend implements ClusterBackend {
  readonly instance = (++seq).toString(16).padStart(16, '0');
  readonly label = 'memory';
  private events: ClusterBackendEvents | undefined;
  /** Every message this instance sent: [to, bytes]. */
  readonly sent: [string, Buffer][] = [];

  constructor(readonly store: MemoryStore) {}

  get up(): boolean {
    return this.store.up;
  }

  notify(up: boolean): void {
    this.events?.state(up);
  }

  private check(): void {
    if (!this.store.up) throw new Error('store down');
  }

  async start(events: ClusterBackendEvents): Promise<void> {
    this.check();
    this.events = events;
    this.store.backends.add(this);
    this.store.channels.set(this.instance, (m) => queueMicrotask(() => this.events?.message(m)));
  }

  async close(): Promise<void> {
    this.store.backends.delete(this);
    this.store.channels.delete(this.instance);
  }

  async putPresence(id: NodeId, value: Buffer, ttlMs: number): Promise<Buffer | undefined> {
    this.check();
    const old = this.store.get(id);
    this.store.keys.set(id, { value, expires: this.store.clock.now() + ttlMs });
    return old;
  }

  async restorePresence(id: NodeId, value: Buffer, ttlMs: number): Promise<void> {
    this.check();
    if (!this.store.get(id)) this.store.keys.set(id, { value, expires: this.store.clock.now() + ttlMs });
  }

  async getPresence(id: NodeId): Promise<Buffer | undefined> {
    this.check();
    if (this.store.holdReads) await this.store.hold();
    return this.store.get(id);
  }

  async dropPresence(id: NodeId): Promise<void> {
    this.check();
    const v = this.store.get(id);
    if (v && v.subarray(0, 8).toString('hex') === this.instance) this.store.keys.delete(id);
  }

  async touchPresence(ids: readonly NodeId[], ttlMs: number): Promise<NodeId[]> {
    this.check();
    const missing: NodeId[] = [];
    for (const id of ids) {
      const e = this.store.get(id) && this.store.keys.get(id);
      if (e) e.expires = this.store.clock.now() + ttlMs;
      else missing.push(id);
    }
    return missing;
  }

  async heartbeat(ttlMs: number): Promise<string[]> {
    this.check();
    const now = this.store.clock.now();
    this.store.instances.set(this.instance, now + ttlMs);
    for (const [i, exp] of this.store.instances) if (exp <= now) this.store.instances.delete(i);
    return [...this.store.instances.keys()];
  }

  send(instance: string, msg: Buffer): void {
    this.sent.push([instance, msg]);
    if (this.store.up) this.store.channels.get(instance)?.(msg);
  }

  async take(key: string, rate: Rate): Promise<boolean> {
    this.check();
    let b = this.store.buckets.get(key);
    if (!b) this.store.buckets.set(key, (b = new TokenBucket(rate.perSecond, rate.burst, this.store.clock.now())));
    return b.take(this.store.clock.now());
  }

  async memoryBytes(): Promise<number> {
    let n = 0;
    for (const [k, v] of this.store.keys) n += k.length + v.value.length;
    return n;
  }
}
