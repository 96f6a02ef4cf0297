/**
 * The batch tree of CHAT_BATCHED (docs/PROTOCOL.md): one Ed25519 signature covers many
 * messages, each still verifiable alone from its proof (index, sibling path).
 *
 *   leaf  = SHA-256("sentinel/chat-leaf/v1\0" || chatSigningInput(message))
 *   node  = SHA-256("sentinel/chat-node/v1\0" || left || right)
 *   pad   = SHA-256("sentinel/chat-pad/v1\0")   (fills the leaves up to 2^depth)
 *   signed bytes = "sentinel/chat-root/v1\0" || root
 *
 * Distinct prefixes keep a leaf from passing for a node (and a pad for either). The tree
 * is complete (leaves padded to a power of two), so every proof has the same length and the
 * index's bits say, level by level, on which side the sibling sits.
 */
import { createHash, hash } from 'node:crypto';
import { CHAT_SIGNING_PREFIX, MAX_PROOF_DEPTH, type ChatProof } from '../wire/index.js';
import { chatSignedBody } from '../wire/chat.js';

const LEAF = Buffer.from('sentinel/chat-leaf/v1\0', 'latin1');
const NODE = Buffer.from('sentinel/chat-node/v1\0', 'latin1');
const ROOT = Buffer.from('sentinel/chat-root/v1\0', 'latin1');
const PAD = createHash('sha256').update('sentinel/chat-pad/v1\0', 'latin1').digest();

/** Most messages under one root signature. */
export const MAX_BATCH_LEAVES = 2 ** MAX_PROOF_DEPTH;

// One-shot crypto.hash over one buffer: about half the cost of a createHash object per hash.
export function leafHash(signingInput: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF, signingInput]), 'buffer');
}

const LEAF_AND_PREFIX = Buffer.concat([LEAF, Buffer.from(CHAT_SIGNING_PREFIX, 'latin1')]);

/** {@link leafHash} of a received CHAT_BATCHED payload, from its own bytes (wire/chat.ts chatSignedBody). */
export function leafHashOfPayload(payload: Uint8Array): Buffer {
  const body = chatSignedBody(payload);
  return hash('sha256', Buffer.concat([LEAF_AND_PREFIX, body], LEAF_AND_PREFIX.length + body.length), 'buffer');
}

const NODE_INPUT = Buffer.alloc(NODE.length + 64);
NODE.copy(NODE_INPUT);

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  NODE_INPUT.set(left, NODE.length);
  NODE_INPUT.set(right, NODE.length + 32);
  return hash('sha256', NODE_INPUT, 'buffer');
}

/** The bytes the root signature covers. */
export function rootSigningInput(root: Uint8Array): Buffer {
  return Buffer.concat([ROOT, root]);
}

/** Builds the tree over 1..MAX_BATCH_LEAVES leaves: its root and each leaf's proof. */
export function buildTree(leaves: readonly Uint8Array[]): { root: Buffer; proofs: ChatProof[] } {
  if (leaves.length < 1 || leaves.length > MAX_BATCH_LEAVES) throw new RangeError(`1..${MAX_BATCH_LEAVES} leaves`);
  let depth = 0;
  while (2 ** depth < leaves.length) depth++;
  const levels: Uint8Array[][] = [[...leaves]];
  for (let i = leaves.length; i < 2 ** depth; i++) (levels[0] as Uint8Array[]).push(PAD);
  for (let d = 0; d < depth; d++) {
    const below = levels[d] as Uint8Array[];
    const up: Uint8Array[] = [];
    for (let i = 0; i < below.length; i += 2) up.push(nodeHash(below[i] as Uint8Array, below[i + 1] as Uint8Array));
    levels.push(up);
  }
  const proofs = leaves.map((_, index) => {
    const path: Uint8Array[] = [];
    for (let d = 0, i = index; d < depth; d++, i >>= 1) path.push((levels[d] as Uint8Array[])[i ^ 1] as Uint8Array);
    return { index, path };
  });
  return { root: Buffer.from((levels[depth] as Uint8Array[])[0] as Uint8Array), proofs };
}

/** The root a leaf and its proof lead to (the caller checks the root's signature). */
export function rootFromProof(leaf: Uint8Array, proof: ChatProof): Buffer {
  let h: Uint8Array = leaf;
  let i = proof.index;
  for (const sibling of proof.path) {
    h = i & 1 ? nodeHash(sibling, h) : nodeHash(h, sibling);
    i >>= 1;
  }
  return Buffer.from(h);
}
