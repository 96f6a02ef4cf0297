/**
 * The transport seam: "how bytes reach a peer" on one side, "what a session is" on the other.
 *
 *   dial chain (connect/)        tries transports in order, applies the stop rules
 *        |  dial(target, { secure, progress, signal })
 *   Transport (this dir)         tcp | punched | relay | memory: produces a byte stream
 *        |  secure(conduit)      (a Duplex plus what the transport knows about the path)
 *   session layer (transport/)   ConnectionManager.secure: preamble when punched, mutual TLS
 *                                1.3, trust and slot admission, HELLO, the duplicate rule
 *
 * A transport never runs TLS itself and never decides which session survives: it hands
 * every stream it opened to `secure` (bound by the chain to the expected peer id) and
 * returns what that resolves with. So TLS and session setup happen in one place, the
 * connection manager, whatever carried the bytes; and a new way to reach peers is one new
 * class here plus one line where the chain is built. Transports that race several streams
 * (hole punching) may secure several; the session layer's duplicate rule keeps one.
 *
 * Inbound paths stay where the bytes arrive: the manager's listener (TCP), RelayAcceptor
 * (circuits offered by a relay), PunchCoordinator.onPunchStart (a peer punching to us).
 *
 * Contract of `dial`:
 * - resolves with an authenticated session with `target.id` (or an existing one the session
 *   layer preferred); rejects with a SentinelError;
 * - reports progress with the stages of DialProgress ('connecting', 'tls', 'looking-up',
 *   'punching', 'relaying');
 * - stops (rejects) when `signal` aborts; leaves no stream open after it settles except
 *   the one carrying the returned session.
 */
import type { Duplex } from 'node:stream';
import type { ConnectMethod, DialProgress, NodeId } from '../api.js';
import type { Session } from '../transport/session.js';

export type TransportKind = 'tcp' | 'punched' | 'relay' | 'memory';

export type Progress = (stage: DialProgress['stage'], message: string) => void;

/** How the bytes of a conduit travel, as the session layer and users need to know it. */
export interface PathInfo {
  /**
   * `outbound`: we connected to a listener (TLS client). `tcp-simultaneous-open`: a punched
   * connection (preamble, then TLS roles by id). `relay`: a relay's circuit (TLS end to end).
   */
  method: Exclude<ConnectMethod, 'inbound'>;
  /** For `relay`: our TLS role (`client` for the node that asked for the circuit). */
  role?: 'client' | 'server';
  /** Shown as the session's remote address (`host:port`, or `relay <label>`). */
  address: string;
}

/** A byte stream to a peer, not yet authenticated, with what is known about its path. */
export interface Conduit {
  stream: Duplex;
  path: PathInfo;
}

/** Whom to reach: the id the peer must prove, and its known addresses (host:port). */
export interface DialTarget {
  id: NodeId;
  addresses: readonly string[];
}

/** Turns a conduit into a session with the dial's expected peer (the session layer). */
export type Secure = (conduit: Conduit) => Promise<Session>;

export interface TransportDialOptions {
  secure: Secure;
  progress: Progress;
  signal?: AbortSignal;
  /** Connect timeout for one attempt, where the transport has one (direct TCP). */
  timeoutMs?: number;
}

export interface Transport {
  readonly kind: TransportKind;
  /** How failures and progress name this transport (`known addresses`, `relay <label>`). */
  readonly label: string;
  /** Why this transport cannot try `target` now, or null when it can. */
  unavailable(target: DialTarget): string | null;
  dial(target: DialTarget, opts: TransportDialOptions): Promise<Session>;
  /**
   * Whether a failure of this transport means no later transport can reach the peer
   * either (beyond the chain's own list of final codes).
   */
  ends?(err: unknown): boolean;
}

/** A relay the dial chain may use: opens a circuit (a byte stream) to a peer. */
export interface RelayRoute {
  /** `<relay id> at host:port`. */
  label: string;
  open(target: NodeId): Promise<Duplex & { remoteAddress?: string }>;
}
