/**
 * One signaler instance's membership in a cluster: it writes the presence of the nodes
 * registered here (expiring, refreshed), keeps the list of live instances (heartbeat),
 * finds nodes registered elsewhere, asks their instance to coordinate punches, and
 * dispatches the bus messages it receives. The signaler (src/signaler/server.ts) stays the
 * owner of its sessions and limits; this only moves hints between instances.
 *
 * Timings (docs/SCALING.md): an instance is dead INSTANCE_TTL_MS after its last heartbeat
 * (its nodes then look unregistered to everyone else), presence expires PRESENCE_TTL_MS
 * after its instance stopped refreshing it.
 */
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage } from '../errors.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { Rate } from '../core/rate.js';
import type { Clock, Counters } from '../transport/index.js';
import type { ClusterBackend } from './backend.js';
import { BusKind, decodeBus, decodePresence, encodeBus, encodePresence, type BusMessage, type PunchAnswer, type PunchAsk, type Presence } from './codec.js';
import { RelayBridge, type BridgeHost } from './relay-bridge.js';

/** How long a node's presence lives without a refresh. */
export const PRESENCE_TTL_MS = 30_000;
/** How often an instance refreshes its nodes' presence. */
export const PRESENCE_REFRESH_MS = 10_000;
/** An instance that has not sent a heartbeat for this long is dead. */
export const INSTANCE_TTL_MS = 4_000;
/** Heartbeat interval. */
export const HEARTBEAT_MS = 1_000;
/**
 * After the store comes back (it may have restarted empty), instances and presence take a
 * heartbeat or two to be written again: for this long a miss is answered UNAVAILABLE (retry),
 * not "not registered", and no instance is taken for dead.
 */
export const RECONNECT_GRACE_MS = INSTANCE_TTL_MS;
/** How long a PUNCH_ASK waits for its answer. */
export const PUNCH_ASK_TIMEOUT_MS = 3_000;
/** PUNCH_ASKs waiting for an answer at once; more are refused (UNAVAILABLE). */
export const MAX_PENDING_ASKS = 4_096;
/**
 * Presence reads (lookups, punch and relay requests about other instances' nodes) waiting
 * for Redis at once; more are answered UNAVAILABLE (`cluster.finds_refused`), so a flood of
 * requests cannot queue without bound in front of the store.
 */
export const MAX_PENDING_FINDS = 2_048;
/** A node that registered at another instance less than this long ago gets no fresh request burst here. */
export const MOVE_GRACE_MS = 10_000;

/** What the link needs from its signaler. */
export interface ClusterHost extends Omit<BridgeHost, 'alive' | 'send'> {
  /** Node ids registered here now. */
  localIds(): Iterable<NodeId>;
  /** The presence of a node registered here (instance filled in by the link). */
  presenceOf(id: NodeId): Omit<Presence, 'instance'> | undefined;
  /** Close a local node's session: it registered at another instance since. */
  evict(id: NodeId): void;
  /** A PUNCH_ASK for a node registered here (the target): tell it, and answer. */
  punchAsked(ask: PunchAsk): Omit<PunchAnswer, 'kind' | 'corr'>;
}

export interface ClusterLinkOptions {
  backend: ClusterBackend;
  clock: Clock;
  counters: Counters;
  log: Logger;
}

interface Ask {
  resolve: (a: PunchAnswer) => void;
  reject: (e: Error) => void;
  timer: unknown;
}

const unavailable = (what: string): SentinelError => new SentinelError('E_CLUSTER', what);

export class ClusterLink {
  readonly bridge: RelayBridge;
  private live = new Set<string>();
  private readonly asks = new Map<number, Ask>();
  private nextCorr = 1;
  private pendingFinds = 0;
  private beating: Promise<void> | undefined;
  /** Until when misses are not trusted (RECONNECT_GRACE_MS after the store came back). */
  private graceUntil = 0;
  private timers: unknown[] = [];
  private wasDown = false;

  constructor(
    private readonly opts: ClusterLinkOptions,
    private readonly host: ClusterHost,
  ) {
    this.bridge = new RelayBridge({
      ...host,
      alive: (i) => this.alive(i),
      send: (i, hop) => this.send(i, hop),
    });
  }

  get instance(): string {
    return this.opts.backend.instance;
  }

  /** Where the store is (no password). */
  get label(): string {
    return this.opts.backend.label;
  }

  /** Live instances (this one included), as of the last heartbeat. */
  get instances(): string[] {
    return [...this.live];
  }

  alive(instance: string): boolean {
    return this.opts.backend.up && this.live.has(instance);
  }

  async start(): Promise<void> {
    const b = this.opts.backend;
    await b.start({ message: (m) => this.onMessage(m), state: (up) => this.onState(up) });
    await this.beat();
    const { clock } = this.opts;
    this.timers.push(clock.setInterval(() => void this.beatNow(), HEARTBEAT_MS));
    this.timers.push(clock.setInterval(() => void this.refresh(), PRESENCE_REFRESH_MS));
  }

  async close(): Promise<void> {
    for (const t of this.timers) this.opts.clock.clearInterval(t);
    this.timers = [];
    for (const [corr, a] of this.asks) {
      this.opts.clock.clearTimeout(a.timer);
      a.reject(new SentinelError('E_SHUTDOWN'));
      this.asks.delete(corr);
    }
    await this.opts.backend.close();
  }

  /** A heartbeat now, shared by everyone who asks while it runs. */
  private beatNow(): Promise<void> {
    this.beating ??= this.beat().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async beat(): Promise<void> {
    let now: string[];
    try {
      now = await this.opts.backend.heartbeat(INSTANCE_TTL_MS);
    } catch {
      this.opts.counters.inc('cluster.heartbeat_failed');
      return;
    }
    const next = new Set(now);
    // Just after the store came back, instances that have not beaten yet are not dead.
    if (this.inGrace()) for (const i of this.live) next.add(i);
    const gone = [...this.live].filter((i) => !next.has(i));
    for (const i of now) if (!this.live.has(i) && i !== this.instance) this.opts.log.info(`cluster: instance ${i} joined`);
    this.live = next;
    if (gone.length > 0) {
      this.opts.log.info(`cluster: instance(s) ${gone.join(', ')} gone`);
      this.opts.counters.inc('cluster.instances_gone', gone.length);
      this.bridge.instancesGone((i) => gone.includes(i));
    }
  }

  private onState(up: boolean): void {
    if (!up) {
      this.wasDown = true;
      this.opts.counters.inc('cluster.store_down');
      this.opts.log.warn(`cluster: Redis at ${this.opts.backend.label} unreachable; serving local nodes only until it is back`);
      this.bridge.instancesGone((i) => i !== this.instance);
      return;
    }
    if (!this.wasDown) return;
    this.wasDown = false;
    this.graceUntil = this.opts.clock.now() + RECONNECT_GRACE_MS;
    this.opts.log.info(`cluster: Redis at ${this.opts.backend.label} is back; writing presence again`);
    // It may have restarted empty: write everything again, then look at who is alive.
    void this.republish([...this.host.localIds()]).then(() => this.beat());
  }

  private presence(id: NodeId): Buffer | undefined {
    const p = this.host.presenceOf(id);
    return p ? encodePresence({ ...p, instance: this.instance }) : undefined;
  }

  /**
   * A node registered here: write its presence. Resolves true when it was registered at
   * another live instance less than MOVE_GRACE_MS ago (that instance is told to drop it).
   */
  async registered(id: NodeId, registeredAt: number): Promise<boolean> {
    const value = this.presence(id);
    if (!value) return false;
    let old: Buffer | undefined;
    try {
      old = await this.opts.backend.putPresence(id, value, PRESENCE_TTL_MS);
    } catch (err) {
      this.opts.counters.inc('cluster.presence_failed');
      this.opts.log.debug(`cluster: presence of ${id} not written: ${errorMessage(err)}`);
      return false;
    }
    if (!old) return false;
    let prev: Presence;
    try {
      prev = decodePresence(old);
    } catch {
      return false;
    }
    if (prev.instance === this.instance || !this.live.has(prev.instance)) return false;
    this.send(prev.instance, { kind: BusKind.EVICT, node: publicKeyFromNodeId(id) });
    return registeredAt - prev.registeredAt < MOVE_GRACE_MS;
  }

  unregistered(id: NodeId): void {
    this.bridge.sessionDown(id);
    this.opts.backend.dropPresence(id).catch(() => this.opts.counters.inc('cluster.presence_failed'));
  }

  /** Presence of a node registered at another live instance; throws when the store cannot answer. */
  async find(id: NodeId): Promise<Presence | undefined> {
    if (!this.opts.backend.up) throw unavailable(`Redis at ${this.opts.backend.label} is unreachable`);
    if (this.pendingFinds >= MAX_PENDING_FINDS) {
      this.opts.counters.inc('cluster.finds_refused');
      throw unavailable('too many requests about other instances in flight; retry');
    }
    let raw: Buffer | undefined;
    this.pendingFinds++;
    try {
      raw = await this.opts.backend.getPresence(id);
    } catch (err) {
      throw unavailable(errorMessage(err));
    } finally {
      this.pendingFinds--;
    }
    if (!raw) return this.miss();
    let p: Presence;
    try {
      p = decodePresence(raw);
    } catch {
      this.opts.counters.inc('cluster.presence_malformed');
      return undefined;
    }
    // An instance that joined since our last heartbeat: look at the list again (once per beat).
    if (p.instance !== this.instance && !this.live.has(p.instance)) await this.beatNow();
    // Its instance is gone (stale), or it is ours but no longer registered here.
    if (p.instance === this.instance || !this.live.has(p.instance)) {
      this.opts.counters.inc('cluster.presence_stale');
      return this.miss();
    }
    return p;
  }

  private inGrace(): boolean {
    return this.opts.clock.now() < this.graceUntil;
  }

  /** Not found, unless the store only just came back and may not have everything yet. */
  private miss(): undefined {
    if (this.inGrace()) throw unavailable('the cluster store just came back and is being refilled; retry in a few seconds');
    return undefined;
  }

  /** Cluster-wide token bucket; when the store cannot answer, `fallback` decides. */
  async take(key: string, rate: Rate, fallback: boolean): Promise<boolean> {
    if (!this.opts.backend.up) return fallback;
    try {
      return await this.opts.backend.take(key, rate);
    } catch {
      return fallback;
    }
  }

  /** Ask the instance of a node registered there to coordinate a punch with it. */
  askPunch(instance: string, ask: Omit<PunchAsk, 'kind' | 'corr'>): Promise<PunchAnswer> {
    if (this.asks.size >= MAX_PENDING_ASKS) {
      this.opts.counters.inc('cluster.asks_refused');
      return Promise.reject(unavailable('too many punch requests in flight'));
    }
    const corr = this.nextCorr;
    this.nextCorr = corr >= 0xffff_ffff ? 1 : corr + 1;
    return new Promise((resolve, reject) => {
      const timer = this.opts.clock.setTimeout(() => {
        this.asks.delete(corr);
        this.opts.counters.inc('cluster.ask_timeouts');
        reject(unavailable(`instance ${instance} did not answer in time`));
      }, PUNCH_ASK_TIMEOUT_MS);
      this.asks.set(corr, { resolve, reject, timer });
      this.send(instance, { kind: BusKind.PUNCH_ASK, corr, ...ask });
    });
  }

  private send(instance: string, msg: BusMessage): void {
    this.opts.counters.inc('cluster.bus_sent');
    this.opts.backend.send(instance, encodeBus(this.instance, msg));
  }

  private onMessage(raw: Buffer): void {
    let env;
    try {
      env = decodeBus(raw);
    } catch (err) {
      this.opts.counters.inc('cluster.bus_malformed');
      this.opts.log.debug(`cluster: malformed bus message: ${errorMessage(err)}`);
      return;
    }
    this.opts.counters.inc('cluster.bus_received');
    const { from, msg } = env;
    switch (msg.kind) {
      case BusKind.PUNCH_ASK:
        return this.send(from, { kind: BusKind.PUNCH_ANSWER, corr: msg.corr, ...this.host.punchAsked(msg) });
      case BusKind.PUNCH_ANSWER: {
        const a = this.asks.get(msg.corr);
        if (!a) return;
        this.asks.delete(msg.corr);
        this.opts.clock.clearTimeout(a.timer);
        return a.resolve(msg);
      }
      case BusKind.RELAY_DOWN:
        return this.bridge.downFrom(from, msg);
      case BusKind.RELAY_UP:
        return this.bridge.up(from, msg);
      case BusKind.EVICT:
        return this.host.evict(nodeIdFromPublicKey(msg.node));
    }
  }

  /** Refresh the presence of every node registered here; rewrite what the store lost. */
  private async refresh(): Promise<void> {
    const ids = [...this.host.localIds()];
    if (ids.length === 0 || !this.opts.backend.up) return;
    try {
      const missing = await this.opts.backend.touchPresence(ids, PRESENCE_TTL_MS);
      if (missing.length > 0) {
        this.opts.counters.inc('cluster.presence_rewritten', missing.length);
        await this.republish(missing);
      }
    } catch {
      this.opts.counters.inc('cluster.presence_failed');
    }
  }

  private async republish(ids: NodeId[]): Promise<void> {
    await Promise.allSettled(
      ids.map((id) => {
        const v = this.presence(id);
        // Only where the store has nothing: a node that moved to another instance meanwhile keeps its new presence.
        return v ? this.opts.backend.restorePresence(id, v, PRESENCE_TTL_MS) : undefined;
      }),
    );
  }
}
