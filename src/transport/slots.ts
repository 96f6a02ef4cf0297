/**
 * Who gets a session slot. Pure: the connection manager counts, this decides.
 *
 *   blocked peer                         -> refuse (GOAWAY REFUSED)
 *   contact, total below MAX_SESSIONS     -> admit
 *   contact, total full, a stranger holds a slot -> evict that stranger, admit
 *   contact, total full of contacts       -> refuse (GOAWAY BUSY)
 *   stranger, below MAX_STRANGER_SESSIONS, below the per-IP stranger cap (inbound),
 *   and total below MAX_SESSIONS          -> admit
 *   otherwise                             -> refuse (GOAWAY BUSY)
 *
 * So strangers take few slots and go first, and contacts always get in.
 */
import type { TransportLimits } from './limits.js';

/** What the user decided about the peer, as the transport needs it. */
export type SlotClass = 'contact' | 'stranger' | 'blocked';

/** Sessions counted now. `strangersFromIp` only for inbound connections. */
export interface SlotCounts {
  total: number;
  strangers: number;
  strangersFromIp?: number;
}

export type SlotDecision = { kind: 'admit' } | { kind: 'evict' } | { kind: 'refuse'; reason: 'blocked' | 'busy' };

export function decideSlot(
  who: SlotClass,
  counts: SlotCounts,
  limits: Pick<TransportLimits, 'maxSessions' | 'maxStrangerSessions' | 'maxStrangerSessionsPerIp'>,
): SlotDecision {
  if (who === 'blocked') return { kind: 'refuse', reason: 'blocked' };
  if (who === 'contact') {
    if (counts.total < limits.maxSessions) return { kind: 'admit' };
    return counts.strangers > 0 ? { kind: 'evict' } : { kind: 'refuse', reason: 'busy' };
  }
  const perIpFull = counts.strangersFromIp !== undefined && counts.strangersFromIp >= limits.maxStrangerSessionsPerIp;
  if (counts.strangers >= limits.maxStrangerSessions || perIpFull || counts.total >= limits.maxSessions) return { kind: 'refuse', reason: 'busy' };
  return { kind: 'admit' };
}
