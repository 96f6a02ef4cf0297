/** Conversions between the stored message shape, the wire CHAT payload and the API shape. */
import type { HistoryEntry } from '../api.js';
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

export function fromWire(c: ChatMessage, status: StoredMessage['status']): StoredMessage {
  return {
    id: Buffer.from(c.id).toString('hex'),
    from: nodeIdFromPublicKey(c.from),
    to: nodeIdFromPublicKey(c.to),
    timestamp: c.timestamp,
    text: c.text,
    signature: c.signature,
    ...(c.proof ? { proof: encodeProof(c.proof) } : {}),
    status,
  };
}

export function toHistoryEntry(m: StoredMessage): HistoryEntry {
  return { id: m.id, from: m.from, to: m.to, text: m.text, timestamp: m.timestamp, status: m.status, request: m.status === 'request' };
}
