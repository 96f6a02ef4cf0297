/**
 * The duplicate rule (see manager.ts for the whole story): which of two sessions with the
 * same peer both ends keep.
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Session } from './session.js';

/** A newer session replaces an older one established more than this earlier (the old one is stale). */
export const SIMULTANEOUS_WINDOW_MS = 5_000;

/** What to do when `incoming` comes up while `existing` is the active session with its peer. */
export interface DuplicateDecision {
  /** The session that is (or stays) active. */
  keep: Session;
  /** The one this end closes now (GOAWAY DUPLICATE with `reason`), or null: the peer decides. */
  close: Session | null;
  reason: string;
  /** Detail of the E_DUPLICATE_SESSION the closed session ends with. */
  detail?: string;
  counter: string;
}

/** Two sessions, one ConnectionManager view: whether one goes through a relay. */
const relayed = (s: Session): boolean => s.method === 'relay';

/**
 * The whole duplicate rule, the same on both ends. A direct session beats a relayed one,
 * whatever their ages and dialers (how a relayed peer moves to a direct path). Otherwise:
 * both opened by the peer (and not `replaceStale`): the newer carries traffic and the peer
 * closes one; `replaceStale` (the signaler): the newer from the same dialer wins; else
 * {@link preferred}.
 */
export function decideDuplicate(existing: Session, incoming: Session, me: string, replaceStale: boolean): DuplicateDecision {
  if (relayed(existing) !== relayed(incoming)) {
    const keep = relayed(existing) ? incoming : existing;
    return { keep, close: keep === incoming ? existing : incoming, reason: 'direct path preferred', detail: 'replaced by a direct session', counter: keep === incoming ? 'sessions_upgraded_to_direct' : 'sessions_duplicate_closed' };
  }
  const sameDialer = existing.dialerId === incoming.dialerId;
  if (sameDialer && incoming.dialerId !== me && !replaceStale) return { keep: incoming, close: null, reason: '', counter: '' };
  const keep = sameDialer && replaceStale ? incoming : preferred(existing, incoming);
  return { keep, close: keep === incoming ? existing : incoming, reason: 'duplicate session', counter: 'sessions_duplicate_closed' };
}

/** The age and dialer part of the duplicate rule (see the file comment). */
export function preferred(older: Session, newer: Session): Session {
  if (newer.establishedAt - older.establishedAt > SIMULTANEOUS_WINDOW_MS) return newer;
  if (older.dialerId !== newer.dialerId) return older.dialerId < newer.dialerId ? older : newer;
  return older.tag <= newer.tag ? older : newer;
}

/**
 * A value both ends of one TLS connection compute identically (an RFC 5705 exporter), so
 * both sides rank two connections between the same nodes the same way.
 */
export function connectionTag(socket: Duplex): string {
  const tls = socket as Partial<TLSSocket>;
  return typeof tls.exportKeyingMaterial === 'function' ? tls.exportKeyingMaterial(16, 'sentinel connection tag', Buffer.alloc(0)).toString('hex') : '';
}

