/**
 * The duplicate rule (see manager.ts for the whole story): which of two sessions with the
 * same peer both ends keep.
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Session } from './session.js';

/** A newer session replaces an older one established more than this earlier (the old one is stale). */
export const SIMULTANEOUS_WINDOW_MS = 5_000;

/** The duplicate rule (see the file comment). */
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

