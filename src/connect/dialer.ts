/**
 * The dial chain: how this node reaches another one.
 *
 *   by address (host:port)   TCP + TLS to it; whoever answers is the peer
 *   by id                    an existing session, else each known address (short timeout
 *                            when the signaler can help next), else hole punching
 *                            coordinated by the signaler, else (punching impossible or
 *                            failed) a circuit through the signaler's relay, with the
 *                            same end-to-end TLS session inside
 *
 * Dials the user asks for make the peer a contact (it takes a contact's session slot).
 * Automatic dials to strangers (discovery hints, redials, --min-peers) go through the
 * {@link DialBudget} and use known addresses only: a stranger cannot make this node flood
 * a third party, or make the signaler coordinate punches on its behalf.
 */
import type { Duplex } from 'node:stream';
import type { DialProgress, NodeId } from '../api.js';
import { SentinelError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { DialBudget } from '../peers/dial-budget.js';
import type { PeerDirectory } from '../peers/directory.js';
import type { PunchCoordinator } from '../punch/coordinator.js';
import { formatHostPort, parseHostPort, type Clock, type ConnectionManager, type Counters, type Session } from '../transport/index.js';

/** TCP connect timeout for a peer's known direct address when the signaler can help next. */
export const DIRECT_TRY_TIMEOUT_MS = 1_500;
/** TCP connect timeout per known address when no signaler can help (several may be stale). */
export const KNOWN_ADDRESS_TIMEOUT_MS = 3_000;

export type Progress = (stage: DialProgress['stage'], message: string) => void;

export interface DialerDeps {
  manager: ConnectionManager;
  directory: PeerDirectory;
  budget: DialBudget;
  clock: Clock;
  counters: Counters;
  log: Logger;
  /** The punch coordinator when the signaler and the addon are there, else why punching is unavailable. */
  punch(): PunchCoordinator | string;
  /** Relays that can open a circuit to `target` now, in the order to try (peer relays by RTT, then the signaler). */
  relays?(target: NodeId): RelayRoute[];
  /**
   * Addresses never to dial for `peer`: its VPN addresses (a "direct" session through our
   * own tunnel would replace the session that carries the tunnel).
   */
  insideTunnel?(peer: NodeId, host: string): boolean;
}

/** A relay the dial chain may use: opens a circuit (a byte stream) to a peer. */
export interface RelayRoute {
  /** `<relay id> at host:port`. */
  label: string;
  open(target: NodeId): Promise<Duplex & { remoteAddress?: string }>;
}

/** Failures that a relay would not get past: the peer or the user said no. */
const FINAL = new Set(['E_SELF_DIAL', 'E_BLOCKED', 'E_REFUSED', 'E_BUSY', 'E_UNKNOWN_ID', 'E_SHUTDOWN']);

export class Dialer {
  constructor(private readonly deps: DialerDeps) {}

  /** Dial `host:port`; the answering peer takes a contact's slot (the user asked for it). */
  async dialAddress(host: string, port: number, progress: Progress): Promise<{ session: Session; existing: boolean }> {
    progress('connecting', `connecting to ${formatHostPort(host, port)}`);
    return this.deps.manager.dial(host, port, { asContact: true, onConnected: () => progress('tls', 'TCP connected, TLS handshake') });
  }

  /**
   * Reach `id`: an existing session, its known addresses, hole punching, then a relay.
   * `asContact`: the user asked (or the peer is a contact). `directOnly`: never the relay,
   * and a relayed session does not count as existing (moving a relayed peer to a direct
   * path).
   */
  async dialId(id: NodeId, progress: Progress, asContact: boolean, opts: { directOnly?: boolean } = {}): Promise<{ session: Session; existing: boolean }> {
    const { manager, directory } = this.deps;
    const current = opts.directOnly ? manager.directSession(id) : manager.session(id);
    if (current) return { session: current, existing: true };
    const punch = this.deps.punch();
    const canPunch = typeof punch !== 'string';
    const failures: string[] = [];
    const addresses = directory.get(id)?.addresses ?? [];
    for (const addr of addresses) {
      const a = parseHostPort(addr);
      if (!a || this.deps.insideTunnel?.(id, a.host)) continue;
      progress('connecting', `connecting to ${addr}`);
      try {
        return await manager.dial(a.host, a.port, {
          expected: id,
          asContact,
          onConnected: () => progress('tls', `TCP connected to ${addr}, TLS handshake`),
          connectTimeoutMs: canPunch ? DIRECT_TRY_TIMEOUT_MS : KNOWN_ADDRESS_TIMEOUT_MS,
        });
      } catch (err) {
        const code = errorCode(err);
        if (code === 'E_SELF_DIAL' || code === 'E_BLOCKED' || code === 'E_REFUSED' || code === 'E_BUSY') throw err;
        failures.push(`${addr}: ${errorMessage(err)}`);
      }
    }
    const relays = opts.directOnly ? [] : (this.deps.relays?.(id) ?? []);
    const relay = relays.length > 0;
    if (canPunch) {
      try {
        const session = await punch.punchTo(id, (m) => progress(m.stage, m.message));
        return { session, existing: false };
      } catch (err) {
        // Not registered: no relay can reach it either.
        const notRegistered = errorCode((err as { cause?: unknown }).cause) === 'E_UNKNOWN_ID';
        if (!relay || notRegistered || FINAL.has(errorCode(err) ?? '')) throw err;
        failures.push(`hole punching: ${errorMessage(err)}`);
      }
    } else if (!relay) {
      if (addresses.length === 0) throw new SentinelError(punch === 'no signaler' ? 'E_NO_ADDRESS' : 'E_DIAL_FAILED', `${id}: ${punch === 'no signaler' ? 'no signaler configured; dial it once by host:port' : `no known address and hole punching unavailable (${punch})`}`);
      throw new SentinelError('E_DIAL_FAILED', `${id}: ${[...failures, ...(punch === 'no signaler' ? [] : [`hole punching unavailable (${punch})`])].join('; ')}`);
    } else failures.push(`hole punching unavailable (${punch})`);
    return { session: await this.viaRelay(id, relays, progress, asContact, failures), existing: false };
  }

  /**
   * A circuit through the first of `relays` that opens one, then the end-to-end TLS session
   * on it (we are the client). A relay that refuses or fails passes the turn to the next.
   */
  private async viaRelay(id: NodeId, relays: RelayRoute[], progress: Progress, asContact: boolean, failures: string[]): Promise<Session> {
    let refused: unknown;
    for (const relay of relays) {
      progress('relaying', `no direct path; asking relay ${relay.label} for a circuit`);
      let stream;
      try {
        stream = await relay.open(id);
      } catch (err) {
        const code = errorCode(err);
        if (code === 'E_REFUSED') refused = err;
        failures.push(`relay ${relay.label}: ${errorMessage(err)}`);
        continue;
      }
      progress('tls', 'relay circuit open; TLS handshake with the peer, end to end');
      this.deps.counters.inc('relay.dials');
      return this.deps.manager.adoptRelayed(stream, id, 'client', asContact);
    }
    throw new SentinelError(refused ? 'E_REFUSED' : 'E_DIAL_FAILED', `${id}: ${failures.join('; ')}`);
  }

  /**
   * An automatic dial to a stranger at `endpoints` (host:port), within the budget; one
   * endpoint after the other until one answers as `id`. Resolves with the session, or
   * undefined when the budget refused or every endpoint failed (counted, logged at debug).
   */
  async dialStranger(id: NodeId, endpoints: readonly { host: string; port: number }[], why: string): Promise<Session | undefined> {
    const { manager, budget, clock, counters, log } = this.deps;
    if (manager.session(id)) return manager.session(id);
    for (const e of endpoints) {
      const ticket = budget.take(e.host, clock.now());
      if (typeof ticket === 'string') {
        counters.inc(`dials_refused.${ticket}`);
        log.debug(`${why}: not dialing ${id} at ${formatHostPort(e.host, e.port)} (dial budget: ${ticket})`);
        continue;
      }
      try {
        const { session } = await manager.dial(e.host, e.port, { expected: id, connectTimeoutMs: DIRECT_TRY_TIMEOUT_MS });
        return session;
      } catch (err) {
        log.debug(`${why}: ${id} at ${formatHostPort(e.host, e.port)}: ${errorMessage(err)}`);
      } finally {
        ticket.release();
      }
    }
    return undefined;
  }
}
