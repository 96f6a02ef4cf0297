/** Conversions between the stored message shape, the wire CHAT payload and the API shape. */
import type { HistoryEntry, NodeId } from '../api.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../identity/index.js';
import type { StoredMessage } from '../store/types.js';
import { decodeProof, encodeProof, type ChatMessage } from '../wire/index.js';

export function toWire(m: StoredMessage): ChatMessage {
  return {
    id: Buffer.from(m.id, 'hex'),
    from: publicKeyFromNodeId(m.from),
    to: publicKeyFromNodeId(m.to),
    timestamp: m.timestamp,
    text: m.text,
    signature: m.signature,
    ...(m.proof ? { proof: decodeProof(m.proof) } : {}),
  };
}

/**
 * The stored shape of a wire message. `ids`: the node ids of `c.from` and `c.to` when the
 * caller already knows them (its own id, the session's peer after comparing the key bytes),
 * which spares two key-to-id conversions per message. `proofBlock`: `encodeProof(c.proof)`
 * when the caller has those bytes already (a receiver copies them from the payload).
 */
export function fromWire(c: ChatMessage, status: StoredMessage['status'], ids?: { from: NodeId; to: NodeId }, proofBlock?: Uint8Array): StoredMessage {
  return {
    id: Buffer.from(c.id.buffer, c.id.byteOffset, c.id.byteLength).toString('hex'),
    from: ids ? ids.from : nodeIdFromPublicKey(c.from),
    to: ids ? ids.to : nodeIdFromPublicKey(c.to),
    timestamp: c.timestamp,
    text: c.text,
    signature: c.signature,
    ...(c.proof ? { proof: proofBlock ?? encodeProof(c.proof) } : {}),
    status,
  };
}

export function toHistoryEntry(m: StoredMessage): HistoryEntry {
  return { id: m.id, from: m.from, to: m.to, text: m.text, timestamp: m.timestamp, status: m.status, request: m.status === 'request' };
}
