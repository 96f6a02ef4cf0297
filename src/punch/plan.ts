/**
 * Pure punch planning: which endpoints to try, when, with which technique, and how to
 * explain a failure. No sockets, no timers: the executor (puncher.ts) carries it out.
 *
 * NAT kinds are inferred from what the signaler observed: a node whose public address is
 * one of its own addresses has no NAT ("public"); one whose public port equals its
 * identity port sits behind a port-preserving NAT ("easy"); otherwise the NAT picked
 * another port, as NATs that use a new port per destination do ("hard").
 *
 * Techniques:
 * - simultaneous open: both sides connect() from their identity ports to each other's
 *   public endpoint, again every interval. Enough when at least one side is public or
 *   both are easy.
 * - easy x hard (birthday): the hard side opens SPRAY_COUNT connections from different
 *   local ports to the easy side's public endpoint (each gets a random public port on the
 *   hard NAT); the easy side connects from its identity port to PROBE_COUNT random ports
 *   of the hard side's public address. Any port in common opens a path through both NATs.
 *   With 800 x 800 over 64,512 ports the expected overlap is ~10 (P(no overlap) ~ 5e-5).
 * - hard x hard: no technique without a relay; fail at once with that reason.
 *
 * IPv6: when both sides have a global IPv6 address (2000::/3, core/ip-scope.ts), the
 * peer's global IPv6 endpoints on its identity port (at most MAX_V6_CANDIDATES) join the
 * simultaneous open, first in the list. There is no NAT on IPv6, only (usually) a stateful
 * firewall that drops unsolicited inbound SYNs, which simultaneous open passes like an
 * easy NAT; so IPv6 works whatever the IPv4 NATs are, hard x hard included (then it is
 * the only candidate). The puncher sends to every candidate of a round at once, so IPv6
 * costs IPv4 no time; the IPv4 plan (candidates, birthday) is unchanged, so a broken IPv6
 * path loses nothing.
 */
import type { NodeId } from '../api.js';
import { nodeIdFromPublicKey } from '../identity/index.js';
import type { Endpoint, PunchStart } from '../wire/index.js';
import { isGlobalIpv6 } from '../core/ip-scope.js';
import { MAX_LOCAL_CANDIDATES } from './guard.js';

/** The peer's global IPv6 endpoints tried per punch. */
export const MAX_V6_CANDIDATES = 2;

export const SPRAY_COUNT = 800;
export const PROBE_COUNT = 800;
/** The port range NATs allocate from for unprivileged source ports. */
export const NAT_PORT_MIN = 1024;
export const NAT_PORT_MAX = 65535;

export type NatKind = 'public' | 'easy' | 'hard' | 'unknown';

export type Birthday = { role: 'spray'; target: Endpoint; count: number } | { role: 'probe'; host: string; ports: number[] };

export interface PunchPlan {
  peer: NodeId;
  /** Endpoints for simultaneous open, in order of preference. */
  candidates: Endpoint[];
  /** Extra technique for easy x hard, or null. */
  birthday: Birthday | null;
  /** Absolute time (clock ms) of the first attempt. */
  startAt: number;
  attempts: number;
  intervalMs: number;
  self: NatKind;
  peerKind: NatKind;
  /** Set when the plan cannot work at all: the reason. */
  impossible: string | null;
}

export interface SelfView {
  observed: Endpoint | null;
  listenPort: number;
  /** Our own listen addresses (what we announce), IPv4 and IPv6. */
  localHosts: readonly string[];
  /**
   * Is `host` on one of our own links (inside the subnet of one of our interfaces)? Only
   * such local endpoints are tried: a peer behind our NAT is on our LAN, and an endpoint
   * elsewhere is someone the reporter wants us to flood. Default: none is.
   */
  onLink?: (host: string) => boolean;
}

/** A NAT that keeps the identity port as the public port is "port-preserving". */
export function portPreserving(publicPort: number, listenPort: number): boolean {
  return publicPort === listenPort;
}

export function natKind(pub: Endpoint | null, listenPort: number, localHosts: readonly string[]): NatKind {
  if (!pub) return 'unknown';
  if (localHosts.includes(pub.host)) return 'public';
  return portPreserving(pub.port, listenPort) ? 'easy' : 'hard';
}

const key = (e: Endpoint): string => `${e.host}|${e.port}`;

/** `count` distinct random ports in the NAT range. */
export function randomPorts(count: number, random: () => number): number[] {
  const span = NAT_PORT_MAX - NAT_PORT_MIN + 1;
  // Partial Fisher-Yates over the range: distinct ports, bounded work whatever `random` returns.
  const pool = Array.from({ length: span }, (_, i) => NAT_PORT_MIN + i);
  const n = Math.min(count, span);
  for (let i = 0; i < n; i++) {
    const j = i + Math.min(span - i - 1, Math.floor(random() * (span - i)));
    [pool[i], pool[j]] = [pool[j] as number, pool[i] as number];
  }
  return pool.slice(0, n);
}

/**
 * Build the plan from a PUNCH_START received at `receivedAt`. Nodes behind the same
 * public address try each other's local addresses first: only those on one of our links,
 * at most MAX_LOCAL_CANDIDATES.
 */
export function planPunch(ps: PunchStart, receivedAt: number, self: SelfView, random: () => number = Math.random): PunchPlan {
  const onLink = self.onLink ?? (() => false);
  const v6 = ipv6Candidates(ps, self);
  const locals = ps.sameNat ? ps.local.filter((e) => onLink(e.host)).slice(0, MAX_LOCAL_CANDIDATES) : [];
  const ordered = [...v6, ...locals, ps.public];
  const seen = new Set<string>();
  let candidates = ordered.filter((e) => (seen.has(key(e)) ? false : (seen.add(key(e)), true)));
  const mine = natKind(self.observed, self.listenPort, self.localHosts);
  const theirs = natKind(ps.public, ps.listenPort, ps.local.map((e) => e.host));
  let birthday: Birthday | null = null;
  let impossible: string | null = null;
  if (!ps.sameNat && mine === 'hard' && theirs === 'hard') {
    // IPv4 cannot work; IPv6 (no NAT) still can.
    if (v6.length > 0) candidates = candidates.filter((e) => v6.includes(e));
    else impossible = 'both sides are behind NATs that change the port per destination (symmetric NAT): hole punching cannot work; a relay is needed';
  } else if (!ps.sameNat && mine === 'hard' && theirs === 'easy') {
    birthday = { role: 'spray', target: ps.public, count: SPRAY_COUNT };
  } else if (!ps.sameNat && mine === 'easy' && theirs === 'hard') {
    birthday = { role: 'probe', host: ps.public.host, ports: randomPorts(PROBE_COUNT, random) };
  }
  return {
    peer: nodeIdFromPublicKey(ps.peer),
    candidates,
    birthday,
    startAt: receivedAt + ps.delayMs,
    attempts: ps.attempts,
    intervalMs: ps.intervalMs,
    self: mine,
    peerKind: theirs,
    impossible,
  };
}

/**
 * The peer's endpoints for an IPv6 punch: its global IPv6 addresses on its identity port
 * (the public endpoint too, when the signaler saw it over IPv6), at most MAX_V6_CANDIDATES;
 * none unless we have a global IPv6 address ourselves.
 */
export function ipv6Candidates(ps: PunchStart, self: SelfView): Endpoint[] {
  const ours = self.localHosts.some(isGlobalIpv6) || (self.observed !== null && isGlobalIpv6(self.observed.host));
  if (!ours) return [];
  return [ps.public, ...ps.local].filter((e) => isGlobalIpv6(e.host) && e.port === ps.listenPort).slice(0, MAX_V6_CANDIDATES);
}
