/**
 * This node's side of peer relays: peers whose HELLO says they relay for us
 * (HELLO_FLAG_RELAY). For each such session it keeps a {@link RelayLink} (its circuits) and
 * the requests in flight, and:
 *
 * - binds (RELAY_BIND) with relays that are our contacts, at most MAX_BOUND_RELAYS at once:
 *   only a relay we bound with may offer us circuits (RELAY_INCOMING from any other is
 *   declined and counted `relay_declined.not_bound`), so nobody reaches us through a relay
 *   we did not choose;
 * - opens circuits through them for the dial chain: {@link routes} lists the contact ones
 *   by measured RTT (the signaler's relay comes after them, see relay/service.ts);
 * - ends every circuit on a relay session when that session ends.
 *
 * A node that is itself a relay does not use peer relays (it is reachable; and one session
 * then never carries circuits in both directions, so a circuit id is never ambiguous).
 */
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import type { Logger } from '../log.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../identity/index.js';
import type { Clock, Counters } from '../transport/index.js';
import {
  FrameType,
  HELLO_FLAG_RELAY,
  RelayCloseCode,
  SignalErrorCode,
  decodeRelayBound,
  decodeRelayIncoming,
  decodeRelayOpened,
  decodeSignalError,
  encodeRelayAccept,
  encodeRelayBind,
  encodeRelayClose,
  encodeRelayOpen,
  type Hello,
  type RelayBound,
} from '../wire/index.js';
import { RelayLink, type CircuitStream } from './circuit.js';
import type { RelayOffers } from './incoming.js';
import { MAX_BOUND_RELAYS, PEER_RELAY_REQUEST_TIMEOUT_MS } from './limits.js';

/** What the client needs of a session with a relay. */
export interface RelaySessionView {
  readonly peerId: NodeId;
  readonly isClosed: boolean;
  readonly method: string;
  readonly remoteAddress: string;
  readonly rttMs: number | null;
  readonly peerHello: Hello | null;
  send(type: number, payload: Uint8Array): unknown;
}

/** A relay the dial chain may use (same shape as connect/dialer.ts RelayRoute). */
export interface PeerRelayRoute {
  label: string;
  open(target: NodeId): Promise<CircuitStream>;
}

export interface PeerRelayClientOptions {
  clock: Clock;
  counters: Counters;
  log: Logger;
  /** Relays we may bind with: the user's contacts. */
  isContact(id: NodeId): boolean;
  /** A relay offers a circuit from `peer` on a relay we bound with. */
  onIncoming(relay: RelayOffers, circuit: number, peer: NodeId): void;
  maxBound?: number;
  requestTimeoutMs?: number;
}

/** What `status` shows of a relay we bound with or may use. */
export interface PeerRelayInfo {
  id: NodeId;
  address: string;
  rttMs: number | null;
  /** Limits the relay stated for us (RELAY_BOUND); null while not bound. */
  bound: { maxCircuits: number; bytesPerSecond: number; idleTimeoutS: number } | null;
  circuits: number;
}

interface Pending {
  resolve(v: number | RelayBound): void;
  reject(err: Error): void;
  timer: unknown;
}

interface RelayState {
  session: RelaySessionView;
  link: RelayLink;
  label: string;
  bound: RelayBound | null;
  binding: boolean;
  pending: Map<number, Pending>;
}

/** Whether `hello` says its sender relays for us. */
export const offersRelay = (hello: Hello | null): boolean => ((hello?.flags ?? 0) & HELLO_FLAG_RELAY) !== 0;

export class PeerRelayClient {
  private readonly relays = new Map<NodeId, RelayState>();
  private nextReqId = 1;

  constructor(private readonly opts: PeerRelayClientOptions) {}

  /** A session came up (or replaced another): a direct one whose HELLO offers relaying becomes a usable relay. */
  onSessionUp(s: RelaySessionView): void {
    const old = this.relays.get(s.peerId);
    if (old && old.session !== s) this.drop(s.peerId, old, 'the relay session was replaced');
    if (!offersRelay(s.peerHello) || s.method === 'relay') return;
    const label = `${s.peerId} at ${s.remoteAddress}`;
    const st: RelayState = { session: s, link: new RelayLink({ send: (t, p) => void s.send(t, p) }, label), label, bound: null, binding: false, pending: new Map() };
    this.relays.set(s.peerId, st);
    this.maybeBind(st);
  }

  onSessionDown(id: NodeId): void {
    const st = this.relays.get(id);
    if (st) this.drop(id, st, 'the relay session closed');
  }

  /** `id` became a contact (or stopped being one): bind with it if it relays for us. */
  trustChanged(id: NodeId): void {
    const st = this.relays.get(id);
    if (st) this.maybeBind(st);
  }

  /** True when `s` is a relay session of ours (its relay frames are ours to handle). */
  handles(s: RelaySessionView): boolean {
    return this.relays.get(s.peerId)?.session === s;
  }

  /**
   * A relay frame from relay session `s`; throws SentinelError E_PROTOCOL when `s` is not a
   * relay of ours or the frame is not one a relay sends, E_PAYLOAD_MALFORMED when it does
   * not decode.
   */
  onFrame(s: RelaySessionView, type: number, payload: Buffer): void {
    const st = this.relays.get(s.peerId);
    if (!st || st.session !== s) throw new SentinelError('E_PROTOCOL', 'relay message from a peer that does not relay for us');
    switch (type) {
      case FrameType.RELAY_BOUND: {
        const m = decodeRelayBound(payload);
        return this.settle(st, m.reqId, m);
      }
      case FrameType.RELAY_OPENED: {
        const m = decodeRelayOpened(payload);
        return this.settle(st, m.reqId, m.circuit);
      }
      case FrameType.SIGNAL_ERROR: {
        const m = decodeSignalError(payload);
        const p = st.pending.get(m.reqId);
        if (!p) return void this.opts.counters.inc('relay.late_answers');
        st.pending.delete(m.reqId);
        this.opts.clock.clearTimeout(p.timer);
        const code = m.code === SignalErrorCode.NOT_FOUND ? 'E_UNKNOWN_ID' : m.code === SignalErrorCode.REFUSED ? 'E_REFUSED' : 'E_DIAL_FAILED';
        return p.reject(new SentinelError(code, m.reason));
      }
      case FrameType.RELAY_INCOMING: {
        const m = decodeRelayIncoming(payload);
        if (!st.bound) {
          this.opts.counters.inc('relay_declined.not_bound');
          return void s.send(FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: m.circuit, code: RelayCloseCode.REFUSED, reason: 'not bound with this relay' }));
        }
        return this.opts.onIncoming(this.offers(st), m.circuit, nodeIdFromPublicKey(m.peer));
      }
      case FrameType.RELAY_DATA:
      case FrameType.RELAY_CREDIT:
      case FrameType.RELAY_CLOSE:
        st.link.onFrame(type, payload);
        return;
      default:
        throw new SentinelError('E_PROTOCOL', `frame type 0x${type.toString(16)} is not for a relay's client`);
    }
  }

  /**
   * Relays that can open a circuit to `target` now, the lowest RTT first (unmeasured last).
   * Only our contacts: anyone can set the relay flag in its HELLO, and a relay learns whom
   * we dial, so a stranger's offer is never used.
   */
  routes(target: NodeId): PeerRelayRoute[] {
    return [...this.relays.values()]
      .filter((st) => st.session.peerId !== target && !st.session.isClosed && this.opts.isContact(st.session.peerId))
      .sort((a, b) => (a.session.rttMs ?? Infinity) - (b.session.rttMs ?? Infinity))
      .map((st) => ({ label: st.label, open: (id: NodeId) => this.open(st, id) }));
  }

  info(): PeerRelayInfo[] {
    return [...this.relays.values()].map((st) => ({
      id: st.session.peerId,
      address: st.session.remoteAddress,
      rttMs: st.session.rttMs,
      bound: st.bound && { maxCircuits: st.bound.maxCircuits, bytesPerSecond: st.bound.bytesPerSecond, idleTimeoutS: st.bound.idleTimeoutS },
      circuits: st.link.size,
    }));
  }

  close(): void {
    for (const [id, st] of [...this.relays]) this.drop(id, st, 'the node is stopping');
  }

  private async open(st: RelayState, target: NodeId): Promise<CircuitStream> {
    const circuit = (await this.request(st, FrameType.RELAY_OPEN, (reqId) => encodeRelayOpen({ reqId, target: publicKeyFromNodeId(target) }))) as number;
    if (this.relays.get(st.session.peerId) !== st) throw new SentinelError('E_DIAL_FAILED', `relay ${st.label}: session closed`);
    this.opts.counters.inc('relay.peer_opens');
    return st.link.attach(circuit, target);
  }

  private maybeBind(st: RelayState): void {
    if (st.bound || st.binding || !this.opts.isContact(st.session.peerId)) return;
    const boundNow = [...this.relays.values()].filter((r) => r.bound || r.binding).length;
    if (boundNow >= (this.opts.maxBound ?? MAX_BOUND_RELAYS)) return void this.opts.counters.inc('relay.bind_skipped_enough');
    st.binding = true;
    this.request(st, FrameType.RELAY_BIND, (reqId) => encodeRelayBind({ reqId })).then(
      (b) => {
        st.bound = b as RelayBound;
        this.opts.counters.inc('relay.bound');
        this.opts.log.info(`bound with peer relay ${st.label}: up to ${st.bound.maxCircuits} circuits, ${st.bound.bytesPerSecond} B/s`);
      },
      (err) => {
        this.opts.counters.inc('relay.bind_failed');
        this.opts.log.info(`peer relay ${st.label} did not bind us: ${(err as Error).message}`);
      },
    ).finally(() => (st.binding = false));
  }

  /** Sends a request with a fresh reqId; resolves with the relay's answer. */
  private request(st: RelayState, type: number, encode: (reqId: number) => Buffer): Promise<number | RelayBound> {
    const reqId = this.nextReqId;
    this.nextReqId = reqId >= 0xffffffff ? 1 : reqId + 1;
    return new Promise((resolve, reject) => {
      const timer = this.opts.clock.setTimeout(() => {
        st.pending.delete(reqId);
        reject(new SentinelError('E_DIAL_FAILED', `relay ${st.label} did not answer in time`));
      }, this.opts.requestTimeoutMs ?? PEER_RELAY_REQUEST_TIMEOUT_MS);
      st.pending.set(reqId, { resolve, reject, timer });
      st.session.send(type, encode(reqId));
    });
  }

  private settle(st: RelayState, reqId: number, value: number | RelayBound): void {
    const p = st.pending.get(reqId);
    if (!p) return void this.opts.counters.inc('relay.late_answers');
    st.pending.delete(reqId);
    this.opts.clock.clearTimeout(p.timer);
    p.resolve(value);
  }

  private offers(st: RelayState): RelayOffers {
    return {
      acceptRelay: (circuit, peer) => {
        if (this.relays.get(st.session.peerId) !== st || st.session.isClosed) return undefined;
        const stream = st.link.attach(circuit, peer);
        st.session.send(FrameType.RELAY_ACCEPT, encodeRelayAccept({ circuit }));
        return stream;
      },
      declineRelay: (circuit, reason) => void st.session.send(FrameType.RELAY_CLOSE, encodeRelayClose({ circuit, code: RelayCloseCode.REFUSED, reason })),
    };
  }

  private drop(id: NodeId, st: RelayState, reason: string): void {
    this.relays.delete(id);
    st.link.closeAll(reason);
    for (const p of st.pending.values()) {
      this.opts.clock.clearTimeout(p.timer);
      p.reject(new SentinelError('E_DIAL_FAILED', `relay ${st.label}: ${reason}`));
    }
    st.pending.clear();
    // Another relay session may take the freed binding slot.
    for (const other of this.relays.values()) this.maybeBind(other);
  }
}
