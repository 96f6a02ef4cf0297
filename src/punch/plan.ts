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
 *
 * Firewalls that answer (docs/PROTOCOL.md, "Firewalls that answer"). A NAT or firewall that
 * answers an early SYN with a TCP reset or an ICMP error, instead of dropping it, ends the
 * sender's connect (Linux ends a SYN_SENT socket on a RST or on any ICMP unreachable or
 * time exceeded), and a reset also leaves the sender's own NAT entry closed for ~10 s. So
 * when both sides are behind NATs, each round of simultaneous open has an *opener* and a
 * *caller*, swapping every round (the smaller id opens first):
 * - the opener connects at the round's start with a low TTL (its NATs and firewalls map the
 *   SYN, which then expires before the far side's) and a shield (IP_MINTTL 255 for
 *   SHIELD_MS, so the ICMP time exceeded does not end the socket); the socket then waits;
 * - the caller connects CALLER_LEAD_MS later with the normal TTL. Its SYN finds the
 *   opener's mappings open and the opener's socket waiting: a simultaneous open, whose
 *   SYN-ACK its own firewall sees as a reply.
 * The low TTL must pass our NATs and expire before the peer's: 2 and 3 alternate over the
 * opener's rounds (one home NAT; a home NAT behind a carrier-grade NAT). When one side is
 * public, both dial plainly at the round's start: the NATed side's SYN reaches the public
 * listener whatever the NATed side's firewall does, and a refusal of the public side's
 * SYN costs nothing (it has no NAT entry to close). A birthday spray waits CALLER_LEAD_MS
 * too, so the probes have opened their mappings when it arrives. Local (same-NAT)
 * candidates are dialed plainly at the round's start.
 * Rounds in which every SYN we sent with the normal TTL was refused (a reset or an ICMP
 * error) say that a firewall refuses this path (e.g. a network that lets out only TCP
 * 443): after GIVE_UP_AFTER_REFUSED_ROUNDS of them in a row the punch gives up, so the
 * dial goes on to the relay instead of waiting out every round.
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

/** The spray starts `afterMs` after the punch start, once the probes have opened their mappings. */
export type Birthday = { role: 'spray'; target: Endpoint; count: number; afterMs: number } | { role: 'probe'; host: string; ports: number[] };

/** Our part in one round of simultaneous open (see the header). */
export type RoundRole = 'plain' | 'opener' | 'caller';

/**
 * Delay of the caller's SYN (and of a birthday spray) after the round's start: half a
 * round. The opener may start up to CALLER_LEAD_MS - SHIELD_MS (150 ms) after the caller
 * (two nodes' clocks and event loops on a loaded machine drift that much).
 */
export const CALLER_LEAD_MS = 200;
/** How long an opener's socket ignores ICMP errors and segments after its low-TTL SYN. */
export const SHIELD_MS = 50;
/** TTLs of an opener behind a NAT, by its opener round: one NAT, then two (a CGN). */
export const OPENER_TTLS: readonly number[] = [2, 3];
/** Rounds in a row in which every normal-TTL SYN was refused before the punch gives up. */
export const GIVE_UP_AFTER_REFUSED_ROUNDS = 2;
/** Connect errors that mean "refused on the path" (a reset, or an ICMP error), not silence. */
export const REFUSALS: readonly string[] = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EACCES', 'EPERM'];

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
  /**
   * Opener and caller rounds (both sides behind NATs): whether we open in odd rounds (the
   * smaller id does), and the TTLs our opener SYNs cycle through. Null: a side is public,
   * every round plain.
   */
  turns: { openFirst: boolean; ttls: readonly number[] } | null;
  /** How many candidates are local (same NAT, dialed plainly): the first `locals` ones. */
  locals: number;
}

/** What we do in one round for the peer's public endpoint (local candidates are always plain at `at`). */
export interface Round {
  attempt: number;
  role: RoundRole;
  /** Round start (clock ms): local candidates, plain and opener SYNs. */
  at: number;
  /** When our SYN to the public endpoint goes out. */
  synAt: number;
  /** Opener SYN's TTL, else null (the system's). */
  ttl: number | null;
  /** Opener: how long its socket ignores ICMP errors and segments. */
  shieldMs: number | null;
  /** Connect timeout of that SYN: it lives until the round ends. */
  timeoutMs: number;
}

/** Round `attempt` (1-based) of `plan`. Pure. */
export function punchRound(plan: PunchPlan, attempt: number): Round {
  const at = plan.startAt + (attempt - 1) * plan.intervalMs;
  const plain: Round = { attempt, role: 'plain', at, synAt: at, ttl: null, shieldMs: null, timeoutMs: plan.intervalMs };
  if (plan.turns === null) return plain;
  const opening = (attempt % 2 === 1) === plan.turns.openFirst;
  if (!opening) {
    const lead = Math.min(CALLER_LEAD_MS, Math.floor(plan.intervalMs / 2));
    return { ...plain, role: 'caller', synAt: at + lead, timeoutMs: plan.intervalMs - lead };
  }
  const nth = Math.ceil(attempt / 2); // our how-many-th opener round
  const ttl = plan.turns.ttls[(nth - 1) % plan.turns.ttls.length] as number;
  return { ...plain, role: 'opener', ttl, shieldMs: Math.min(SHIELD_MS, Math.floor(plan.intervalMs / 2)) };
}

/** How one round ended for our normal-TTL SYNs (plain, caller and local ones). */
export interface RoundOutcome {
  role: RoundRole;
  /** The errno of each such SYN that failed; `sent` of them were sent. */
  errors: readonly string[];
  sent: number;
}

/**
 * Why to give up punching, or null to go on: the last GIVE_UP_AFTER_REFUSED_ROUNDS rounds
 * in which we sent normal-TTL SYNs saw every one of them refused (opener rounds, whose
 * SYNs are shielded and expire on the way, say nothing). Pure.
 */
export function refusedVerdict(history: readonly RoundOutcome[]): string | null {
  const telling = history.filter((r) => r.sent > 0);
  const last = telling.slice(-GIVE_UP_AFTER_REFUSED_ROUNDS);
  if (last.length < GIVE_UP_AFTER_REFUSED_ROUNDS) return null;
  if (!last.every((r) => r.errors.length === r.sent && r.errors.every((e) => REFUSALS.includes(e)))) return null;
  const codes = [...new Set(last.flatMap((r) => r.errors))].join(', ');
  return `every SYN of ${last.length} rounds in a row was refused (${codes}): a firewall on the path refuses this connection`;
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
  /** Our node id: the smaller of the two ids opens first (both sides must agree). */
  id: NodeId;
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
  const peer = nodeIdFromPublicKey(ps.peer);
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
    birthday = { role: 'spray', target: ps.public, count: SPRAY_COUNT, afterMs: CALLER_LEAD_MS };
  } else if (!ps.sameNat && mine === 'easy' && theirs === 'hard') {
    birthday = { role: 'probe', host: ps.public.host, ports: randomPorts(PROBE_COUNT, random) };
  }
  const natted = (k: NatKind): boolean => k !== 'public';
  const turns = natted(mine) && natted(theirs) ? { openFirst: self.id < peer, ttls: OPENER_TTLS } : null;
  return {
    peer,
    candidates,
    birthday,
    startAt: receivedAt + ps.delayMs,
    attempts: ps.attempts,
    intervalMs: ps.intervalMs,
    self: mine,
    peerKind: theirs,
    impossible,
    turns,
    locals: candidates.filter((c) => locals.some((l) => key(l) === key(c))).length,
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
