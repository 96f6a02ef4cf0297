/**
 * Hole punching as the node uses it: ask the signaler to coordinate with a peer, carry out
 * the plan from the identity port, and answer the signaler's unsolicited PUNCH_START when
 * a peer wants to reach us. One attempt per peer at a time.
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
import { planPunch } from './plan.js';
import { runPunch } from './puncher.js';

/** How long a dial waits for the signaler registration to complete on a fresh start. */
export const SIGNALER_WAIT_MS = 3_000;

export interface PunchCoordinatorDeps {
  manager: ConnectionManager;
  signaler: SignalerClient;
  clock: Clock;
  log: Logger;
  /** The identity port. */
  port: () => number;
  localHosts: () => string[];
  onEvent: (listener: (e: NodeEvent) => void) => () => void;
}

type Progress = (p: { stage: DialProgress['stage']; message: string }) => void;

export class PunchCoordinator {
  private readonly punching = new Map<NodeId, Promise<Session>>();

  constructor(private readonly deps: PunchCoordinatorDeps) {}

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
        if (errorCode(err) === 'E_UNKNOWN_ID') throw new SentinelError('E_DIAL_FAILED', `${id} is not registered with the signaler`);
        throw err;
      }
      return this.execute(ps, this.deps.clock.now(), (message) => progress({ stage: 'punching', message }));
    })().finally(() => this.punching.delete(id));
    this.punching.set(id, attempt);
    return attempt;
  }

  /** The peer asked the signaler to connect us: punch back unless already connected. */
  onPunchStart(ps: PunchStart): void {
    const receivedAt = this.deps.clock.now();
    const peer = nodeIdFromPublicKey(ps.peer);
    if (this.deps.manager.session(peer) || this.punching.has(peer)) return;
    this.deps.log.info(`signaler: ${peer} wants to connect; punching`);
    const attempt = this.execute(ps, receivedAt, (m) => this.deps.log.debug(m)).finally(() => this.punching.delete(peer));
    this.punching.set(peer, attempt);
    attempt.catch((err) => this.deps.log.info(`punch with ${peer} failed: ${errorMessage(err)}`));
  }

  private async execute(ps: PunchStart, receivedAt: number, progress: (m: string) => void): Promise<Session> {
    const { manager, clock, log } = this.deps;
    const plan = planPunch(ps, receivedAt, { observed: this.deps.signaler.observed, listenPort: this.deps.port(), localHosts: this.deps.localHosts() });
    log.debug(`punch plan for ${plan.peer}: ${plan.self} NAT here, ${plan.peerKind} NAT there${plan.birthday ? `, birthday ${plan.birthday.role}` : ''}`);
    const result = await runPunch(
      plan,
      {
        clock,
        connect: ({ host, port, timeoutMs, signal }) => fighterConnect({ localPort: this.deps.port(), host, port, timeoutMs, signal }),
        connectEphemeral: ({ host, port, timeoutMs, signal }) => tcpConnector(host, port, timeoutMs, signal),
        adopt: (sock, peer) => manager.adoptPunched(sock, peer),
        existing: (peer) => manager.session(peer),
        sessionUp: (peer, signal) => this.sessionUp(peer, signal),
      },
      (p) => progress(p.message),
    );
    return manager.session(result.peerId) ?? (result as Session);
  }

  /** Resolves when a session with `peer` becomes active (pending until then). */
  private sessionUp(peer: NodeId, signal: AbortSignal): Promise<Session> {
    return new Promise((resolve) => {
      const off = this.deps.onEvent((e) => {
        if (e.type !== 'peer-connected' || e.peer.id !== peer) return;
        const s = this.deps.manager.session(peer);
        if (!s) return;
        off();
        resolve(s);
      });
      signal.addEventListener('abort', () => off(), { once: true });
    });
  }
}

/** The addresses we listen on: the listen host if specific, else every non-loopback IPv4 address. */
export function localEndpoints(port: number, host: string | undefined): Endpoint[] {
  if (host && host !== '0.0.0.0' && host !== '::' && isIP(host)) return [{ host, port }];
  const out: Endpoint[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push({ host: a.address, port });
  }
  return out.slice(0, 8);
}

