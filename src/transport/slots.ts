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
import type { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { FrameType, GoawayCode, encodeFrame, encodeGoaway } from '../wire/index.js';
import type { Clock } from '../core/clock.js';
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

/** What {@link countSlots} needs of a session. */
export interface Slotted {
  readonly slot: 'contact' | 'stranger';
  readonly lastActive: number;
}

/** Sessions by slot; `fromIp` tells which inbound sessions share the newcomer's IP. */
export function countSlots<S extends Slotted>(sessions: Iterable<S>, fromIp?: (s: S) => boolean): SlotCounts {
  let total = 0;
  let strangers = 0;
  let sameIp = 0;
  for (const s of sessions) {
    total++;
    if (s.slot !== 'stranger') continue;
    strangers++;
    if (fromIp?.(s)) sameIp++;
  }
  return { total, strangers, ...(fromIp ? { strangersFromIp: sameIp } : {}) };
}

/** The stranger session that has been idle longest (application frames only), if any. */
export function idlestStranger<S extends Slotted>(sessions: Iterable<S>): S | undefined {
  let victim: S | undefined;
  for (const s of sessions) if (s.slot === 'stranger' && (!victim || s.lastActive < victim.lastActive)) victim = s;
  return victim;
}

/**
 * Says GOAWAY (REFUSED for a blocked peer, BUSY otherwise) on an authenticated connection
 * we do not admit, and closes it; returns the error the local side reports.
 */
export function refuseConnection(socket: Duplex, peerId: NodeId, reason: 'blocked' | 'busy', clock: Clock): SentinelError {
  const code = reason === 'blocked' ? GoawayCode.REFUSED : GoawayCode.BUSY;
  const text = reason === 'blocked' ? 'refused' : 'no free slot for strangers; try later';
  try {
    socket.end(encodeFrame(FrameType.GOAWAY, encodeGoaway({ code, reason: text })));
  } catch {
    // already gone
  }
  clock.setTimeout(() => socket.destroy(), 2_000);
  return reason === 'blocked' ? new SentinelError('E_BLOCKED', `${peerId} is blocked`) : new SentinelError('E_BUSY', `no free session slot for ${peerId}`);
}

/** Puts `s` in a slot class: its write buffer limit follows (strangers get a small one). */
export function assignSlot(s: { slot: 'contact' | 'stranger'; setWriteLimit(bytes: number): void }, slot: 'contact' | 'stranger', limits: Pick<TransportLimits, 'strangerWriteBufferBytes' | 'maxWriteBufferBytes'>): void {
  s.slot = slot;
  s.setWriteLimit(slot === 'stranger' ? limits.strangerWriteBufferBytes : limits.maxWriteBufferBytes);
}

/** Adds `by` to the count of `key`, forgetting keys that reach zero. */
export function bumpCount(map: Map<string, number>, key: string, by: number): void {
  const v = (map.get(key) ?? 0) + by;
  if (v <= 0) map.delete(key);
  else map.set(key, v);
}

/** Closes the stranger session that has been idle longest (it makes room for a contact). */
export function evictIdlestStranger<S extends Slotted & { close(code: number, reason: string, err: SentinelError): void }>(sessions: Iterable<S>, counters: { inc(name: string): void }): void {
  const victim = idlestStranger(sessions);
  if (!victim) return;
  counters.inc('sessions_evicted.stranger');
  victim.close(GoawayCode.BUSY, 'slot needed for a contact', new SentinelError('E_BUSY', 'evicted to make room for a contact'));
}
