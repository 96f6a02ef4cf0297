/**
 * Why a dial ended relayed or failed, in netcheck terms (RFC 4787), pure: from the punch
 * attempt's outcome (the planner's NAT kinds for both sides, from what the signaler
 * observed; how the punch ended) and, when one was run, this node's netcheck.
 *
 * The peer's side is known only in the punch planner's vocabulary (its public address and
 * identity port in PUNCH_START): easy = port kept (assumed endpoint-independent), hard = port
 * changed (assumed endpoint-dependent), public = no NAT.
 */
import type { DialReason, NetcheckReport, PunchNatKind } from '../api.js';
import { mappingOfKind } from './classify.js';

/** How the last punch with a peer ended (recorded by the punch coordinator). */
export interface PunchOutcome {
  self: PunchNatKind;
  peer: PunchNatKind;
  /** The plan could not work at all (hard x hard without IPv6). */
  impossible: boolean;
  /** The birthday technique was part of the plan. */
  birthday: boolean;
  /** How the attempt ended: `refused` (every SYN refused: gave up), `timeout`, or `ok`. */
  ended: 'refused' | 'timeout' | 'ok' | 'impossible';
}

/** What the dial knows: the punch outcome (null: no punch was tried, with `unavailable` saying why), our netcheck (if any). */
export interface ExplainInput {
  punch: PunchOutcome | null;
  unavailable: string | null;
  netcheck: NetcheckReport | null;
  /** The peer is not registered with our signaler. */
  notRegistered?: boolean;
  /** The dial failed (no relay either), rather than ending relayed. */
  failed?: boolean;
}

const NAT_TEXT: Record<PunchNatKind, string> = {
  public: 'not behind a NAT',
  easy: 'behind a NAT that keeps the port for every destination (endpoint-independent mapping)',
  hard: 'behind a NAT that changes the port per destination (endpoint-dependent mapping)',
  unknown: 'behind a network the signaler has not classified',
};

/** The reason and a sentence for the user. */
export function explainDial(i: ExplainInput): { reason: DialReason; explanation: string } {
  const p = i.punch;
  const selfKind: PunchNatKind = p?.self ?? i.netcheck?.natKind ?? 'unknown';
  const self = { natKind: selfKind, mapping: i.netcheck?.mapping ?? mappingOfKind(selfKind), filtering: i.netcheck?.filtering ?? 'unknown' as const };
  const peer = p ? { natKind: p.peer, mapping: mappingOfKind(p.peer) } : null;
  const reason = (code: DialReason['code']): DialReason => ({ code, self, peer });
  if (i.notRegistered) return { reason: reason('not-registered'), explanation: 'the peer is not registered with our signaler, so no hole punch could be coordinated' };
  if (!p) return { reason: reason('punch-unavailable'), explanation: `hole punching was not tried: ${i.unavailable ?? 'unavailable'}` };
  if (p.impossible || (p.self === 'hard' && p.peer === 'hard')) {
    const then = i.failed ? 'and no relay could take the session' : 'so the session is relayed';
    return { reason: reason('both-endpoint-dependent'), explanation: `you are behind a NAT that changes the port per destination (endpoint-dependent mapping), and so is the peer: no hole punch can match the ports, ${then}` };
  }
  if (p.ended === 'refused') {
    const ours = self.filtering === 'reset' ? ' (netcheck: your own network answers unsolicited connections with a reset)' : '';
    return { reason: reason('firewall-refuses'), explanation: `a firewall on the path refuses the connection attempts (a TCP reset or an ICMP error)${ours}` };
  }
  if (p.birthday) {
    const [hard, easy] = p.self === 'hard' ? ['you are', 'the peer is'] : ['the peer is', 'you are'];
    return { reason: reason('endpoint-dependent-birthday'), explanation: `${hard} behind a NAT that changes the port per destination and ${easy} behind one that keeps it: the birthday technique found no common port in time` };
  }
  return {
    reason: reason('punch-timed-out'),
    explanation: `you are ${NAT_TEXT[p.self]} and the peer is ${NAT_TEXT[p.peer]}, yet no connection attempt got through: something on the path drops them`,
  };
}
