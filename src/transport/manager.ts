/**
 * The connection manager: the session layer under every transport. It accepts inbound connections,
 * secures every byte stream a transport opened ({@link ConnectionManager.secure}) with mutual TLS
 * (handshake.ts), enforces per-IP and total limits, and keeps one session per peer; it dials nothing.
 *
 * Duplicate rule (both sides apply it to the same pair of sessions and so keep the same
 * one): when a second session with a peer comes up, and the older one was established
 * more than SIMULTANEOUS_WINDOW_MS earlier, the newer wins (the old one is presumed stale:
 * the peer restarted or lost it). Otherwise, if the two were opened by different nodes,
 * the one opened by the node with the smaller id wins. If both were opened by the same
 * node (a restart, or two hole-punching attempts that both succeeded), that node decides:
 * it keeps the one with the smaller connection tag (a TLS exporter value both ends share)
 * and closes the other; the other end makes the newer one active meanwhile and falls back
 * to the remaining one when one closes. When the peer closes our active session as a
 * duplicate while the one it kept has not delivered its HELLO here yet (a relayed session
 * replaced by a direct one), that one takes over when its HELLO arrives, and the peer is
 * not reported down in between.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectMethod, NodeId } from '../api.js';
import { SentinelError, errorCode } from '../errors.js';
import type { Identity } from '../identity/index.js';
import { GoawayCode, type Hello } from '../wire/index.js';
import { formatHostPort, normalizeHost } from '../core/host-port.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { HELLO_TIMEOUT_MS, type TransportLimits } from './limits.js';
import { Session } from './session.js';
import { assignSlot, bumpCount, countSlots, decideSlot, evictIdlestStranger, refuseConnection, type SlotClass, type SlotCounts } from './slots.js';
import { PendingHandshakes } from './pending.js';
import { plainListen } from './connect.js';
import { connectionTag, decideDuplicate } from './duplicates.js';
import { Handshaker } from './handshake.js';
import type { Conduit } from '../transports/transport.js';

/** An inbound byte stream: a TCP socket from the listener, or any stream with an address (tests). */
export type InboundStream = Duplex & { remoteAddress?: string; remotePort?: number };

export interface ManagerEvents {
  /** A session became the active one for its peer (`replaced`: another was active before). */
  onSessionUp(session: Session, replaced: boolean): void;
  /** The active session for a peer closed and no other took its place. */
  onSessionDown(peerId: NodeId, reason: SentinelError | undefined): void;
  onFrame(session: Session, type: number, payload: Buffer): void;
  onHello(session: Session, hello: Hello): void;
  log(level: 'debug' | 'info' | 'warn', msg: string): void;
}

/** Creates the listening server (injected so the node can use a fighter socket). */
export type ListenerFactory = (port: number, host: string | undefined) => Promise<net.Server>;

export interface ManagerOptions {
  listener?: ListenerFactory;
  /**
   * A newer session from the same dialer immediately replaces and closes the older one
   * (the signaler: a re-registration means the old session is stale).
   */
  replaceStale?: boolean;
  identity: Identity;
  clock: Clock;
  counters: Counters;
  limits: TransportLimits;
  /** Our HELLO for a session with `peer` (its flags may depend on who the peer is). */
  localHello: (peer: NodeId) => Hello;
  events: ManagerEvents;
  /** What the user decided about a peer; decides session slots (default: everyone is a contact). */
  classify?: (peer: NodeId) => SlotClass;
}

/** Options of {@link ConnectionManager.secure}. */
export interface SecureOptions {
  /** The peer must prove this id (required for punched and relayed conduits). */
  expected?: NodeId;
  /** The user asked for this dial: the peer takes a contact's slot whatever its trust now. */
  asContact?: boolean;
  /**
   * Outbound streams: called once TLS proved the peer's id (and it is not this node), before
   * admission and the HELLO exchange, so that a caller can start durable bookkeeping about
   * the peer in parallel with the rest of the dial. A throw here is not caught.
   */
  onAuthenticated?: (peer: NodeId) => void;
}

export class ConnectionManager {
  private readonly handshakes: Handshaker;
  private readonly active = new Map<NodeId, Session>();
  private readonly all = new Set<Session>();
  private readonly pending: PendingHandshakes<InboundStream>;
  private readonly sessionsByIp = new Map<string, number>();
  /** Inbound IP of each inbound session (per-IP stranger slots). */
  private readonly inboundIp = new WeakMap<Session, string>();
  /** Peers whose active session the peer closed as a duplicate while the one it kept awaits its HELLO. */
  private readonly handover = new Map<NodeId, SentinelError>();
  private server: net.Server | undefined;
  private stopping = false;

  constructor(private readonly opts: ManagerOptions) {
    this.handshakes = new Handshaker({ identity: opts.identity, clock: opts.clock, counters: opts.counters, handshakeTimeoutMs: opts.limits.handshakeTimeoutMs });
    this.pending = new PendingHandshakes({ perIp: opts.limits.maxPendingHandshakesPerIp, total: opts.limits.maxPendingHandshakes });
  }

  /** Listen for inbound connections. Resolves with the bound port. */
  async listen(port: number, host?: string): Promise<number> {
    let server: net.Server;
    try {
      server = this.opts.listener ? await this.opts.listener(port, host) : await plainListen(port, host);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'EADDRINUSE') throw new SentinelError('E_PORT_IN_USE', `port ${port} is already in use (another node or program?); choose another with --port`);
      if (code === 'EACCES') throw new SentinelError('E_PORT_IN_USE', `not allowed to listen on port ${port}`);
      throw err;
    }
    this.server = server;
    server.on('connection', (sock: net.Socket) => this.accept(sock));
    server.on('error', (err) => this.opts.events.log('warn', `listener error: ${err.message}`));
    return (server.address() as net.AddressInfo).port;
  }

  /** The active session with `peer`, if any. */
  session(peer: NodeId): Session | undefined {
    return this.active.get(peer);
  }

  /** The active session with `peer` if it is a direct one (not through a relay). */
  directSession(peer: NodeId): Session | undefined {
    const s = this.active.get(peer);
    return s && s.method !== 'relay' ? s : undefined;
  }

  sessions(): Session[] {
    return [...this.active.values()];
  }

  /** Handle an inbound connection (from our listener, or any other source of streams). */
  accept(sock: InboundStream): void {
    const ip = normalizeHost(sock.remoteAddress ?? '?');
    const address = formatHostPort(ip, sock.remotePort ?? 0);
    if (this.stopping) return void sock.destroy();
    if ((this.sessionsByIp.get(ip) ?? 0) >= this.opts.limits.maxSessionsPerIp) {
      this.opts.counters.inc('inbound_refused.sessions_per_ip');
      return void sock.destroy();
    }
    const admitted = this.pending.admit(sock, ip);
    if ('refused' in admitted) {
      this.opts.counters.inc(`inbound_refused.${admitted.refused}`);
      return void sock.destroy();
    }
    if (admitted.evicted) {
      admitted.evicted.destroy();
      this.opts.counters.inc('inbound_evicted.pending_full');
    }
    this.handshakes.track(sock);
    this.handshakes
      .inbound(sock)
      .then(
        (s) => {
          this.pending.done(sock);
          return this.establish(s.socket, s.peerId, 'inbound', address, ip, s.peerId, false);
        },
        (err: SentinelError) => {
          this.opts.counters.inc(`handshakes_failed.${err.code}`);
          this.opts.events.log('debug', `inbound handshake from ${address} failed: ${err.message}`);
          sock.destroy();
        },
      )
      .catch((err: SentinelError) => this.opts.events.log('debug', `inbound session from ${address} not admitted: ${err.message}`))
      .finally(() => this.pending.done(sock));
  }

  /**
   * Take over a socket produced by hole punching towards `expected`: exchange preambles,
   * pick TLS roles by id, verify the peer. An existing session with the peer wins.
   */
  async adoptPunched(sock: Duplex & { remoteAddress?: string; remotePort?: number }, expected: NodeId): Promise<Session> {
    const current = this.directSession(expected);
    if (current) {
      sock.destroy();
      return current;
    }
    const address = formatHostPort(sock.remoteAddress ?? '?', sock.remotePort ?? 0);
    const { secured, role } = await this.handshakes.punched(sock, expected);
    // Several attempts may succeed at once: the duplicate rule (both sides agree) picks one.
    return this.establish(secured.socket, expected, 'tcp-simultaneous-open', address, undefined, role === 'client' ? this.opts.identity.id : expected, false);
  }

  /**
   * Take over a relayed circuit with `peer`: mutual TLS 1.3 on the circuit's stream,
   * end to end (the relay sees only ciphertext), `role` `client` for the node that asked
   * for the circuit. The peer must prove `peer`; an existing session with it wins.
   */
  async adoptRelayed(stream: Duplex & { remoteAddress?: string }, peer: NodeId, role: 'client' | 'server', asContact = false, address = stream.remoteAddress ?? 'relay'): Promise<Session> {
    if (this.stopping) {
      stream.destroy();
      throw new SentinelError('E_SHUTDOWN');
    }
    const current = this.active.get(peer);
    if (current) {
      stream.destroy();
      return current;
    }
    const secured = await this.handshakes.secure(stream, role, peer);
    return this.establish(secured.socket, peer, 'relay', address, undefined, role === 'client' ? this.opts.identity.id : peer, asContact);
  }

  /**
   * The session layer's entry for a byte stream a transport opened (see
   * src/transports/transport.ts): preamble and TLS roles by id for a punched stream, TLS
   * as the circuit's `role` for a relayed one, TLS as client otherwise; then admission and
   * the session. With `expected`, the peer must prove that id, and an existing session the
   * duplicate rule would keep anyway is returned instead (the stream is closed).
   */
  async secure(conduit: Conduit, o: SecureOptions = {}): Promise<Session> {
    const { stream, path } = conduit;
    if (path.method === 'outbound') return this.secureOutbound(stream, path.address, o);
    if (o.expected === undefined) {
      stream.destroy();
      throw new SentinelError('E_INTERNAL', `a ${path.method} stream needs the expected peer id`);
    }
    if (path.method === 'relay') return this.adoptRelayed(stream, o.expected, path.role ?? 'client', o.asContact === true, path.address);
    return this.adoptPunched(stream, o.expected);
  }

  /** Throws when `peer` may not be dialed: this node, or a blocked peer the user did not ask for. */
  checkDial(peer: NodeId, asContact: boolean): void {
    if (peer === this.opts.identity.id) throw new SentinelError('E_SELF_DIAL');
    if (this.classify(peer) === 'blocked' && !asContact) throw new SentinelError('E_BLOCKED', `${peer} is blocked`);
  }

  private async secureOutbound(stream: Duplex, address: string, o: SecureOptions): Promise<Session> {
    const { expected } = o;
    try {
      if (this.stopping) throw new SentinelError('E_SHUTDOWN');
      if (expected !== undefined) this.checkDial(expected, o.asContact === true);
    } catch (err) {
      stream.destroy();
      throw err;
    }
    // A relayed session does not stop a dial: a direct one replaces it (the duplicate rule).
    const current = expected === undefined ? undefined : this.directSession(expected);
    if (current) {
      stream.destroy();
      return current;
    }
    const secured = await this.handshakes.secure(stream, 'client', expected);
    if (secured.peerId === this.opts.identity.id) {
      secured.socket.destroy();
      throw new SentinelError('E_SELF_DIAL', `${address} is this node`);
    }
    o.onAuthenticated?.(secured.peerId);
    return this.establish(secured.socket, secured.peerId, 'outbound', address, undefined, this.opts.identity.id, o.asContact === true);
  }

  /** What the user decided about `peer`. */
  private classify(peer: NodeId): SlotClass {
    return this.opts.classify?.(peer) ?? 'contact';
  }

  /**
   * Admit an authenticated connection (or refuse it: GOAWAY and close), start its session,
   * and resolve once the peer's HELLO made it the active session for that peer (or the
   * session the duplicate rule kept). `dialerId`: the node that opened the connection (for
   * punched ones, the TLS client). `asContact`: the user asked for it.
   */
  private establish(socket: Duplex, peerId: NodeId, method: ConnectMethod, address: string, inboundIp: string | undefined, dialerId: NodeId, asContact: boolean): Promise<Session> {
    const who = asContact ? 'contact' : this.classify(peerId);
    const decision = decideSlot(who, this.counts(inboundIp), this.opts.limits);
    if (decision.kind === 'refuse') return Promise.reject(this.refuse(socket, peerId, address, decision.reason));
    if (decision.kind === 'evict') evictIdlestStranger(this.all, this.opts.counters);
    let ready!: { resolve: (s: Session) => void; reject: (e: SentinelError) => void };
    const result = new Promise<Session>((resolve, reject) => (ready = { resolve, reject }));
    const helloTimer = this.opts.clock.setTimeout(() => session.close(GoawayCode.TIMEOUT, 'no HELLO', new SentinelError('E_HANDSHAKE_TIMEOUT', 'no HELLO in time')), HELLO_TIMEOUT_MS);
    let registered = false;
    const session: Session = new Session({
      socket,
      peerId,
      dialerId,
      tag: connectionTag(socket),
      method,
      remoteAddress: address,
      localHello: this.opts.localHello(peerId),
      limits: this.opts.limits,
      clock: this.opts.clock,
      counters: this.opts.counters,
      handlers: {
        onFrame: (s, type, payload) => this.opts.events.onFrame(s, type, payload),
        onHello: (s, hello) => {
          if (!registered) {
            registered = true;
            this.opts.clock.clearTimeout(helloTimer);
            ready.resolve(this.register(s));
          }
          this.opts.events.onHello(s, hello);
        },
        onClose: (s, reason) => {
          this.opts.clock.clearTimeout(helloTimer);
          this.all.delete(s);
          if (inboundIp !== undefined) bumpCount(this.sessionsByIp, inboundIp, -1);
          if (!registered) {
            this.endHandover(s.peerId);
            return ready.reject(reason ?? new SentinelError('E_PROTOCOL', 'the peer closed the session before its HELLO'));
          }
          if (this.active.get(s.peerId) !== s) return;
          this.active.delete(s.peerId);
          // Another open session with this peer (kept while its dialer decides) takes over.
          const others = [...this.all].filter((o) => o.peerId === s.peerId);
          const next = others.filter((o) => o.peerHello !== null).pop();
          if (next) {
            this.active.set(next.peerId, next);
            this.opts.events.onSessionUp(next, true);
          } else if (reason?.code === 'E_DUPLICATE_SESSION' && others.length > 0) {
            // The peer kept another session whose HELLO is still on its way (a relayed
            // session replaced by a direct one): that one takes over when it arrives, and
            // the peer is not reported down in between.
            this.handover.set(s.peerId, reason);
          } else this.opts.events.onSessionDown(s.peerId, reason);
        },
      },
    });
    assignSlot(session, who === 'stranger' ? 'stranger' : 'contact', this.opts.limits);
    this.all.add(session);
    if (inboundIp !== undefined) {
      bumpCount(this.sessionsByIp, inboundIp, 1);
      this.inboundIp.set(session, inboundIp);
    }
    session.start();
    return result;
  }

  /** Sessions counted for slot decisions (all open ones, HELLO or not). */
  private counts(ip: string | undefined): SlotCounts {
    return countSlots(this.all, ip === undefined ? undefined : (s) => this.inboundIp.get(s) === ip);
  }

  /** Says GOAWAY on a connection we do not admit, and closes it. */
  private refuse(socket: Duplex, peerId: NodeId, address: string, reason: 'blocked' | 'busy'): SentinelError {
    this.opts.counters.inc(`sessions_refused.${reason}`);
    this.opts.events.log('debug', `session with ${peerId} (${address}) refused: ${reason}`);
    return refuseConnection(socket, peerId, reason, this.opts.clock);
  }

  /**
   * The user changed what they think of `peer`: its sessions move to the matching slots;
   * a blocked peer's sessions are closed.
   */
  retrust(peer: NodeId): void {
    const who = this.classify(peer);
    for (const s of [...this.all]) {
      if (s.peerId !== peer) continue;
      if (who === 'blocked') s.close(GoawayCode.REFUSED, 'refused', new SentinelError('E_BLOCKED', `${peer} was blocked`));
      else assignSlot(s, who, this.opts.limits);
    }
  }

  /** Sessions by slot, for status. */
  slotCounts(): { contacts: number; strangers: number; pendingHandshakes: number } {
    const c = this.counts(undefined);
    return { contacts: c.total - c.strangers, strangers: c.strangers, pendingHandshakes: this.pending.size };
  }

  /** Apply the duplicate rule; returns the session that stays active. */
  private register(session: Session): Session {
    const existing = this.active.get(session.peerId);
    if (!existing) {
      const handedOver = this.handover.delete(session.peerId);
      this.active.set(session.peerId, session);
      this.opts.events.onSessionUp(session, handedOver);
      return session;
    }
    // The peer opened both (no close here): it knows which it keeps and will close the
    // other; if it restarted, the old one is dead and will fail its keepalive.
    const d = decideDuplicate(existing, session, this.opts.identity.id, this.opts.replaceStale === true);
    if (d.keep === session) {
      this.active.set(session.peerId, session);
      this.opts.events.onSessionUp(session, true);
    }
    if (d.close) {
      this.opts.counters.inc(d.counter);
      d.close.close(GoawayCode.DUPLICATE, d.reason, new SentinelError('E_DUPLICATE_SESSION', d.detail));
    }
    return d.keep;
  }

  /** A session closed before its HELLO: if it was the last hope of a handover, the peer is down now. */
  private endHandover(peer: NodeId): void {
    const reason = this.handover.get(peer);
    if (reason === undefined || [...this.all].some((o) => o.peerId === peer)) return;
    this.handover.delete(peer);
    this.opts.events.onSessionDown(peer, reason);
  }

  /** Close every session (GOAWAY SHUTDOWN) and the listener. */
  async close(): Promise<void> {
    this.stopping = true;
    for (const s of [...this.all]) s.close(GoawayCode.SHUTDOWN, 'node shutting down');
    this.handshakes.destroyAll();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
