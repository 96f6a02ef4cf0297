/**
 * Pure punch planning: which endpoints to try, when, and how to explain a failure.
 * No sockets, no timers: the executor (puncher.ts) carries the plan out.
 */
import type { NodeId } from '../api.js';
import { nodeIdFromPublicKey } from '../identity/index.js';
import type { Endpoint, PunchStart } from '../wire/index.js';

export interface PunchPlan {
  peer: NodeId;
  /** Endpoints to connect to in each attempt, in order of preference. */
  candidates: Endpoint[];
  /** Absolute time (clock ms) of the first attempt. */
  startAt: number;
  attempts: number;
  intervalMs: number;
  /** Why this is unlikely to work, if we can tell in advance. */
  warning: string | null;
}

/** A NAT that keeps the identity port as the public port is "port-preserving". */
export function portPreserving(publicPort: number, listenPort: number): boolean {
  return publicPort === listenPort;
}

const key = (e: Endpoint): string => `${e.host}|${e.port}`;

/**
 * Build the plan from a PUNCH_START received at `receivedAt`. Nodes behind the same
 * public address try each other's local addresses first.
 */
export function planPunch(ps: PunchStart, receivedAt: number, self: { observed: Endpoint | null; listenPort: number }): PunchPlan {
  const ordered = ps.sameNat ? [...ps.local, ps.public] : [ps.public];
  const seen = new Set<string>();
  const candidates = ordered.filter((e) => (seen.has(key(e)) ? false : (seen.add(key(e)), true)));
  const selfHard = self.observed !== null && !portPreserving(self.observed.port, self.listenPort);
  const peerHard = !portPreserving(ps.public.port, ps.listenPort);
  const warning =
    !ps.sameNat && selfHard && peerHard
      ? 'both sides are behind NATs that change the port per destination (symmetric NAT): hole punching cannot work; a relay is needed'
      : null;
  return { peer: nodeIdFromPublicKey(ps.peer), candidates, startAt: receivedAt + ps.delayMs, attempts: ps.attempts, intervalMs: ps.intervalMs, warning };
}
