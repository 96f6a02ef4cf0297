/**
 * Hole punching as the node uses it: ask the signaler to coordinate with a peer, carry out
 * the plan from the identity port, and answer the signaler's unsolicited PUNCH_START when
 * a peer wants to reach us. One attempt per peer at a time, and within the PunchGuard's
 * limits (guard.ts): a stranger, or a malicious signaler, cannot make this node flood
 * anyone with connection attempts. Refusals are counted (`punch_refused.<reason>`).
 */
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { DialProgress, NodeEvent, NodeId } from '../api.js';
import { SentinelError, errorCode, errorMessage } from '../errors.js';
import { nodeIdFromPublicKey } from '../identity/index.js';
import type { Logger } from '../log.js';
import { fighterConnect } from '../native/index.js';
import type { SignalerClient } from '../signaler/client.js';
import { tcpConnector, type Clock, type ConnectionManager, type Session } from '../transport/index.js';
import type { Endpoint, PunchStart } from '../wire/index.js';
import { LinkSubnets, type InterfaceList } from '../core/link.js';
import { isGlobalIpv6, isUniqueLocalIpv6 } from '../core/ip-scope.js';
import type { Counters } from '../transport/index.js';
import { PunchGuard } from './guard.js';
import { planPunch, type PunchPlan } from './plan.js';
import { runPunch } from './puncher.js';

/** Peers whose last punch outcome is remembered (for a dial's explanation); the oldest is forgotten first. */
export const MAX_PUNCH_OUTCOMES = 256;

/** How the last punch with a peer went, in the planner's terms (src/netcheck/explain.ts explains it). */
export interface PunchOutcomeRecord {
  self: PunchPlan['self'];
  peer: PunchPlan['peerKind'];
  impossible: boolean;
  birthday: boolean;
  ended: 'refused' | 'timeout' | 'ok' | 'impossible';
}

/** How long a dial waits for the signaler registration to complete on a fresh start. */
export const SIGNALER_WAIT_MS = 3_000;

export interface PunchCoordinatorDeps {
  /** This node's id (the smaller id of a pair opens first; plan.ts). */
  selfId: NodeId;
  manager: ConnectionManager;
  signaler: SignalerClient;
  clock: Clock;
  log: Logger;
  /** The identity port. */
  port: () => number;
  localHosts: () => string[];
  /** Our VPN interfaces, never treated as a link to a peer. */
  tunInterfaces?: () => readonly string[];
  onEvent: (listener: (e: NodeEvent) => void) => () => void;
  /** What the user decided about a peer. */
  trust: (peer: NodeId) => 'contact' | 'stranger' | 'blocked';
  counters: Counters;
}

type Progress = (p: { stage: DialProgress['stage']; message: string }) => void;

export class PunchCoordinator {
  private readonly punching = new Map<NodeId, Promise<Session>>();
  private readonly guard: PunchGuard;
  private readonly outcomes = new Map<NodeId, PunchOutcomeRecord>();

  constructor(private readonly deps: PunchCoordinatorDeps) {
    this.guard = new PunchGuard(deps.clock.now());
  }

  /** Ask the signaler to coordinate, then punch. */
  punchTo(id: NodeId, progress: Progress): Promise<Session> {
    const running = this.punching.get(id);
    if (running) return running;
    const attempt = (async () => {
      const { signaler } = this.deps;
      progress({ stage: 'looking-up', message: `asking signaler ${signaler.address} to coordinate with ${id}` });
      if (!(await signaler.waitRegistered(SIGNALER_WAIT_MS))) {
        throw new SentinelError('E_DIAL_FAILED', `signaler ${signaler.address} is ${signaler.state}${signaler.lastError ? ` (${signaler.lastError})` : ''}`);
      }
      let ps: PunchStart;
      try {
        ps = await signaler.requestPunch(id);
      } catch (err) {
        if (errorCode(err) === 'E_UNKNOWN_ID') throw new SentinelError('E_DIAL_FAILED', `${id} is not registered with the signaler`, { cause: err });
        throw err;
      }
      return this.execute(ps, this.deps.clock.now(), true, (message) => progress({ stage: 'punching', message }));
    })().finally(() => this.punching.delete(id));
    this.punching.set(id, attempt);
    return attempt;
  }

  /** The peer asked the signaler to connect us: punch back unless already connected. */
  onPunchStart(ps: PunchStart): void {
    const receivedAt = this.deps.clock.now();
    const peer = nodeIdFromPublicKey(ps.peer);
    // A relayed session does not count: punching is how it moves to a direct path.
    if (this.deps.manager.directSession(peer)) return this.deps.counters.inc('punch_refused.connected');
    if (this.punching.has(peer)) return this.deps.counters.inc('punch_refused.already_punching');
    const attempt = this.execute(ps, receivedAt, false, (m) => this.deps.log.debug(m)).finally(() => this.punching.delete(peer));
    this.punching.set(peer, attempt);
    attempt.catch((err) => this.deps.log.debug(`punch with ${peer} failed: ${errorMessage(err)}`));
  }

  private async execute(ps: PunchStart, receivedAt: number, ours: boolean, progress: (m: string) => void): Promise<Session> {
    const { clock, log } = this.deps;
    // Our own TUN is not a link: a peer's VPN address is reached through the tunnel.
    const skip = this.deps.tunInterfaces?.() ?? [];
    const link = LinkSubnets.of(Object.fromEntries(Object.entries(networkInterfaces()).filter(([name]) => !skip.includes(name))));
    const plan = planPunch(ps, receivedAt, { id: this.deps.selfId, observed: this.deps.signaler.observed, listenPort: this.deps.port(), localHosts: this.deps.localHosts(), onLink: (h) => link.contains(h) });
    const ticket = this.guard.take(this.deps.trust(plan.peer), plan.birthday !== null, ours, clock.now());
    if (typeof ticket === 'string') {
      this.deps.counters.inc(`punch_refused.${ticket}`);
      throw new SentinelError(ticket === 'blocked' ? 'E_BLOCKED' : 'E_BUSY', `not punching with ${plan.peer}: ${ticket.replace(/_/g, ' ')}`);
    }
    if (!ours) log.info(`signaler: ${plan.peer} wants to connect; punching`);
    if (plan.birthday && !ticket.birthday) {
      this.deps.counters.inc('punch_birthday_skipped');
      plan.birthday = null;
    }
    const v6 = plan.candidates.filter((c) => isGlobalIpv6(c.host)).length;
    log.debug(`punch plan for ${plan.peer}: ${plan.self} NAT here, ${plan.peerKind} NAT there${plan.birthday ? `, birthday ${plan.birthday.role}` : ''}${v6 > 0 ? `, ${v6} IPv6 endpoint(s)` : ''}`);
    const note = (ended: PunchOutcomeRecord['ended']): void => {
      this.outcomes.delete(plan.peer);
      this.outcomes.set(plan.peer, { self: plan.self, peer: plan.peerKind, impossible: plan.impossible !== null, birthday: plan.birthday !== null, ended });
      while (this.outcomes.size > MAX_PUNCH_OUTCOMES) this.outcomes.delete(this.outcomes.keys().next().value as NodeId);
    };
    // `punch_outcomes.<method>.<our NAT>.<peer's NAT>.<outcome>`: the metrics' labels (metrics/node-metrics.ts).
    const outcome = (result: string): void => this.deps.counters.inc(`punch_outcomes.${plan.birthday ? 'birthday' : 'simultaneous_open'}.${plan.self}.${plan.peerKind}.${result}`);
    try {
      const s = await this.run(plan, progress);
      note('ok');
      outcome('connected');
      return s;
    } catch (err) {
      note(plan.impossible !== null ? 'impossible' : / gave up: /.test(errorMessage(err)) ? 'refused' : 'timeout');
      outcome('failed');
      throw err;
    } finally {
      ticket.release();
    }
  }

  private async run(plan: PunchPlan, progress: (m: string) => void): Promise<Session> {
    const { manager, clock } = this.deps;
    const result = await runPunch(
      plan,
      {
        clock,
        connect: ({ host, port, timeoutMs, signal, ttl, shieldMs }) =>
          fighterConnect({ localPort: this.deps.port(), host, port, timeoutMs, signal, ...(ttl !== undefined ? { ttl } : {}), ...(shieldMs !== undefined ? { shieldMs } : {}) }),
        connectEphemeral: ({ host, port, timeoutMs, signal }) => tcpConnector(host, port, timeoutMs, signal),
        adopt: (sock, peer) => manager.adoptPunched(sock, peer),
        // Only a direct session ends punching: a relayed one is what we want to leave.
        existing: (peer) => manager.directSession(peer),
        sessionUp: (peer, signal) => this.sessionUp(peer, signal),
      },
      (p) => progress(p.message),
    );
    return manager.directSession(result.peerId) ?? (result as Session);
  }

  /** How the last punch with `peer` went, if one was tried. */
  lastOutcome(peer: NodeId): PunchOutcomeRecord | undefined {
    return this.outcomes.get(peer);
  }

  /** Resolves when a session with `peer` becomes active (pending until then). */
  private sessionUp(peer: NodeId, signal: AbortSignal): Promise<Session> {
    return new Promise((resolve) => {
      const off = this.deps.onEvent((e) => {
        if (e.type !== 'peer-connected' || e.peer.id !== peer) return;
        const s = this.deps.manager.directSession(peer);
        if (!s) return;
        off();
        resolve(s);
      });
      signal.addEventListener('abort', () => off(), { once: true });
    });
  }
}

/** At most this many endpoints in our announcement (REGISTER, peer record). */
export const MAX_LOCAL_ENDPOINTS = 8;
/** At most this many global IPv6 endpoints among them (the signaler keeps as many). */
export const MAX_GLOBAL_V6_ENDPOINTS = 2;

/**
 * The addresses we listen on, to announce: the listen host if specific, else our
 * interfaces' addresses: IPv4 (non-loopback) and IPv6 unique local (fc00::/7, the IPv6
 * analogue of a private IPv4 address: for peers on our LAN), then at most
 * MAX_GLOBAL_V6_ENDPOINTS global IPv6 addresses (2000::/3, see core/ip-scope.ts: no NAT,
 * the address is the address). Never loopback, link-local (fe80::/10: needs a zone id),
 * multicast or IPv4-mapped, and never our own VPN interface or addresses. IPv6 only when
 * the listener takes IPv6 (no host, or `::`; `0.0.0.0` is IPv4 only).
 */
export function localEndpoints(
  port: number,
  host: string | undefined,
  skip: { interfaces?: readonly string[]; addresses?: readonly string[] } = {},
  interfaces: InterfaceList = networkInterfaces(),
): Endpoint[] {
  if (host && host !== '0.0.0.0' && host !== '::' && isIP(host)) return [{ host, port }];
  const withV6 = host === undefined || host === '::';
  const lan: Endpoint[] = [];
  const global: Endpoint[] = [];
  for (const [name, list] of Object.entries(interfaces)) {
    // Never our own VPN interface: a peer dialing that address would reach us through the
    // tunnel itself, and a "direct" session inside the tunnel would replace the one carrying it.
    if (skip.interfaces?.includes(name)) continue;
    for (const a of list ?? []) {
      if (a.internal || skip.addresses?.includes(a.address)) continue;
      if (a.family === 'IPv4') lan.push({ host: a.address, port });
      else if (!withV6 || a.family !== 'IPv6' || (a.scopeid ?? 0) !== 0) continue;
      else if (isGlobalIpv6(a.address)) global.push({ host: a.address, port });
      else if (isUniqueLocalIpv6(a.address)) lan.push({ host: a.address, port });
    }
  }
  const v6 = global.slice(0, MAX_GLOBAL_V6_ENDPOINTS);
  return [...lan.slice(0, MAX_LOCAL_ENDPOINTS - v6.length), ...v6];
}
