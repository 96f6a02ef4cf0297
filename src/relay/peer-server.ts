/**
 * The relay a node offers with `sentinel-node --relay[=contacts|all]`: the same blind
 * relaying as the signaler's ({@link RelayHub}), over this node's ordinary sessions with its
 * peers, and following the trust model (docs/SECURITY.md):
 *
 *   mode       who may bind (be offered circuits) and open circuits
 *   contacts   this node's contacts only (the default)
 *   all        anyone not blocked; strangers get smaller quotas (circuits, byte rate) and
 *              at most PEER_RELAY_MAX_BOUND_STRANGERS of them are bound at once
 *
 * A node *chooses* this relay by sending RELAY_BIND on its session with us; only bound
 * nodes are offered circuits (RELAY_INCOMING), so nobody is reached through a relay it did
 * not choose. A RELAY_BIND on a session that is already bound, or was refused, breaks the
 * protocol (the session closes): binds cannot be used to make us answer in a loop.
 *
 * Pure bookkeeping on top of the hub: frames leave through `session.send`, time comes from
 * the injected clock, so tests run it with fake sessions.
 */
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { nodeIdFromPublicKey } from '../identity/index.js';
import type { Trust } from '../store/types.js';
import type { Clock, Counters } from '../transport/index.js';
import {
  FrameType,
  SignalErrorCode,
  decodeRelayBind,
  decodeRelayOpen,
  encodeRelayBound,
  encodeSignalError,
} from '../wire/index.js';
import { RelayHub, relayBurstFor, type RelayEnd, type RelayNodeLimits, type RelayStats } from './hub.js';
import {
  PEER_RELAY_CONTACT_CIRCUITS,
  PEER_RELAY_MAX_BOUND,
  PEER_RELAY_MAX_BOUND_STRANGERS,
  PEER_RELAY_MAX_CIRCUITS,
  PEER_RELAY_RATE,
  PEER_RELAY_STRANGER_CIRCUITS,
  PEER_RELAY_STRANGER_RATE_SHARE,
} from './limits.js';

/** Whom a peer relay serves (`--relay=contacts` or `--relay=all`). */
export type RelayMode = 'contacts' | 'all';

export interface PeerRelayLimits {
  maxBound: number;
  maxBoundStrangers: number;
  maxCircuits: number;
  contact: RelayNodeLimits;
  stranger: RelayNodeLimits;
}

/** The limits for a contact byte rate of `bytesPerSecond` (`--relay-rate`); strangers get a quarter. */
export function peerRelayLimits(bytesPerSecond = PEER_RELAY_RATE): PeerRelayLimits {
  const strangerRate = Math.max(1, Math.floor(bytesPerSecond * PEER_RELAY_STRANGER_RATE_SHARE));
  return {
    maxBound: PEER_RELAY_MAX_BOUND,
    maxBoundStrangers: PEER_RELAY_MAX_BOUND_STRANGERS,
    maxCircuits: PEER_RELAY_MAX_CIRCUITS,
    contact: { maxCircuitsPerNode: PEER_RELAY_CONTACT_CIRCUITS, bytesPerSecond, burstBytes: relayBurstFor(bytesPerSecond) },
    stranger: { maxCircuitsPerNode: PEER_RELAY_STRANGER_CIRCUITS, bytesPerSecond: strangerRate, burstBytes: relayBurstFor(strangerRate) },
  };
}

/** What the server needs of a session. */
export type PeerRelaySession = RelayEnd;

export interface PeerRelayServerOptions {
  mode: RelayMode;
  trust(id: NodeId): Trust;
  clock: Clock;
  counters: Counters;
  limits?: PeerRelayLimits;
  /** Hub limits for tests (accept and idle timeouts, window). */
  hubLimits?: ConstructorParameters<typeof RelayHub>[0]['limits'];
}

/** Why a RELAY_BIND or RELAY_OPEN was refused before the hub; counted `relay_refused.<reason>`. */
export type PeerRelayRefusal = 'blocked' | 'not_contact' | 'bind_full' | 'not_bound';

const REFUSALS: Record<PeerRelayRefusal, { code: number; text: string }> = {
  // Not the target's refusal (REFUSED ends a dial): this relay is not for us, try another.
  blocked: { code: SignalErrorCode.RELAY_DISABLED, text: 'this relay does not relay for you' },
  not_contact: { code: SignalErrorCode.RELAY_DISABLED, text: 'this relay serves its contacts only' },
  bind_full: { code: SignalErrorCode.RATE_LIMITED, text: 'this relay has no room for more nodes; try another' },
  not_bound: { code: SignalErrorCode.NOT_FOUND, text: 'the target does not use this relay' },
};

export interface PeerRelayStats extends RelayStats {
  mode: RelayMode;
  limits: PeerRelayLimits;
  /** Nodes bound now, and how many of them are strangers. */
  bound: number;
  boundStrangers: number;
  idleTimeoutMs: number;
}

export class PeerRelayServer {
  readonly mode: RelayMode;
  readonly limits: PeerRelayLimits;
  private readonly hub: RelayHub;
  private readonly bound = new Map<NodeId, PeerRelaySession>();
  private readonly strangersBound = new Set<NodeId>();
  /** Sessions that bound or were refused: a second RELAY_BIND on them breaks the protocol. */
  private readonly answered = new WeakSet<PeerRelaySession>();

  constructor(private readonly opts: PeerRelayServerOptions) {
    this.mode = opts.mode;
    this.limits = opts.limits ?? peerRelayLimits();
    this.hub = new RelayHub({
      clock: opts.clock,
      counters: opts.counters,
      limits: {
        ...opts.hubLimits,
        maxCircuits: this.limits.maxCircuits,
        maxCircuitsPerNode: this.limits.contact.maxCircuitsPerNode,
        bytesPerSecond: this.limits.contact.bytesPerSecond,
        burstBytes: this.limits.contact.burstBytes,
      },
      limitsFor: (id) => (opts.trust(id) === 'contact' ? this.limits.contact : this.limits.stranger),
    });
  }

  /** Whether this relay serves `id` at all (the HELLO flag it gets, binds and opens). */
  serves(id: NodeId): boolean {
    const t = this.opts.trust(id);
    return t === 'contact' || (t === 'stranger' && this.mode === 'all');
  }

  /** Handles a relay frame from a peer's session; returns false for other types. Throws SentinelError on malformed input. */
  onFrame(s: PeerRelaySession, type: number, payload: Buffer): boolean {
    switch (type) {
      case FrameType.RELAY_BIND:
        this.onBind(s, payload);
        return true;
      case FrameType.RELAY_OPEN:
        this.onOpen(s, payload);
        return true;
      case FrameType.RELAY_ACCEPT:
        this.hub.accept(s, payload);
        return true;
      case FrameType.RELAY_DATA:
        this.hub.data(s, payload);
        return true;
      case FrameType.RELAY_CREDIT:
        this.hub.credit(s, payload);
        return true;
      case FrameType.RELAY_CLOSE:
        this.hub.close(s, payload);
        return true;
      default:
        return false;
    }
  }

  private onBind(s: PeerRelaySession, payload: Buffer): void {
    const { reqId } = decodeRelayBind(payload);
    if (this.answered.has(s)) throw new SentinelError('E_PROTOCOL', 'RELAY_BIND twice on one session');
    this.answered.add(s);
    const id = s.peerId;
    const refusal = this.refusalFor(id);
    if (refusal) return this.refuse(s, reqId, refusal);
    const stranger = this.opts.trust(id) !== 'contact';
    if (!this.bound.has(id)) {
      if (this.bound.size >= this.limits.maxBound) return this.refuse(s, reqId, 'bind_full');
      if (stranger && this.strangersBound.size >= this.limits.maxBoundStrangers) return this.refuse(s, reqId, 'bind_full');
    }
    this.bound.set(id, s);
    if (stranger) this.strangersBound.add(id);
    else this.strangersBound.delete(id);
    this.opts.counters.inc('relay.binds');
    const l = stranger ? this.limits.stranger : this.limits.contact;
    s.send(
      FrameType.RELAY_BOUND,
      encodeRelayBound({ reqId, maxCircuits: l.maxCircuitsPerNode, bytesPerSecond: Math.min(l.bytesPerSecond, 0xffffffff), idleTimeoutS: Math.round(this.hub.limits.idleTimeoutMs / 1000) }),
    );
  }

  private onOpen(s: PeerRelaySession, payload: Buffer): void {
    const m = decodeRelayOpen(payload);
    const refusal = this.refusalFor(s.peerId);
    if (refusal) return this.refuse(s, m.reqId, refusal);
    const target = nodeIdFromPublicKey(m.target);
    const end = this.bound.get(target);
    if (!end || end.isClosed) return this.refuse(s, m.reqId, 'not_bound');
    this.hub.open(s, m.reqId, target, end);
  }

  private refusalFor(id: NodeId): PeerRelayRefusal | undefined {
    const t = this.opts.trust(id);
    if (t === 'blocked') return 'blocked';
    if (t !== 'contact' && this.mode === 'contacts') return 'not_contact';
    return undefined;
  }

  private refuse(s: PeerRelaySession, reqId: number, reason: PeerRelayRefusal): void {
    this.opts.counters.inc(`relay_refused.${reason}`);
    const r = REFUSALS[reason];
    s.send(FrameType.SIGNAL_ERROR, encodeSignalError({ reqId, code: r.code, reason: r.text }));
  }

  /** A peer's session went down, or (`replacement`) another session of it took over. */
  sessionDown(id: NodeId, replacement?: PeerRelaySession): void {
    // A binding belongs to the session it was made on: the node binds again on its new one.
    const b = this.bound.get(id);
    if (b && b !== replacement) {
      this.bound.delete(id);
      this.strangersBound.delete(id);
    }
    this.hub.sessionDown(id, replacement);
  }

  /** The user changed `id`'s trust: a node this relay no longer serves is unbound (its circuits close). */
  trustChanged(id: NodeId): void {
    if (this.serves(id)) return;
    const b = this.bound.get(id);
    this.bound.delete(id);
    this.strangersBound.delete(id);
    if (b) this.hub.sessionDown(id);
  }

  stats(): PeerRelayStats {
    return { ...this.hub.stats(), mode: this.mode, limits: this.limits, bound: this.bound.size, boundStrangers: this.strangersBound.size, idleTimeoutMs: this.hub.limits.idleTimeoutMs };
  }

  dispose(): void {
    this.hub.dispose();
    this.bound.clear();
    this.strangersBound.clear();
  }
}
