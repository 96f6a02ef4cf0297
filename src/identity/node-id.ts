/**
 * Node ids are self-certifying: the id carries the node's Ed25519 public key.
 *
 *   id = base32lower( pubkey[32] || check[3] )          -> 56 characters
 *   check = SHA-256( "sentinel/node-id/v1" || pubkey )[0..3]
 *
 * The public key is recovered from the id alone; the 24-bit check catches typos
 * (and binds the id format version through the domain string).
 */
import { createHash } from 'node:crypto';
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { base32Decode, base32Encode } from './base32.js';

export const PUBLIC_KEY_BYTES = 32;
const CHECK_BYTES = 3;
const ID_DOMAIN = 'sentinel/node-id/v1';
/** Length of every node id, in characters. */
export const NODE_ID_LENGTH = 56;

function check(pub: Uint8Array): Buffer {
  return createHash('sha256').update(ID_DOMAIN).update(pub).digest().subarray(0, CHECK_BYTES);
}

/** Recently converted ids (both directions hit it): conversions hash, and hot paths convert per message. */
const MAX_CACHED = 4096;
const keyById = new Map<string, Buffer>();
const idByKey = new Map<string, NodeId>();

function remember(id: NodeId, pub: Buffer): void {
  if (keyById.size >= MAX_CACHED) {
    keyById.clear();
    idByKey.clear();
  }
  keyById.set(id, pub);
  idByKey.set(pub.toString('hex'), id);
}

/** The node id of a raw 32-byte Ed25519 public key. */
export function nodeIdFromPublicKey(pub: Uint8Array): NodeId {
  if (pub.length !== PUBLIC_KEY_BYTES) throw new SentinelError('E_BAD_ID', `public key must be ${PUBLIC_KEY_BYTES} bytes`);
  const hex = Buffer.from(pub.buffer, pub.byteOffset, pub.byteLength).toString('hex');
  const cached = idByKey.get(hex);
  if (cached) return cached;
  const id = base32Encode(Buffer.concat([pub, check(pub)]));
  remember(id, Buffer.from(pub));
  return id;
}

/** Recover the raw public key from an id; throws E_BAD_ID on a malformed id or failed check. */
export function publicKeyFromNodeId(id: string): Buffer {
  const cached = keyById.get(id);
  if (cached) return Buffer.from(cached);
  const raw = id.length === NODE_ID_LENGTH ? base32Decode(id) : undefined;
  if (!raw || raw.length !== PUBLIC_KEY_BYTES + CHECK_BYTES) {
    throw new SentinelError('E_BAD_ID', `expected ${NODE_ID_LENGTH} base32 characters`);
  }
  const pub = Buffer.from(raw.subarray(0, PUBLIC_KEY_BYTES));
  if (!check(pub).equals(raw.subarray(PUBLIC_KEY_BYTES))) throw new SentinelError('E_BAD_ID', 'checksum mismatch (typo?)');
  remember(id, Buffer.from(pub));
  return pub;
}

/** True when `id` is a well-formed node id with a valid check. */
export function isNodeId(id: string): boolean {
  try {
    publicKeyFromNodeId(id);
    return true;
  } catch {
    return false;
  }
}

/** A short form for tables and logs: the first 12 characters. */
export function shortId(id: NodeId): string {
  return id.slice(0, 12);
}
