/**
 * The node's side of the signaler: one TLS session from the identity port (so the public
 * mapping the signaler observes is the one peers will hit), registration, lookups, punch
 * requests, and incoming PUNCH_START. With several signalers (`--signaler a,b,...`) it uses
 * one at a time and fails over to the next (failover.ts: round robin, backoff with full
 * jitter only after a whole round failed); the session's keepalive PINGs also keep the
 * NAT mapping alive.
 *
 * Trust, per address: with a pinned id (`host:port#id`) the signaler must prove it;
 * without one the first id seen at that address is remembered (trust on first use) and
 * required afterwards. One that does not prove it is `untrusted` and skipped.
 */
import type { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { PeerIdMismatchError, SentinelError, errorMessage, isSentinelError } from '../errors.js';
import { PinWarnings } from './pin-warning.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../identity/index.js';
import { Session, createContext, formatHostPort, secureSocket } from '../transport/index.js';
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
  decodeNetcheckResult,
  encodeNetcheckRequest,
  decodePunchStart,
  decodeRegistered,
  decodeSignalError,
  encodeLookup,
  encodePunchRequest,
  encodeRegister,
  type Endpoint,
  type LookupResult,
  type NetcheckResult,
  type PunchStart,
} from '../wire/index.js';
import { PendingRequests } from './pending.js';
import { FailoverPlanner, type AttemptOutcome } from './failover.js';
import { signalerKey, type SignalerAddress } from './address.js';
import { RELAY_OPEN_TIMEOUT_MS, SIGNAL_REQUEST_TIMEOUT_MS, endpointOf, type SignalerClientOptions, type SignalerEntry, type SignalerState } from './client-types.js';

type Answer = LookupResult | PunchStart | NetcheckResult | number;

interface Slot {
  readonly addr: SignalerAddress;
  readonly key: string;
  entry: SignalerEntry;
}

/**
 * The node's side of its signalers: one session at a time, to the current entry of the
 * list, moving to the next one when it cannot be reached, does not prove its id, or its
 * session closes (failover.ts decides which and when). Lookups, punch requests and relay
 * circuits go to the current one.
 */
export class SignalerClient {
  /** Our public address as the current signaler sees it (null when not registered). */
  observed: Endpoint | null = null;
  /** The IP address and port of the signaler we are registered with (null when not registered). */
  endpoint: Endpoint | null = null;
  private session: Session | undefined;
  private relayLink: RelayLink | undefined;
  /** The signaler's relay limits for us (REGISTERED); null: it does not relay, or not registered yet. */
  relayLimits: { maxCircuits: number; bytesPerSecond: number; idleTimeoutS: number } | null = null;
  private readonly slots: Slot[];
  private readonly planner: FailoverPlanner;
  private readonly pending: PendingRequests<Answer>;
  private stopped = false;
  private retryTimer: unknown;
  private registerTimer: unknown;
  private readonly context;
  private readonly registeredWaiters = new Set<() => void>();
  private readonly pinWarnings = new PinWarnings();

  constructor(private readonly opts: SignalerClientOptions) {
    if (opts.addresses.length === 0) throw new SentinelError('E_USAGE', 'no signaler address');
    this.pending = new PendingRequests<Answer>(opts.clock);
    this.slots = opts.addresses.map((addr) => {
      const key = signalerKey(addr);
      return { addr, key, entry: { address: key, id: addr.pinned ?? opts.trusted(key) ?? null, pinned: addr.pinned !== null, state: 'standby', lastError: null } };
    });
    this.planner = new FailoverPlanner(this.slots.length, () => opts.clock.now(), opts.random);
    this.context = createContext(opts.identity);
  }

  private get slot(): Slot {
    return this.slots[this.planner.current] as Slot;
  }

  /** `host:port` of the signaler in use (or being tried). */
  get address(): string {
    return this.slot.key;
  }

  /** State of the signaler in use (or being tried). */
  get state(): SignalerState {
    return this.slot.entry.state;
  }

  /** Id of the signaler in use (or being tried), once known. */
  get signalerId(): NodeId | null {
    return this.slot.entry.id;
  }

  /** Last error of the signaler in use (or being tried). */
  get lastError(): string | null {
    return this.slot.entry.lastError;
  }

  /** Every configured signaler, in order, with its state (a copy). */
  entries(): SignalerEntry[] {
    return this.slots.map((s) => ({ ...s.entry }));
  }

  start(): void {
    const first = this.planner.first();
    this.attempt(first.index, first.delayMs);
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

  private attempt(index: number, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs === 0) return void this.connectOnce(index);
    this.retryTimer = this.opts.clock.setTimeout(() => void this.connectOnce(index), delayMs);
  }

  /** The attempt at the current entry ended: record it and go on as the planner says. */
  private moveOn(outcome: AttemptOutcome): void {
    if (this.stopped) return;
    const next = this.planner.next(outcome);
    if (!next) return;
    if (this.slots.length > 1) this.opts.log.info(`signaler: trying ${(this.slots[next.index] as Slot).key}${next.delayMs > 0 ? ` in ${next.delayMs} ms (every signaler failed)` : ''}`);
    this.attempt(next.index, next.delayMs);
  }

  private async connectOnce(index: number): Promise<void> {
    if (this.stopped) return;
    const slot = this.slots[index] as Slot;
    const { host, port } = slot.addr;
    const expected = slot.addr.pinned ?? this.opts.trusted(slot.key);
    slot.entry.state = 'connecting';
    let raw: Awaited<ReturnType<SignalerClientOptions['connect']>> | undefined;
    try {
      raw = await this.opts.connect(host, port, this.opts.limits.connectTimeoutMs);
      const secured = await secureSocket({ raw, role: 'client', context: this.context, expected, timeoutMs: this.opts.limits.handshakeTimeoutMs, clock: this.opts.clock });
      if (this.stopped) return void secured.socket.destroy();
      if (!expected) {
        await this.opts.trust(slot.key, secured.peerId);
        this.opts.log.info(`signaler ${slot.key} is ${secured.peerId} (trusted on first use)`);
      } else if (slot.addr.pinned !== null && this.opts.trusted(slot.key) !== secured.peerId) {
        // An explicit pin replaces the id remembered on first use: pinning the new id once
        // is the fix the mismatch warning gives, and it must hold when the pin is dropped.
        await this.opts.trust(slot.key, secured.peerId);
      }
      this.pinWarnings.proved(slot.key);
      slot.entry.id = secured.peerId;
      this.attach(slot, secured.socket, secured.peerId, endpointOf(raw, host, port));
    } catch (err) {
      raw?.destroy();
      slot.entry.lastError = errorMessage(err);
      if (this.stopped) return;
      if (isSentinelError(err, 'E_PEER_ID_MISMATCH')) {
        slot.entry.state = 'untrusted';
        this.opts.counters.inc('signaler_untrusted');
        const actual = err instanceof PeerIdMismatchError ? err.actual : null;
        const n = this.pinWarnings.notice({ address: slot.key, expected: expected as NodeId, actual, pinned: slot.addr.pinned !== null }, this.opts.clock.now());
        this.opts.log[n.level](n.line);
        this.moveOn('untrusted');
      } else {
        slot.entry.state = 'unreachable';
        this.opts.counters.inc('signaler_unreachable');
        this.opts.log.debug(`signaler ${slot.key} unreachable: ${slot.entry.lastError}`);
        this.moveOn('failed');
      }
    }
  }

  private attach(slot: Slot, socket: Duplex, peerId: NodeId, endpoint: Endpoint | null): void {
    let registered = false;
    const session: Session = new Session({
      socket,
      peerId,
      dialerId: this.opts.identity.id,
      method: 'outbound',
      remoteAddress: slot.key,
      localHello: { listenPort: this.opts.listenPort(), name: '' },
      limits: this.opts.limits,
      clock: this.opts.clock,
      counters: this.opts.counters,
      handlers: {
        onFrame: (_s, type, payload) => {
          if (type !== FrameType.REGISTERED) return this.onFrame(type, payload);
          const m = decodeRegistered(payload);
          if (registered) return void this.opts.counters.inc('signaler_frames_unexpected');
          registered = true;
          this.opts.clock.clearTimeout(this.registerTimer);
          this.onRegistered(slot, m, endpoint);
        },
        onHello: () => {},
        onClose: (_s, reason) => {
          if (this.session !== session) return;
          this.opts.clock.clearTimeout(this.registerTimer);
          this.session = undefined;
          this.relayLink?.closeAll('the signaler session closed');
          this.relayLink = undefined;
          this.observed = null;
          this.endpoint = null;
          this.relayLimits = null;
          slot.entry.state = 'unreachable';
          slot.entry.lastError = reason?.message ?? 'closed';
          this.pending.failAll(new SentinelError('E_DIAL_FAILED', `signaler session closed: ${slot.entry.lastError}`));
          this.opts.log.info(`signaler ${slot.key} session closed: ${slot.entry.lastError}`);
          if (registered) this.opts.counters.inc('signaler_failovers');
          this.moveOn(registered ? 'closed' : 'failed');
        },
      },
    });
    this.session = session;
    this.relayLink = new RelayLink(session, `${peerId} at ${slot.key}`);
    session.start();
    session.send(FrameType.REGISTER, encodeRegister({ listenPort: this.opts.listenPort(), local: this.opts.localEndpoints() }));
    // A signaler that takes the session but never registers us must not keep us from the next one.
    this.registerTimer = this.opts.clock.setTimeout(() => session.close(1, 'the signaler did not register us in time'), this.opts.limits.handshakeTimeoutMs);
  }

  private onRegistered(slot: Slot, m: ReturnType<typeof decodeRegistered>, endpoint: Endpoint | null): void {
    this.observed = m.observed;
    this.endpoint = endpoint;
    this.relayLimits = m.relay ?? null;
    slot.entry.state = 'connected';
    slot.entry.lastError = null;
    this.planner.next('registered');
    this.opts.log.info(`registered with signaler ${slot.key}; public address ${formatHostPort(m.observed.host, m.observed.port)}`);
    for (const w of [...this.registeredWaiters]) w();
    this.opts.onRegistered?.();
  }

  private onFrame(type: number, payload: Buffer): void {
    switch (type) {
      case FrameType.LOOKUP_RESULT: {
        const m = decodeLookupResult(payload);
        return this.settle(m.reqId, m);
      }
      case FrameType.PUNCH_START: {
        const m = decodePunchStart(payload);
        if (m.reqId === 0) return this.opts.onPunchStart(m);
        return this.settle(m.reqId, m);
      }
      case FrameType.NETCHECK_RESULT: {
        const m = decodeNetcheckResult(payload);
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
        if (!this.pending.fail(m.reqId, new SentinelError(code, `signaler: ${m.reason}`))) this.opts.log.warn(`signaler error: ${m.reason}`);
        return;
      }
      default:
        this.opts.counters.inc('signaler_frames_unexpected');
    }
  }

  private settle(reqId: number, value: Answer): void {
    this.pending.settle(reqId, value);
  }

  private request<T extends Answer>(type: number, target: NodeId | ((reqId: number) => Buffer), timeoutMs = SIGNAL_REQUEST_TIMEOUT_MS): Promise<T> {
    const session = this.session;
    if (!session || this.state !== 'connected') {
      return Promise.reject(new SentinelError('E_DIAL_FAILED', `signaler ${this.address} is ${this.state}${this.lastError ? ` (${this.lastError})` : ''}`));
    }
    const encode = type === FrameType.LOOKUP ? encodeLookup : type === FrameType.RELAY_OPEN ? encodeRelayOpen : encodePunchRequest;
    return this.pending.start<T>(timeoutMs, (reqId) =>
      session.send(type, typeof target === 'function' ? target(reqId) : encode({ reqId, target: publicKeyFromNodeId(target) })),
    );
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

  /** NETCHECK_REQUEST: the signaler's probe port and its filtering test (a signaler that predates netcheck never answers). */
  netcheck(flags: number): Promise<NetcheckResult> {
    return this.request<NetcheckResult>(FrameType.NETCHECK_REQUEST, (reqId) => encodeNetcheckRequest({ reqId, flags }));
  }

  /** RTT of the signaler session (its keepalive), null before the first PONG. */
  get rttMs(): number | null {
    return this.session?.rttMs ?? null;
  }

  close(): void {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.retryTimer);
    this.opts.clock.clearTimeout(this.registerTimer);
    this.pending.failAll(new SentinelError('E_SHUTDOWN'));
    this.session?.close(1, 'node shutting down');
  }
}

