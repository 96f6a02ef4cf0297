/**
 * Keeping the mesh: redial lost peers with backoff, keep --min-peers sessions by dialing
 * known peers (contacts first), and follow mDNS hints. Contacts are dialed by every means
 * (known addresses, then punching); strangers only at known addresses and within the dial
 * budget (see connect/dialer.ts). Decisions are in ReconnectPlanner; this runs them.
 */
import type { NodeId } from '../api.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Dialer } from '../connect/dialer.js';
import type { PeerDirectory } from '../peers/directory.js';
import type { SessionListener } from '../peers/lifecycle.js';
import type { PeerSource } from '../store/types.js';
import { parseHostPort, type Clock, type ConnectionManager } from '../transport/index.js';
import { MAINTAIN_INTERVAL_MS, ReconnectPlanner } from './reconnect.js';

/** Hints whose source is remembered while their dial runs (bounded by the dial budget anyway). */
const MAX_PENDING_SOURCES = 256;

/** A peer the gossip book holds a record for. */
export interface GossipKnown {
  id: NodeId;
  issuedAt: number;
  endpoints: Array<{ host: string; port: number }>;
}

export interface MembershipDeps {
  directory: PeerDirectory;
  manager: ConnectionManager;
  dialer: Dialer;
  clock: Clock;
  log: Logger;
  minPeers: number;
  /** Redial lost peers (false in tests that dial explicitly). */
  reconnect: boolean;
  /** Can contacts without a known address be reached by punching? */
  canPunch(): boolean;
  /** Peers known only from gossip records (bounded by the book): more candidates for --min-peers. */
  gossipKnown?(): GossipKnown[];
  planner?: ReconnectPlanner;
}

export class Membership implements SessionListener {
  private readonly planner: ReconnectPlanner;
  private readonly sources = new Map<NodeId, PeerSource>();
  private timer: unknown;
  private stopped = false;

  constructor(private readonly deps: MembershipDeps) {
    this.planner = deps.planner ?? new ReconnectPlanner();
  }

  start(): void {
    this.timer = this.deps.clock.setInterval(() => this.maintain(), MAINTAIN_INTERVAL_MS);
  }

  stop(): void {
    this.stopped = true;
    this.deps.clock.clearInterval(this.timer);
  }

  /** How a peer we dialed on our own was learned (for the directory), while known. */
  sourceOf(peer: NodeId): PeerSource | undefined {
    return this.sources.get(peer);
  }

  onSessionUp(s: { peerId: NodeId }, replaced: boolean): void {
    if (replaced) return;
    this.planner.forget(s.peerId);
    this.sources.delete(s.peerId);
  }

  onSessionDown(peer: NodeId): void {
    if (this.deps.reconnect && !this.stopped && !this.deps.directory.isBlocked(peer)) this.planner.lost(peer, this.deps.clock.now());
  }

  /**
   * A discovery hint (mDNS): `id` says it listens at `endpoints`. Only a hint: the dial
   * expects that id, so TLS proves who answers; a stranger's hint is dialed within the
   * budget only.
   */
  onHint(id: NodeId, endpoints: ReadonlyArray<{ host: string; port: number }>, source: PeerSource): void {
    const { manager, directory, dialer } = this.deps;
    if (this.stopped || manager.session(id) || directory.isBlocked(id)) return;
    if (!directory.get(id) && this.sources.size < MAX_PENDING_SOURCES) this.sources.set(id, source);
    void dialer.dialStranger(id, endpoints, `${source} hint`).finally(() => {
      if (!manager.session(id)) this.sources.delete(id);
    });
  }

  /** Redial lost peers whose backoff expired, and top up to the minimum peer count. */
  maintain(): void {
    if (this.stopped) return;
    const { directory, manager } = this.deps;
    const now = this.deps.clock.now();
    const targets = this.deps.reconnect ? this.planner.due(now) : [];
    const connected = new Set(manager.sessions().map((s) => s.peerId));
    // The gossip book can hold thousands of records: read it at most once per round, not
    // once per redial (that made an idle node's CPU grow with the book times the redials).
    let gossip: Map<NodeId, GossipKnown> | undefined;
    const known = (): Map<NodeId, GossipKnown> => (gossip ??= new Map((this.deps.gossipKnown?.() ?? []).map((g) => [g.id, g])));
    // Only when short of sessions is the (bounded) list of candidates looked at.
    if (connected.size < this.deps.minPeers) {
      for (const id of this.planner.toFill(this.candidates(known()), connected, this.deps.minPeers, now)) {
        this.planner.failed(id, now); // counts as in flight until the outcome below
        targets.push(id);
      }
    }
    for (const id of targets) {
      if (connected.has(id) || directory.isBlocked(id)) {
        this.planner.forget(id);
        continue;
      }
      this.redial(id, known);
    }
  }

  /** Peers to consider for --min-peers: remembered ones, then those only gossip told us of. */
  private candidates(gossip: ReadonlyMap<NodeId, GossipKnown>): Array<{ id: NodeId; lastSeen: number | null; dialable: boolean; contact: boolean }> {
    const { directory } = this.deps;
    const canPunch = this.deps.canPunch();
    const out = directory
      .all()
      .filter((p) => p.trust !== 'blocked')
      .map((p) => ({ id: p.id, lastSeen: p.lastSeen, contact: p.trust === 'contact', dialable: p.addresses.length > 0 || (p.trust === 'contact' && canPunch) }));
    const seen = new Set(out.map((c) => c.id));
    for (const g of gossip.values()) {
      if (!seen.has(g.id)) out.push({ id: g.id, lastSeen: g.issuedAt, contact: false, dialable: g.endpoints.length > 0 });
    }
    return out;
  }

  private endpointsFor(id: NodeId, gossip: () => ReadonlyMap<NodeId, GossipKnown>): Array<{ host: string; port: number }> {
    const known = this.deps.directory.get(id)?.addresses;
    if (known && known.length > 0) return endpointsOf(known);
    return [...(gossip().get(id)?.endpoints ?? [])];
  }

  private redial(id: NodeId, gossip: () => ReadonlyMap<NodeId, GossipKnown>): void {
    const { directory, dialer, log } = this.deps;
    log.debug(`redialing ${id}`);
    if (!directory.get(id) && this.sources.size < MAX_PENDING_SOURCES) this.sources.set(id, 'gossip');
    const attempt = directory.isContact(id)
      ? dialer.dialId(id, () => {}, true).then((r) => r.session)
      : dialer.dialStranger(id, this.endpointsFor(id, gossip), 'redial');
    attempt.then(
      (session) => {
        if (session) return this.planner.forget(id);
        this.planner.failed(id, this.deps.clock.now());
        this.sources.delete(id);
      },
      (err) => {
        this.planner.failed(id, this.deps.clock.now());
        this.sources.delete(id);
        log.debug(`redial of ${id} failed: ${errorMessage(err)}`);
      },
    );
  }
}

function endpointsOf(addresses: readonly string[]): Array<{ host: string; port: number }> {
  return addresses.map((a) => parseHostPort(a)).filter((a): a is { host: string; port: number } => a !== undefined);
}
