/**
 * Record helpers shared by both store implementations, so they hand out identical,
 * caller-owned values: a store never returns an object it keeps a reference to.
 */
import type { PeerRecord, StoredMessage } from './types.js';

/**
 * A fresh copy of `m` with exactly the {@link StoredMessage} fields (and `status`, when
 * given). The signature becomes a plain `Uint8Array` (LMDB decodes binary as a Node `Buffer`).
 */
export function copyMessage(m: StoredMessage, status: StoredMessage['status'] = m.status): StoredMessage {
  return {
    id: m.id,
    from: m.from,
    to: m.to,
    timestamp: m.timestamp,
    text: m.text,
    // A typed-array copy (one memcpy), not Uint8Array.from (which iterates byte by byte).
    signature: new Uint8Array(m.signature),
    ...(m.proof ? { proof: new Uint8Array(m.proof) } : {}),
    status,
  };
}

/** A fresh copy of `p` with exactly the {@link PeerRecord} fields. */
export function copyPeer(p: PeerRecord): PeerRecord {
  return {
    id: p.id,
    alias: p.alias,
    name: p.name,
    addresses: [...p.addresses],
    lastSeen: p.lastSeen,
    ...(p.learnedFrom ? { learnedFrom: p.learnedFrom } : {}),
    ...(p.trust ? { trust: p.trust } : {}),
  };
}

/**
 * Normalise a `limit` argument: undefined means "all", anything else is clamped to
 * a whole number >= 0.
 */
export function normalizeLimit(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : undefined;
}
