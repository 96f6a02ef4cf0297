/**
 * The signaler (matchmaker). Nodes hold a mutually authenticated TLS session with it;
 * that session IS the registration, so only the holder of a key can register its id.
 * It records the session's observed public address and the node's self-reported local
 * addresses, answers lookups, and coordinates hole punching by telling both sides each
 * other's addresses and when to start (see timing.ts and docs/PROTOCOL.md).
 *
 * Nothing a node sends makes the signaler push unbounded work onto another node: at most
 * 4 checked private endpoints are kept per registration and forwarded only to nodes behind
 * the same public address, at most 2 global IPv6 endpoints on the identity port, forwarded
 * only to nodes with IPv6 (locals.ts) and within a per-/64 budget (claims.ts), and PUNCH_STARTs to one target are rate-limited
 * per pair, per requester address and in total (rate.ts PunchLimiter).
 *
 * It also relays (src/relay/hub.ts RelayHub): on request it joins two registered nodes' sessions
 * into a circuit and forwards their end-to-end encrypted bytes, within per-node limits
 * (`--no-relay` turns this off). Netcheck (netcheck.ts): a probe port and, on request, a
 * connect to the requester's own public address, to tell it how its NAT behaves.
 */
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage } from '../errors.js';
import { nodeIdFromPublicKey, type Identity } from '../identity/index.js';
import type { Logger } from '../log.js';
import { ConnectionManager, Counters, DEAD_AFTER_MS, HANDSHAKE_TIMEOUT_MS, CONNECT_TIMEOUT_MS, MAX_WRITE_BUFFER_BYTES, PING_INTERVAL_MS, parseHostPort, systemClock, type Clock, type Session, type TransportLimits } from '../transport/index.js';
import {
  FrameType,
  GoawayCode,
  SignalErrorCode,
  decodeLookup,
  decodeNetcheckRequest,
  decodePunchRequest,
  decodeRegister,
  decodeRelayOpen,
  encodeLookupResult,
  encodePunchStart,
  encodeRegistered,
  encodeSignalError,
  type Endpoint,
} from '../wire/index.js';
import {
  REGISTER_RATE,
  REGISTER_TIMEOUT_MS,
  REQUEST_RATE,
  SIGNAL_MAX_PAYLOAD,
  SIGNAL_MAX_PENDING_PER_IP,
  SIGNAL_MAX_SESSIONS,
  SIGNAL_MAX_SESSIONS_PER_IP,
  SIGNAL_MAX_PENDING_HANDSHAKES,
} from './limits.js';
import { V6ClaimLimiter } from './claims.js';
import { filterLocals, hasGlobalV6, localsFor } from './locals.js';
import { TokenBucket } from '../core/rate.js';
import { DEFAULT_PUNCH_LIMITS, PunchLimiter, type PunchLimits, type PunchRefusal } from './punch-limits.js';
import { RelayHub, type RelayLimits, type RelayStats } from '../relay/hub.js';
import { planPunch } from './punch-plan.js';
import { ClusteredSignaling, partyOf } from './clustered.js';
import type { ClusterBackend } from '../cluster/backend.js';
import { SignalerNetcheck, type SignalerNetcheckOptions } from './netcheck.js';

export interface Registration {
  id: NodeId;
  session: Session;
  observed: Endpoint;
  local: Endpoint[];
  listenPort: number;
  registeredAt: number;
}

export interface SignalerOptions {
  identity: Identity;
  log: Logger;
  clock?: Clock;
  limits?: Partial<TransportLimits>;
  registerTimeoutMs?: number;
  /** Punch limits; defaults from limits.ts. */
  punchLimits?: Partial<PunchLimits>;
  /**
   * Relaying: on unless `enabled` is false. `bytesPerSecond` is the RELAY_DATA rate per node
   * (default RELAY_RATE; the burst is then two seconds' worth).
   */
  relay?: { enabled: boolean; bytesPerSecond?: number };
  /** Relay limits for tests; defaults from limits.ts (`relay.bytesPerSecond` wins). */
  relayLimits?: Partial<RelayLimits>;
  /** Run as one instance of a cluster sharing this store (`--redis`); absent: standalone. */
  cluster?: ClusterBackend;
  /** Netcheck probe port (0: any free; `optional`: in use is a warning) and test hooks. Absent: no probe port. */
  netcheck?: { probePort: number; optional?: boolean } & Omit<SignalerNetcheckOptions, 'clock' | 'counters'>;
}

export const SIGNALER_LIMITS: TransportLimits = {
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  connectTimeoutMs: CONNECT_TIMEOUT_MS,
  maxPendingHandshakesPerIp: SIGNAL_MAX_PENDING_PER_IP,
  maxPendingHandshakes: SIGNAL_MAX_PENDING_HANDSHAKES,
  maxSessionsPerIp: SIGNAL_MAX_SESSIONS_PER_IP,
  maxSessions: SIGNAL_MAX_SESSIONS,
  // Every registered node is the same to the signaler (no trust classes): these are unused.
  maxStrangerSessions: SIGNAL_MAX_SESSIONS,
  maxStrangerSessionsPerIp: SIGNAL_MAX_SESSIONS_PER_IP,
  strangerWriteBufferBytes: MAX_WRITE_BUFFER_BYTES,
  pingIntervalMs: PING_INTERVAL_MS,
  deadAfterMs: DEAD_AFTER_MS,
  maxWriteBufferBytes: MAX_WRITE_BUFFER_BYTES,
  maxPayload: SIGNAL_MAX_PAYLOAD,
};

/** The SIGNAL_ERROR reason of each punch refusal. */
const PUNCH_REFUSED: Record<PunchRefusal, string> = {
  pair: 'punch to this node requested too recently; retry in a few seconds',
  target_ip: 'too many punch requests to this node from your address; retry later',
  target: 'too many punch requests to this node; retry later',
};

export class SignalerServer {
  readonly counters = new Counters();
  private readonly clock: Clock;
  private readonly manager: ConnectionManager;
  private readonly registry = new Map<NodeId, Registration>();
  private readonly registerBuckets = new WeakMap<Session, TokenBucket>();
  private readonly requestBuckets = new WeakMap<Session, TokenBucket>();
  private readonly punches: PunchLimiter;
  private readonly claims = new V6ClaimLimiter();
  /** Requests about other instances' nodes, when this signaler is one instance of a cluster. */
  readonly clustered: ClusteredSignaling | undefined;
  /** Relay bookkeeping (circuits, per-node limits). */
  readonly relay: RelayHub;
  /** Netcheck: the probe port and the filtering test (netcheck.ts). */
  readonly netcheck: SignalerNetcheck;
  port = 0;

  constructor(private readonly opts: SignalerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.punches = new PunchLimiter({ ...DEFAULT_PUNCH_LIMITS, ...opts.punchLimits });
    this.netcheck = new SignalerNetcheck({ ...opts.netcheck, clock: this.clock, counters: this.counters });
    const bytesPerSecond = opts.relay?.bytesPerSecond;
    this.relay = new RelayHub({
      clock: this.clock,
      counters: this.counters,
      enabled: opts.relay?.enabled ?? true,
      limits: { ...opts.relayLimits, ...(bytesPerSecond !== undefined ? { bytesPerSecond } : {}) },
      // Who is throttled is an operator's question: once per node per RELAY_THROTTLE_NOTICE_MS.
      onThrottled: (node, r) =>
        opts.log.info(`relay: ${node} is over its rate of ${this.relay.limits.bytesPerSecond} bytes/s; its relayed data is delayed (${r.delayed} frames so far, ${r.queuedBytes} bytes waiting)`),
    });
    this.manager = new ConnectionManager({
      replaceStale: true,
      identity: opts.identity,
      clock: this.clock,
      counters: this.counters,
      limits: { ...SIGNALER_LIMITS, ...opts.limits },
      localHello: () => ({ listenPort: this.port, name: 'signaler' }),
      events: {
        onSessionUp: (s, replaced) => this.onSessionUp(s, replaced),
        onSessionDown: (id) => this.onSessionDown(id),
        onFrame: (s, type, payload) => this.onFrame(s, type, payload),
        onHello: () => {},
        log: (level, msg) => opts.log[level](msg),
      },
    });
    if (opts.cluster) {
      this.clustered = new ClusteredSignaling(
        {
          registry: this.registry,
          relay: this.relay,
          punches: this.punches,
          claims: this.claims,
          clock: this.clock,
          counters: this.counters,
          log: opts.log,
          notFound: (s, reqId, id) => this.notFound(s, reqId, id),
          refusePunch: (s, reqId, refused) => this.refusePunch(s, reqId, refused),
          drainRequests: (s) => {
            const b = this.bucket(this.requestBuckets, s, REQUEST_RATE);
            // One request left: enough for a node that just failed over, no fresh burst for one that hops on purpose.
            b.take(this.clock.now(), REQUEST_RATE.burst - 1);
          },
        },
        opts.cluster,
      );
    }
  }

  get id(): NodeId {
    return this.opts.identity.id;
  }

  async listen(port: number, host?: string): Promise<number> {
    // Join the cluster first: an instance that cannot reach its store fails to start.
    await this.clustered?.link.start();
    this.port = await this.manager.listen(port, host);
    if (this.opts.netcheck) await this.netcheck.start(this.opts.netcheck.probePort, host, this.opts.netcheck.optional === true, this.opts.log).catch(async (err: unknown) => (await this.manager.close(), Promise.reject(err)));
    return this.port;
  }

  /** Registered node count. */
  get size(): number {
    return this.registry.size;
  }

  lookup(id: NodeId): Registration | undefined {
    return this.registry.get(id);
  }

  /** Relay circuits, limits and counts, for tests and status. */
  relayStats(): RelayStats {
    return this.relay.stats();
  }

  async close(): Promise<void> {
    // Sessions close with GOAWAY SHUTDOWN: no RELAY_CLOSE for each circuit.
    this.relay.dispose();
    await this.netcheck.close();
    await this.manager.close();
    await this.clustered?.link.close();
  }

  private onSessionUp(s: Session, replaced: boolean): void {
    // A new session of a node replaced its old one: the circuits on the old one are gone.
    if (replaced) this.relay.sessionDown(s.peerId, s);
    const timeout = this.opts.registerTimeoutMs ?? REGISTER_TIMEOUT_MS;
    this.clock.setTimeout(() => {
      if (!s.isClosed && this.registry.get(s.peerId)?.session !== s) {
        this.counters.inc('register_timeouts');
        s.close(GoawayCode.PROTOCOL_ERROR, 'no REGISTER in time');
      }
    }, timeout);
  }

  private onSessionDown(id: NodeId): void {
    // Only the active session's end unregisters: a replaced (stale) one is not active.
    this.registry.delete(id);
    this.punches.forget(id);
    this.relay.sessionDown(id);
    this.clustered?.unregistered(id);
    this.opts.log.debug(`unregistered ${id}`);
  }

  private onFrame(s: Session, type: number, payload: Buffer): void {
    switch (type) {
      case FrameType.REGISTER:
        return this.onRegister(s, payload);
      case FrameType.LOOKUP:
        return this.onLookup(s, payload);
      case FrameType.PUNCH_REQUEST:
        return this.onPunchRequest(s, payload);
      case FrameType.RELAY_OPEN:
        return this.onRelayOpen(s, payload);
      case FrameType.NETCHECK_REQUEST:
        return this.onNetcheck(s, payload);
      // Relay frames on circuits: no request rate (the circuit limits and the byte rate hold them).
      // Circuits to nodes of other cluster instances have proxy ids (cluster/relay-bridge.ts).
      case FrameType.RELAY_ACCEPT:
      case FrameType.RELAY_DATA:
      case FrameType.RELAY_CREDIT:
      case FrameType.RELAY_CLOSE:
        if (this.clustered && payload.length >= 4 && this.clustered.bridge.isProxy(payload.readUInt32BE(0))) return this.clustered.bridge.fromLocal(s, type, payload);
        return this.relayFrame(s, type, payload);
      // RELAY_OPENED and RELAY_INCOMING are relay->node only: unexpected, like any other type.
      default:
        this.counters.inc('frames_unexpected');
        s.close(GoawayCode.PROTOCOL_ERROR, `frame type 0x${type.toString(16)} is not for the signaler`);
    }
  }

  private relayFrame(s: Session, type: number, payload: Buffer): void {
    switch (type) {
      case FrameType.RELAY_ACCEPT:
        return this.relay.accept(s, payload);
      case FrameType.RELAY_DATA:
        return this.relay.data(s, payload);
      case FrameType.RELAY_CREDIT:
        return this.relay.credit(s, payload);
      case FrameType.RELAY_CLOSE:
        return this.relay.close(s, payload);
    }
  }

  private bucket(map: WeakMap<Session, TokenBucket>, s: Session, rate: { perSecond: number; burst: number }): TokenBucket {
    let b = map.get(s);
    if (!b) map.set(s, (b = new TokenBucket(rate.perSecond, rate.burst, this.clock.now())));
    return b;
  }

  private onRegister(s: Session, payload: Buffer): void {
    const m = decodeRegister(payload);
    if (!this.bucket(this.registerBuckets, s, REGISTER_RATE).take(this.clock.now())) {
      this.counters.inc('rate_limited.register');
      s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId: 0, code: SignalErrorCode.RATE_LIMITED, reason: 'too many registrations' }));
      return;
    }
    const hp = parseHostPort(s.remoteAddress);
    if (!hp) throw new SentinelError('E_PROTOCOL', `cannot parse observed address ${s.remoteAddress}`);
    const observed = { host: hp.host, port: hp.port };
    const { kept, dropped } = filterLocals(m.local, observed.host, { listenPort: m.listenPort });
    for (const reason of dropped) this.counters.inc(`locals_dropped.${reason}`);
    if (dropped.length > 0) this.opts.log.debug(`${s.peerId}: dropped ${dropped.length} of ${m.local.length} local endpoint(s) (${[...new Set(dropped)].join(', ')})`);
    const complete = (): Registration => {
      const reg = { id: s.peerId, session: s, observed, local: kept, listenPort: m.listenPort, registeredAt: this.clock.now() };
      this.registry.set(s.peerId, reg);
      this.counters.inc('registrations');
      return reg;
    };
    const confirm = (): void => {
      const l = this.relay.limits;
      const relay = this.relay.enabled ? { maxCircuits: l.maxCircuitsPerNode, bytesPerSecond: Math.min(l.bytesPerSecond, 0xffffffff), idleTimeoutS: Math.round(l.idleTimeoutMs / 1000) } : undefined;
      s.send(FrameType.REGISTERED, encodeRegistered({ observed, ...(relay ? { relay } : {}) }));
    };
    if (this.clustered) return this.clustered.register(s, complete, confirm);
    complete();
    confirm();
    this.opts.log.debug(`registered ${s.peerId} at ${s.remoteAddress}`);
  }

  /** Registered and allowed to ask? Answers the error itself when not. */
  private admit(s: Session, reqId: number): boolean {
    if (this.registry.get(s.peerId)?.session !== s) {
      s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId, code: SignalErrorCode.NOT_REGISTERED, reason: 'register first' }));
      return false;
    }
    if (!this.bucket(this.requestBuckets, s, REQUEST_RATE).take(this.clock.now())) {
      this.counters.inc('rate_limited.request');
      s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId, code: SignalErrorCode.RATE_LIMITED, reason: 'too many requests' }));
      return false;
    }
    return true;
  }

  notFound(s: Session, reqId: number, id: NodeId): void {
    s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId, code: SignalErrorCode.NOT_FOUND, reason: `${id} is not registered` }));
  }

  /**
   * A lookup sends nothing to the target and one small answer to the asker, so the
   * per-session request rate is its only limit: a per-target limit would only let
   * strangers make a node impossible to look up.
   */
  private onLookup(s: Session, payload: Buffer): void {
    const m = decodeLookup(payload);
    if (!this.admit(s, m.reqId)) return;
    this.counters.inc('lookups');
    const me = this.registry.get(s.peerId);
    const id = nodeIdFromPublicKey(m.target);
    const reg = this.registry.get(id);
    if (!me) return;
    if (!reg && this.clustered) return void this.clustered.lookup(s, me, m.reqId, id, m.target);
    if (!reg) return this.notFound(s, m.reqId, id);
    s.send(FrameType.LOOKUP_RESULT, encodeLookupResult({ reqId: m.reqId, target: m.target, public: reg.observed, local: localsFor(reg, me.observed.host, hasGlobalV6(me)) }));
  }

  private onPunchRequest(s: Session, payload: Buffer): void {
    const m = decodePunchRequest(payload);
    if (!this.admit(s, m.reqId)) return;
    const me = this.registry.get(s.peerId);
    const id = nodeIdFromPublicKey(m.target);
    if (!me) return;
    if (id === me.id) {
      s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId: m.reqId, code: SignalErrorCode.BAD_REQUEST, reason: 'cannot punch to yourself' }));
      return;
    }
    const peer = this.registry.get(id);
    if (!peer && this.clustered) return void this.clustered.punch(s, me, m.reqId, id);
    if (!peer) return this.notFound(s, m.reqId, id);
    const refused = this.punches.admit(me.id, me.observed.host, peer.id, this.clock.now());
    if (refused) return this.refusePunch(s, m.reqId, refused);
    const plan = planPunch(this.claims, partyOf(me), partyOf(peer), this.clock.now());
    if (plan.withheld > 0) this.counters.inc('v6_claims_withheld', plan.withheld);
    try {
      peer.session.send(FrameType.PUNCH_START, encodePunchStart(plan.toTarget));
      s.send(FrameType.PUNCH_START, encodePunchStart({ ...plan.toRequester, reqId: m.reqId }));
      this.counters.inc('punches');
    } catch (err) {
      this.opts.log.warn(`punch coordination failed: ${errorMessage(err)}`);
    }
  }

  /** SIGNAL_ERROR RATE_LIMITED for a punch the limiter refused (counted). */
  refusePunch(s: Session, reqId: number, refused: PunchRefusal): void {
    this.counters.inc(`rate_limited.punch_${refused}`);
    s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId, code: SignalErrorCode.RATE_LIMITED, reason: PUNCH_REFUSED[refused] }));
  }

  /** NETCHECK_REQUEST: registered and within the request rate; the test targets only the session's own observed address. */
  private onNetcheck(s: Session, payload: Buffer): void {
    const { reqId } = decodeNetcheckRequest(payload);
    if (!this.admit(s, reqId)) return;
    const me = this.registry.get(s.peerId);
    if (me) void this.netcheck.onRequest(s, payload, me.observed).catch((err) => this.opts.log.debug(`netcheck for ${s.peerId}: ${errorMessage(err)}`));
  }

  /** RELAY_OPEN: registered and within the request rate, then the hub's own limits. */
  private onRelayOpen(s: Session, payload: Buffer): void {
    const m = decodeRelayOpen(payload);
    if (!this.admit(s, m.reqId)) return;
    const id = nodeIdFromPublicKey(m.target);
    const local = this.registry.get(id)?.session;
    if (!local && this.clustered && id !== s.peerId) return void this.clustered.relayOpen(s, m.reqId, id);
    this.relay.open(s, m.reqId, id, local);
  }
}
