/**
 * The node's side of the signaler: one TLS session from the identity port (so the public
 * mapping the signaler observes is the one peers will hit), registration, lookups, punch
 * requests, and incoming PUNCH_START. Reconnects with exponential backoff and full jitter;
 * the session's keepalive PINGs also keep the NAT mapping alive.
 *
 * Trust: with a pinned id (`host:port#id`) the signaler must prove it; without one the
 * first id seen is remembered (trust on first use) and required afterwards.
 */
import type { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage, isSentinelError } from '../errors.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId, type Identity } from '../identity/index.js';
import type { Logger } from '../log.js';
import { Session, createContext, formatHostPort, secureSocket, type Clock, type Counters, type HostPort, type TransportLimits } from '../transport/index.js';
import { RelayLink, type CircuitStream } from '../relay/circuit.js';
import {
  FrameType,
  RelayCloseCode,
  SignalErrorCode,
  decodeRelayIncoming,
  decodeRelayOpened,
  encodeRelayAccept,
  encodeRelayClose,
  encodeRelayOpen,
  decodeLookupResult,
  decodePunchStart,
  decodeRegistered,
  decodeSignalError,
  encodeLookup,
  encodePunchRequest,
  encodeRegister,
  type Endpoint,
  type LookupResult,
  type PunchStart,
} from '../wire/index.js';
import { Backoff } from '../core/backoff.js';

export type SignalerState = 'disabled' | 'connecting' | 'connected' | 'unreachable' | 'untrusted';

/** How long a lookup or punch request waits for the signaler's answer. */
export const SIGNAL_REQUEST_TIMEOUT_MS = 5_000;
/** How long a RELAY_OPEN waits: the signaler gives the target 5 s to accept. */
export const RELAY_OPEN_TIMEOUT_MS = 8_000;

export interface SignalerClientOptions {
  identity: Identity;
  address: HostPort;
  /** Pinned signaler id (from --signaler host:port#id), if any. */
  pinned: NodeId | null;
  /** Previously trusted id for this address (TOFU) and how to remember a new one. */
  trusted: () => NodeId | undefined;
  trust: (id: NodeId) => Promise<void>;
  /** Opens the TCP connection (from the identity port when the addon is present). */
  connect: (host: string, port: number, timeoutMs: number) => Promise<Duplex & { remoteAddress?: string; remotePort?: number }>;
  listenPort: () => number;
  localEndpoints: () => Endpoint[];
  onPunchStart: (ps: PunchStart) => void;
  /** A node asks for a relayed session through the signaler: accept or decline it. */
  onRelayIncoming?: (circuit: number, peer: NodeId) => void;
  clock: Clock;
  counters: Counters;
  limits: TransportLimits;
  log: Logger;
  random?: () => number;
}

type Answer = LookupResult | PunchStart | number;

interface Pending {
  resolve: (v: Answer) => void;
  reject: (e: Error) => void;
  timer: unknown;
}

export class SignalerClient {
  state: SignalerState = 'connecting';
  /** Our public address as the signaler sees it. */
  observed: Endpoint | null = null;
  signalerId: NodeId | null = null;
  lastError: string | null = null;
  private session: Session | undefined;
  private relayLink: RelayLink | undefined;
  /** The signaler's relay limits for us (REGISTERED); null: it does not relay, or not registered yet. */
  relayLimits: { maxCircuits: number; bytesPerSecond: number; idleTimeoutS: number } | null = null;
  private readonly backoff: Backoff;
  private readonly pending = new Map<number, Pending>();
  private nextReqId = 1;
  private stopped = false;
  private retryTimer: unknown;
  private readonly context;
  private readonly registeredWaiters = new Set<() => void>();

  constructor(private readonly opts: SignalerClientOptions) {
    this.backoff = new Backoff(500, 30_000, opts.random);
    this.context = createContext(opts.identity);
  }

  get address(): string {
    return formatHostPort(this.opts.address.host, this.opts.address.port);
  }

  start(): void {
    void this.connectOnce();
  }

  /** Resolves once registered (or after `ms`, false). */
  waitRegistered(ms: number): Promise<boolean> {
    if (this.state === 'connected' && this.observed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        this.opts.clock.clearTimeout(timer);
        this.registeredWaiters.delete(done);
        resolve(this.state === 'connected');
      };
      const timer = this.opts.clock.setTimeout(done, ms);
      this.registeredWaiters.add(done);
    });
  }

  private async connectOnce(): Promise<void> {
    if (this.stopped) return;
    const { host, port } = this.opts.address;
    const expected = this.opts.pinned ?? this.opts.trusted();
    try {
      const raw = await this.opts.connect(host, port, this.opts.limits.connectTimeoutMs);
      const secured = await secureSocket({ raw, role: 'client', context: this.context, expected, timeoutMs: this.opts.limits.handshakeTimeoutMs, clock: this.opts.clock });
      if (this.stopped) return void secured.socket.destroy();
      if (!expected) {
        await this.opts.trust(secured.peerId);
        this.opts.log.info(`signaler ${this.address} is ${secured.peerId} (trusted on first use)`);
      }
      this.signalerId = secured.peerId;
      this.attach(secured.socket, secured.peerId);
    } catch (err) {
      this.lastError = errorMessage(err);
      if (isSentinelError(err, 'E_PEER_ID_MISMATCH')) {
        this.state = 'untrusted';
        this.opts.log.warn(`signaler ${this.address} did not prove the trusted id ${expected}: ${this.lastError}`);
      } else {
        this.state = 'unreachable';
        this.opts.log.debug(`signaler ${this.address} unreachable: ${this.lastError}`);
      }
      this.scheduleReconnect();
    }
  }

  private attach(socket: Duplex, peerId: NodeId): void {
    const session = new Session({
      socket,
      peerId,
      dialerId: this.opts.identity.id,
      method: 'outbound',
      remoteAddress: this.address,
      localHello: { listenPort: this.opts.listenPort(), name: '' },
      limits: this.opts.limits,
      clock: this.opts.clock,
      counters: this.opts.counters,
      handlers: {
        onFrame: (_s, type, payload) => this.onFrame(type, payload),
        onHello: () => {},
        onClose: (_s, reason) => {
          this.session = undefined;
          this.relayLink?.closeAll('the signaler session closed');
          this.relayLink = undefined;
          this.state = 'unreachable';
          this.observed = null;
          this.lastError = reason?.message ?? 'closed';
          this.failPending(new SentinelError('E_DIAL_FAILED', `signaler session closed: ${this.lastError}`));
          this.opts.log.info(`signaler session closed: ${this.lastError}`);
          this.scheduleReconnect();
        },
      },
    });
    this.session = session;
    this.relayLink = new RelayLink(session, `${peerId} at ${this.address}`);
    session.start();
    session.send(FrameType.REGISTER, encodeRegister({ listenPort: this.opts.listenPort(), local: this.opts.localEndpoints() }));
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const wait = this.backoff.next();
    this.retryTimer = this.opts.clock.setTimeout(() => void this.connectOnce(), wait);
  }

  private onFrame(type: number, payload: Buffer): void {
    switch (type) {
      case FrameType.REGISTERED: {
        const m = decodeRegistered(payload);
        this.observed = m.observed;
        this.relayLimits = m.relay ?? null;
        this.state = 'connected';
        this.backoff.reset();
        this.opts.log.info(`registered with signaler ${this.address}; public address ${formatHostPort(this.observed.host, this.observed.port)}`);
        for (const w of [...this.registeredWaiters]) w();
        return;
      }
      case FrameType.LOOKUP_RESULT: {
        const m = decodeLookupResult(payload);
        return this.settle(m.reqId, m);
      }
      case FrameType.PUNCH_START: {
        const m = decodePunchStart(payload);
        if (m.reqId === 0) return this.opts.onPunchStart(m);
        return this.settle(m.reqId, m);
      }
      case FrameType.RELAY_OPENED: {
        const m = decodeRelayOpened(payload);
        return this.settle(m.reqId, m.circuit);
      }
      case FrameType.RELAY_INCOMING: {
        const m = decodeRelayIncoming(payload);
        const peer = nodeIdFromPublicKey(m.peer);
        if (!this.opts.onRelayIncoming) return this.declineRelay(m.circuit, 'this node takes no relayed sessions');
        return this.opts.onRelayIncoming(m.circuit, peer);
      }
      case FrameType.RELAY_DATA:
      case FrameType.RELAY_CREDIT:
      case FrameType.RELAY_CLOSE:
        this.relayLink?.onFrame(type, payload);
        return;
      case FrameType.SIGNAL_ERROR: {
        const m = decodeSignalError(payload);
        const code = m.code === SignalErrorCode.NOT_FOUND ? 'E_UNKNOWN_ID' : m.code === SignalErrorCode.REFUSED ? 'E_REFUSED' : 'E_DIAL_FAILED';
        const p = this.pending.get(m.reqId);
        if (p) {
          this.pending.delete(m.reqId);
          this.opts.clock.clearTimeout(p.timer);
          p.reject(new SentinelError(code, `signaler: ${m.reason}`));
        } else this.opts.log.warn(`signaler error: ${m.reason}`);
        return;
      }
      default:
        this.opts.counters.inc('signaler_frames_unexpected');
    }
  }

  private settle(reqId: number, value: Answer): void {
    const p = this.pending.get(reqId);
    if (!p) return;
    this.pending.delete(reqId);
    this.opts.clock.clearTimeout(p.timer);
    p.resolve(value);
  }

  private request<T extends Answer>(type: number, target: NodeId, timeoutMs = SIGNAL_REQUEST_TIMEOUT_MS): Promise<T> {
    const session = this.session;
    if (!session || this.state !== 'connected') {
      return Promise.reject(new SentinelError('E_DIAL_FAILED', `signaler ${this.address} is ${this.state}${this.lastError ? ` (${this.lastError})` : ''}`));
    }
    const reqId = this.nextReqId++;
    const encode = type === FrameType.LOOKUP ? encodeLookup : type === FrameType.RELAY_OPEN ? encodeRelayOpen : encodePunchRequest;
    return new Promise<T>((resolve, reject) => {
      const timer = this.opts.clock.setTimeout(() => {
        this.pending.delete(reqId);
        reject(new SentinelError('E_DIAL_FAILED', 'signaler did not answer in time'));
      }, timeoutMs);
      this.pending.set(reqId, { resolve: resolve as (v: Answer) => void, reject, timer });
      session.send(type, encode({ reqId, target: publicKeyFromNodeId(target) }));
    });
  }

  /** Whether a relayed session through the signaler can be asked for now. */
  get canRelay(): boolean {
    return this.state === 'connected' && this.relayLink !== undefined && this.relayLimits !== null;
  }

  /**
   * Ask the signaler for a circuit to `target`; resolves with the stream once the target
   * accepted. The end-to-end TLS session runs on it (we are the TLS client).
   */
  async openRelay(target: NodeId): Promise<CircuitStream> {
    const circuit = await this.request<number>(FrameType.RELAY_OPEN, target, RELAY_OPEN_TIMEOUT_MS);
    const link = this.relayLink;
    if (!link) throw new SentinelError('E_DIAL_FAILED', 'signaler session closed');
    return link.attach(circuit, target);
  }

  /** Accept an incoming circuit; the peer is the TLS client on the returned stream. */
  acceptRelay(circuit: number, peer: NodeId): CircuitStream | undefined {
    const link = this.relayLink;
    const session = this.session;
    if (!link || !session) return undefined;
    const stream = link.attach(circuit, peer);
    session.send(FrameType.RELAY_ACCEPT, encodeRelayAccept({ circuit }));
    return stream;
  }

  /** Decline an incoming circuit. */
  declineRelay(circuit: number, reason: string): void {
    this.session?.send(FrameType.RELAY_CLOSE, encodeRelayClose({ circuit, code: RelayCloseCode.REFUSED, reason }));
  }

  /** The signaler as users see it when it relays: `<id> at host:port`. */
  get relayLabel(): string {
    return `${this.signalerId ?? '?'} at ${this.address}`;
  }

  lookup(target: NodeId): Promise<LookupResult> {
    return this.request<LookupResult>(FrameType.LOOKUP, target);
  }

  /** Ask the signaler to coordinate a punch; resolves with our PUNCH_START. */
  requestPunch(target: NodeId): Promise<PunchStart> {
    return this.request<PunchStart>(FrameType.PUNCH_REQUEST, target);
  }

  private failPending(err: Error): void {
    for (const [id, p] of this.pending) {
      this.opts.clock.clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }

  close(): void {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.retryTimer);
    this.failPending(new SentinelError('E_SHUTDOWN'));
    this.session?.close(1, 'node shutting down');
  }
}

