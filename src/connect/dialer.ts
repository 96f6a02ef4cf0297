/**
 * The dial chain: how this node reaches another one.
 *
 *   by address (host:port)   a direct stream to it, then TLS; whoever answers is the peer
 *   by id                    an existing session, else the transports in turn (chain.ts):
 *                              1. its known addresses (short timeout when punching can follow)
 *                              2. hole punching coordinated by the signaler
 *                              3. each relay of `relays()` in order (peer relays by measured
 *                                 RTT, then the signaler): a circuit with the same end-to-end
 *                                 TLS session inside; a relay that cannot open one passes to
 *                                 the next
 *                            A refusal by the peer or the user (FINAL_CODES) stops the chain;
 *                            so does a peer the signaler does not know (no relay reaches it).
 *
 * Transports only produce byte streams (src/transports/transport.ts); the connection
 * manager turns each into a session (`secure`), so TLS and admission happen in one place.
 *
 * Dials the user asks for make the peer a contact (it takes a contact's session slot).
 * Automatic dials to strangers (discovery hints, redials, --min-peers) go through the
 * {@link DialBudget} and use known addresses only: a stranger cannot make this node flood
 * a third party, or make the signaler coordinate punches on its behalf.
 */
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { DialBudget } from '../peers/dial-budget.js';
import type { PeerDirectory } from '../peers/directory.js';
import { formatHostPort, type Clock, type ConnectionManager, type Counters, type Session } from '../transport/index.js';
import { DirectTransport } from '../transports/direct.js';
import { PunchedTransport, type Puncher } from '../transports/punched.js';
import { RelayTransport } from '../transports/relay.js';
import type { Progress, RelayRoute, Secure, Transport } from '../transports/transport.js';
import { runChain } from './chain.js';

export type { Progress, RelayRoute } from '../transports/transport.js';

/** Connect timeout for a peer's known direct address when the signaler can help next. */
export const DIRECT_TRY_TIMEOUT_MS = 1_500;
/** Connect timeout per known address when no signaler can help (several may be stale). */
export const KNOWN_ADDRESS_TIMEOUT_MS = 3_000;

/** `punch()` says this when no signaler is configured (the chain then has no punching step). */
export const NO_SIGNALER = 'no signaler';

export interface DialerDeps {
  manager: ConnectionManager;
  directory: PeerDirectory;
  budget: DialBudget;
  clock: Clock;
  counters: Counters;
  log: Logger;
  /** The punch coordinator when the signaler and the addon are there, else why punching is unavailable. */
  punch(): Puncher | string;
  /**
   * The relays that can open a circuit to `target` now, in the order to try them (peer
   * relays by measured RTT, then the signaler). Empty: no relay step.
   */
  relays?(target: NodeId): readonly RelayRoute[];
  /**
   * Addresses never to dial for `peer`: its VPN addresses (a "direct" session through our
   * own tunnel would replace the session that carries the tunnel).
   */
  insideTunnel?(peer: NodeId, host: string): boolean;
  /** How direct streams are opened (default: TCP; the simulated network passes memory pipes). */
  direct?: DirectTransport;
  /** Connect timeout of a dial by address. */
  connectTimeoutMs?: number;
}

export class Dialer {
  private readonly direct: DirectTransport;
  private readonly punched: PunchedTransport;

  constructor(private readonly deps: DialerDeps) {
    this.direct = deps.direct ?? new DirectTransport({ kind: 'tcp', ...(deps.insideTunnel ? { skip: deps.insideTunnel } : {}) });
    this.punched = new PunchedTransport(() => deps.punch());
  }

  /**
   * Dial `host:port`; the answering peer takes a contact's slot (the user asked for it).
   * `onPeer` learns the peer's id as soon as TLS proved it (before the HELLO exchange).
   */
  async dialAddress(host: string, port: number, progress: Progress, signal?: AbortSignal, onPeer?: (peer: NodeId) => void): Promise<{ session: Session; existing: boolean }> {
    progress('connecting', `connecting to ${formatHostPort(host, port)}`);
    const conduit = await this.direct.connect(host, port, { ...(this.deps.connectTimeoutMs !== undefined ? { timeoutMs: this.deps.connectTimeoutMs } : {}), ...(signal ? { signal } : {}) });
    progress('tls', 'TCP connected, TLS handshake');
    return { session: await this.deps.manager.secure(conduit, { asContact: true, ...(onPeer ? { onAuthenticated: onPeer } : {}) }), existing: false };
  }

  /**
   * Reach `id`: an existing session, else the chain (known addresses, hole punching, relays).
   * `asContact`: the user asked (or the peer is a contact). `directOnly`: never a relay,
   * and a relayed session does not count as existing (moving a relayed peer to a direct
   * path).
   */
  async dialId(id: NodeId, progress: Progress, asContact: boolean, opts: { directOnly?: boolean; signal?: AbortSignal } = {}): Promise<{ session: Session; existing: boolean }> {
    const { manager, directory } = this.deps;
    const current = opts.directOnly ? manager.directSession(id) : manager.session(id);
    if (current) return { session: current, existing: true };
    manager.checkDial(id, asContact);
    const target = { id, addresses: directory.get(id)?.addresses ?? [] };
    const punch = this.deps.punch();
    const relays = opts.directOnly ? [] : (this.deps.relays?.(id) ?? []);
    if (target.addresses.length === 0 && punch === NO_SIGNALER && relays.length === 0) {
      throw new SentinelError('E_NO_ADDRESS', `${id}: no signaler configured; dial it once by host:port`);
    }
    const chain: Transport[] = [this.direct, ...(punch === NO_SIGNALER ? [] : [this.punched]), ...relays.map((r) => new RelayTransport(r, this.deps.counters))];
    const secure: Secure = (conduit) => manager.secure(conduit, { expected: id, asContact });
    const timeoutMs = typeof punch === 'string' ? KNOWN_ADDRESS_TIMEOUT_MS : DIRECT_TRY_TIMEOUT_MS;
    const session = await runChain(chain, target, { secure, progress, timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
    return { session, existing: false };
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
        manager.checkDial(id, false);
        const target = { id, addresses: [formatHostPort(e.host, e.port)] };
        return await this.direct.dial(target, { secure: (c) => manager.secure(c, { expected: id }), progress: () => {}, timeoutMs: DIRECT_TRY_TIMEOUT_MS });
      } catch (err) {
        log.debug(`${why}: ${id} at ${formatHostPort(e.host, e.port)}: ${errorMessage(err)}`);
      } finally {
        ticket.release();
      }
    }
    return undefined;
  }
}
