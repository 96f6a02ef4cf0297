/**
 * The signaler's requests about nodes registered at *other* instances of its cluster
 * (`sentinel-signaler --redis`): lookups answered from their presence, punches coordinated
 * with the target's instance (which applies the punch limits: every punch to a node meets
 * the same limiter, whichever instance the requester uses), relays joined across instances
 * (cluster/relay-bridge.ts). Registration spends a cluster-wide token, so moving between
 * instances does not reset a node's register rate, and a node that moved in the last
 * MOVE_GRACE_MS starts here with one request in its bucket, not a fresh burst.
 *
 * When the store is unreachable, requests about other instances' nodes are answered
 * SIGNAL_ERROR UNAVAILABLE; nodes of this instance are served as before.
 */
import type { NodeId } from '../api.js';
import { errorMessage } from '../errors.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { ClusterBackend } from '../cluster/backend.js';
import { PunchStatus, type PunchAnswer, type PunchAsk, type Presence } from '../cluster/codec.js';
import { ClusterLink } from '../cluster/link.js';
import type { RelayHub } from '../relay/hub.js';
import type { Clock, Counters, Session } from '../transport/index.js';
import { FrameType, GoawayCode, SignalErrorCode, encodeLookupResult, encodePunchStart, encodeSignalError } from '../wire/index.js';
import type { V6ClaimLimiter } from './claims.js';
import { DEFAULT_RTT_MS, PUNCH_ATTEMPTS, PUNCH_INTERVAL_MS, REGISTER_RATE } from './limits.js';
import { hasGlobalV6, localsFor } from './locals.js';
import type { PunchLimiter, PunchRefusal } from './punch-limits.js';
import { planPunch, type PunchParty } from './punch-plan.js';
import type { Registration } from './server.js';

/** Added to the target's punch delay: the requester's PUNCH_START leaves one bus round trip later. */
export const CLUSTER_HOP_MS = 10;

/** What of the signaler the cluster requests use. */
export interface SignalerView {
  registry: ReadonlyMap<NodeId, Registration>;
  relay: RelayHub;
  punches: PunchLimiter;
  claims: V6ClaimLimiter;
  clock: Clock;
  counters: Counters;
  log: Logger;
  notFound(s: Session, reqId: number, id: NodeId): void;
  refusePunch(s: Session, reqId: number, refused: PunchRefusal): void;
  /** Leave one request in a session's bucket (the node just moved here from another instance). */
  drainRequests(s: Session): void;
}

export const partyOf = (r: Registration): PunchParty => ({ id: r.id, observed: r.observed, local: r.local, listenPort: r.listenPort, rttMs: r.session.rttMs });

const REFUSAL_OF: Record<number, PunchRefusal> = { [PunchStatus.PAIR]: 'pair', [PunchStatus.TARGET_IP]: 'target_ip', [PunchStatus.TARGET]: 'target' };
const STATUS_OF: Record<PunchRefusal, number> = { pair: PunchStatus.PAIR, target_ip: PunchStatus.TARGET_IP, target: PunchStatus.TARGET };
const NO_ANSWER = { delayMs: 0, listenPort: 0, public: { host: '0.0.0.0', port: 0 }, local: [] };

export class ClusteredSignaling {
  readonly link: ClusterLink;

  constructor(
    private readonly v: SignalerView,
    backend: ClusterBackend,
  ) {
    this.link = new ClusterLink(
      { backend, clock: v.clock, counters: v.counters, log: v.log },
      {
        hub: v.relay,
        counters: v.counters,
        log: v.log,
        local: (id) => v.registry.get(id)?.session,
        localIds: () => v.registry.keys(),
        presenceOf: (id) => {
          const r = v.registry.get(id);
          return r && { listenPort: r.listenPort, rttMs: r.session.rttMs ?? DEFAULT_RTT_MS, registeredAt: r.registeredAt, observed: r.observed, local: r.local };
        },
        evict: (id) => {
          v.counters.inc('cluster.evicted');
          v.registry.get(id)?.session.close(GoawayCode.DUPLICATE, 'registered at another instance of this signaler cluster');
        },
        punchAsked: (ask) => this.punchAsked(ask),
      },
    );
  }

  get bridge(): ClusterLink['bridge'] {
    return this.link.bridge;
  }

  /**
   * REGISTER passed the session's own rate: spend the node's cluster-wide token, register
   * it here (`complete`), write its presence, and only then answer REGISTERED (`confirm`),
   * so that a registered node can be found from every instance at once. If the store
   * cannot be written, the node is still registered here.
   */
  register(s: Session, complete: () => Registration, confirm: () => void): void {
    void this.link.take(`reg:${s.peerId}`, REGISTER_RATE, true).then(async (ok) => {
      if (!ok) this.v.counters.inc('rate_limited.register_cluster');
      if (s.isClosed) return;
      if (!ok) {
        return void s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId: 0, code: SignalErrorCode.RATE_LIMITED, reason: 'too many registrations' }));
      }
      const reg = complete();
      const moved = await this.link.registered(reg.id, reg.registeredAt);
      if (moved) this.v.drainRequests(s);
      if (!s.isClosed) confirm();
    });
  }

  unregistered(id: NodeId): void {
    this.link.unregistered(id);
  }

  private async find(s: Session, reqId: number, id: NodeId): Promise<Presence | undefined> {
    try {
      const p = await this.link.find(id);
      if (!p && !s.isClosed) this.v.notFound(s, reqId, id);
      return s.isClosed ? undefined : p;
    } catch (err) {
      this.unavailable(s, reqId, errorMessage(err));
      return undefined;
    }
  }

  private unavailable(s: Session, reqId: number, reason: string): void {
    this.v.counters.inc('cluster.unavailable');
    if (!s.isClosed) s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId, code: SignalErrorCode.UNAVAILABLE, reason: reason.slice(0, 200) }));
  }

  async lookup(s: Session, me: Registration, reqId: number, id: NodeId, key: Uint8Array): Promise<void> {
    const p = await this.find(s, reqId, id);
    if (!p) return;
    this.v.counters.inc('cluster.lookups_remote');
    s.send(FrameType.LOOKUP_RESULT, encodeLookupResult({ reqId, target: key, public: p.observed, local: localsFor(p, me.observed.host, hasGlobalV6(me)) }));
  }

  /** PUNCH_REQUEST for a node of another instance: that instance decides and tells its node. */
  async punch(s: Session, me: Registration, reqId: number, id: NodeId): Promise<void> {
    const p = await this.find(s, reqId, id);
    if (!p) return;
    let a: PunchAnswer;
    try {
      a = await this.link.askPunch(p.instance, {
        requester: publicKeyFromNodeId(me.id),
        target: publicKeyFromNodeId(id),
        listenPort: me.listenPort,
        rttMs: me.session.rttMs ?? DEFAULT_RTT_MS,
        hasV6: hasGlobalV6(me),
        observed: me.observed,
        local: me.local,
      });
    } catch (err) {
      return this.unavailable(s, reqId, errorMessage(err));
    }
    if (s.isClosed) return;
    const refused = REFUSAL_OF[a.status];
    if (refused) return this.v.refusePunch(s, reqId, refused);
    if (a.status !== PunchStatus.OK) return this.v.notFound(s, reqId, id);
    s.send(
      FrameType.PUNCH_START,
      encodePunchStart({ reqId, peer: publicKeyFromNodeId(id), delayMs: a.delayMs, attempts: PUNCH_ATTEMPTS, intervalMs: PUNCH_INTERVAL_MS, listenPort: a.listenPort, public: a.public, local: a.local, sameNat: me.observed.host === a.public.host }),
    );
    this.v.counters.inc('punches');
    this.v.counters.inc('cluster.punches_remote');
  }

  /** A PUNCH_ASK from another instance for a node registered here. */
  private punchAsked(ask: PunchAsk): Omit<PunchAnswer, 'kind' | 'corr'> {
    const target = this.v.registry.get(nodeIdFromPublicKey(ask.target));
    const requester = nodeIdFromPublicKey(ask.requester);
    if (!target) return { status: PunchStatus.NOT_FOUND, ...NO_ANSWER };
    if (target.id === requester) return { status: PunchStatus.SELF, ...NO_ANSWER };
    const now = this.v.clock.now();
    const refused = this.v.punches.admit(requester, ask.observed.host, target.id, now);
    if (refused) {
      this.v.counters.inc(`cluster.punch_refused.${refused}`);
      return { status: STATUS_OF[refused], ...NO_ANSWER };
    }
    const plan = planPunch(this.v.claims, { id: requester, observed: ask.observed, local: ask.local, listenPort: ask.listenPort, rttMs: ask.rttMs }, partyOf(target), now, CLUSTER_HOP_MS);
    if (plan.withheld > 0) this.v.counters.inc('v6_claims_withheld', plan.withheld);
    target.session.send(FrameType.PUNCH_START, encodePunchStart(plan.toTarget));
    this.v.counters.inc('cluster.punches_coordinated');
    const t = plan.toRequester;
    return { status: PunchStatus.OK, delayMs: t.delayMs, listenPort: t.listenPort, public: t.public, local: t.local };
  }

  /** RELAY_OPEN to a node of another instance: the circuit is owned here. */
  async relayOpen(s: Session, reqId: number, id: NodeId): Promise<void> {
    let p: Presence | undefined;
    try {
      p = await this.link.find(id);
    } catch (err) {
      return this.unavailable(s, reqId, errorMessage(err));
    }
    if (s.isClosed) return;
    if (!p) return this.v.relay.open(s, reqId, id, undefined);
    this.link.bridge.open(s, reqId, id, p.instance);
  }
}
