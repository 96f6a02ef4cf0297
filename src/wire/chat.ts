/**
 * CHAT payload (frame type 0x10): one signed text message.
 *
 *    0        16              48              80          88        92
 *    +--------+---------------+---------------+-----------+---------+-------------+-----------+
 *    | msgId  |     from      |      to       | timestamp | textLen |    text     | signature |
 *    |  16B   | 32B Ed25519   | 32B Ed25519   |    u64    |   u32   |  UTF-8,     |    64B    |
 *    |        |  public key   |  public key   | ms epoch  |         | <= 64 KiB   |  Ed25519  |
 *    +--------+---------------+---------------+-----------+---------+-------------+-----------+
 *
 * The signature covers CHAT_SIGNING_PREFIX ("sentinel/chat/v1\0") followed by every payload
 * byte before the signature (offsets 0 .. 92+textLen); see {@link chatSigningInput}.
 * This module only lays out bytes: signing and verifying belong to identity/ and
 * messaging/. `timestamp` must be a safe integer; empty text is valid on the wire.
 *
 * CHAT_BATCHED payload (frame type 0x12, only to a peer whose HELLO has flag 0x04): the
 * same message, signed as one leaf of a Merkle tree whose root the sender signed once
 * for all the messages of one batch (messaging/merkle.ts, docs/PROTOCOL.md):
 *
 *    0 .. 92+textLen        +0      +2      +3               +3+32*depth
 *    +---------------------+-------+-------+----------------+-----------+
 *    | msgId from to       | index | depth | path           | signature |
 *    | timestamp textLen   |  u16  |  u8   | depth x 32B    |    64B    |
 *    | text (as in CHAT)   |       | <=10  | sibling hashes | over root |
 *    +---------------------+-------+-------+----------------+-----------+
 *
 * `index` < 2^depth; path[0] is the leaf's sibling, path[depth-1] the root's child.
 * The signature is Ed25519 over CHAT_ROOT_PREFIX || root (32B); the leaf is SHA-256 over
 * a leaf prefix and exactly {@link chatSigningInput}.
 */
import { PayloadReader, PayloadWriter, requireBytes, requireUint } from './bytes.js';
import { utf8Length } from './utf8.js';
import { SentinelError } from '../errors.js';

/** Longest message text, in UTF-8 bytes (64 KiB). */
export const MAX_TEXT_BYTES = 65_536;
/** Sizes of the fixed-width CHAT fields. */
export const MSG_ID_SIZE = 16;
export const PUBLIC_KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;
/** Domain separation prefix of the signed bytes: ASCII "sentinel/chat/v1" and a NUL. */
export const CHAT_SIGNING_PREFIX = 'sentinel/chat/v1\0';
const PREFIX_BYTES = Buffer.from(CHAT_SIGNING_PREFIX, 'latin1');

/** Bytes before the text: msgId, from, to, timestamp, textLen. */
const BODY_FIXED = MSG_ID_SIZE + 2 * PUBLIC_KEY_SIZE + 8 + 4;
/** Smallest CHAT payload (empty text). */
export const CHAT_MIN_SIZE = BODY_FIXED + SIGNATURE_SIZE;

/** Decoded CHAT. */
export interface ChatMessage {
  /** Random message id, 16 bytes. */
  id: Uint8Array;
  /** Sender's Ed25519 public key. */
  from: Uint8Array;
  /** Recipient's Ed25519 public key. */
  to: Uint8Array;
  /** Milliseconds since the epoch, a safe integer. */
  timestamp: number;
  text: string;
  /** Ed25519 signature over {@link chatSigningInput}, or over the batch root when `proof` is set. */
  signature: Uint8Array;
  /** CHAT_BATCHED only: where the message sits in the signed tree. */
  proof?: ChatProof;
}

/** A message's place in a batch tree: its leaf index and the sibling hashes up to the root. */
export interface ChatProof {
  index: number;
  /** depth = path.length, each 32 bytes. */
  path: Uint8Array[];
}

/** Deepest batch tree (2^10 = 1024 messages under one signature). */
export const MAX_PROOF_DEPTH = 10;
export const PROOF_HASH_SIZE = 32;

/** A CHAT before it is signed. */
export type UnsignedChat = Omit<ChatMessage, 'signature' | 'proof'>;

/** Validates the unsigned fields and returns the text's UTF-8 length. */
function checkUnsigned(msg: UnsignedChat): number {
  requireBytes(msg.id, MSG_ID_SIZE, 'id');
  requireBytes(msg.from, PUBLIC_KEY_SIZE, 'from');
  requireBytes(msg.to, PUBLIC_KEY_SIZE, 'to');
  requireUint(msg.timestamp, Number.MAX_SAFE_INTEGER, 'timestamp');
  // A UTF-16 unit never encodes to less than one byte: refuse huge strings before scanning them.
  const tooManyUnits = typeof msg.text === 'string' && msg.text.length > MAX_TEXT_BYTES;
  const textLen = tooManyUnits ? Infinity : utf8Length(msg.text, 'text');
  if (textLen > MAX_TEXT_BYTES) {
    throw new SentinelError('E_TEXT_TOO_LONG', `more than ${MAX_TEXT_BYTES} bytes`);
  }
  return textLen;
}

function writeBody(w: PayloadWriter, msg: UnsignedChat, textLen: number): PayloadWriter {
  return w.bytes(msg.id).bytes(msg.from).bytes(msg.to).u64(BigInt(msg.timestamp)).u32(textLen).utf8(msg.text);
}

/**
 * The exact bytes an Ed25519 signature of this message covers: the domain prefix, then
 * the payload bytes preceding the signature. Throws like {@link encodeChat}.
 */
export function chatSigningInput(msg: UnsignedChat): Buffer {
  const textLen = checkUnsigned(msg);
  const w = new PayloadWriter(PREFIX_BYTES.length + BODY_FIXED + textLen).bytes(PREFIX_BYTES);
  return writeBody(w, msg, textLen).done();
}

/**
 * The signed body of a CHAT or CHAT_BATCHED payload that decodeChat / decodeChatBatched
 * accepted: a view of its bytes 0 .. 92+textLen (no copy). CHAT_SIGNING_PREFIX followed by
 * these bytes is exactly {@link chatSigningInput} of the decoded message (strict UTF-8
 * decoding, utf8.ts, makes the text's bytes the only encoding of the decoded text), so a
 * receiver need not encode the message again to check it.
 */
export function chatSignedBody(payload: Uint8Array): Uint8Array {
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return view.subarray(0, BODY_FIXED + view.readUInt32BE(BODY_FIXED - 4));
}

/** {@link chatSigningInput} of an accepted payload, from its own bytes (see {@link chatSignedBody}). */
export function payloadSigningInput(payload: Uint8Array): Buffer {
  const body = chatSignedBody(payload);
  return Buffer.concat([PREFIX_BYTES, body], PREFIX_BYTES.length + body.length);
}

/**
 * Encodes a CHAT payload. Throws E_TEXT_TOO_LONG when the text exceeds MAX_TEXT_BYTES and
 * E_PAYLOAD_MALFORMED on any other invalid field.
 */
export function encodeChat(msg: ChatMessage): Buffer {
  const textLen = checkUnsigned(msg);
  requireBytes(msg.signature, SIGNATURE_SIZE, 'signature');
  return writeBody(new PayloadWriter(CHAT_MIN_SIZE + textLen), msg, textLen).bytes(msg.signature).done();
}

/** Reads the fields every CHAT form starts with (msgId .. textLen), checking timestamp and textLen. */
function readHead(r: PayloadReader): { id: Uint8Array; from: Uint8Array; to: Uint8Array; timestamp: bigint; textLen: number } {
  const id = r.bytes(MSG_ID_SIZE);
  const from = r.bytes(PUBLIC_KEY_SIZE);
  const to = r.bytes(PUBLIC_KEY_SIZE);
  const timestamp = r.u64();
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`timestamp ${timestamp} is not a safe integer`);
  const textLen = r.u32();
  if (textLen > MAX_TEXT_BYTES) r.fail(`textLen ${textLen} exceeds ${MAX_TEXT_BYTES}`);
  return { id, from, to, timestamp, textLen };
}

/** Decodes a CHAT payload strictly (does not verify the signature). Throws E_PAYLOAD_MALFORMED. */
export function decodeChat(payload: Uint8Array): ChatMessage {
  const r = new PayloadReader(payload, 'CHAT');
  if (r.remaining < CHAT_MIN_SIZE) r.fail(`length ${r.remaining} below minimum ${CHAT_MIN_SIZE}`);
  const { id, from, to, timestamp, textLen } = readHead(r);
  if (textLen !== r.remaining - SIGNATURE_SIZE) {
    r.fail(`textLen ${textLen} but ${r.remaining - SIGNATURE_SIZE} text byte(s) present`);
  }
  const text = r.utf8(textLen, 'text');
  const signature = r.bytes(SIGNATURE_SIZE);
  r.end();
  return { id, from, to, timestamp: Number(timestamp), text, signature };
}

function checkProof(p: ChatProof | undefined): ChatProof {
  if (!p || !Array.isArray(p.path) || p.path.length > MAX_PROOF_DEPTH) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `proof: path of at most ${MAX_PROOF_DEPTH} hashes required`);
  }
  requireUint(p.index, 2 ** p.path.length - 1, 'proof.index');
  p.path.forEach((h, i) => requireBytes(h, PROOF_HASH_SIZE, `proof.path[${i}]`));
  return p;
}

/** Bytes of a proof block (index, depth, path) of depth `depth`. */
export const proofBlockSize = (depth: number): number => 3 + depth * PROOF_HASH_SIZE;

/** The proof block alone (index u16, depth u8, path), as a store keeps it. */
export function encodeProof(p: ChatProof): Buffer {
  checkProof(p);
  const w = new PayloadWriter(proofBlockSize(p.path.length)).u16(p.index).u8(p.path.length);
  for (const h of p.path) w.bytes(h);
  return w.done();
}

function readProof(r: PayloadReader, tail: number): ChatProof {
  const index = r.u16();
  const depth = r.u8();
  if (depth > MAX_PROOF_DEPTH) r.fail(`proof depth ${depth} exceeds ${MAX_PROOF_DEPTH}`);
  if (index >= 2 ** depth) r.fail(`proof index ${index} not below 2^${depth}`);
  if (r.remaining !== depth * PROOF_HASH_SIZE + tail) r.fail(`proof of depth ${depth} but ${r.remaining - tail} path byte(s)`);
  const path: Uint8Array[] = [];
  for (let i = 0; i < depth; i++) path.push(r.bytes(PROOF_HASH_SIZE));
  return { index, path };
}

/** Decodes a stored proof block strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodeProof(bytes: Uint8Array): ChatProof {
  const r = new PayloadReader(bytes, 'chat proof');
  if (r.remaining < 3) r.fail('proof shorter than 3 bytes');
  const p = readProof(r, 0);
  r.end();
  return p;
}

/** Smallest CHAT_BATCHED payload (empty text, depth 0). */
export const CHAT_BATCHED_MIN_SIZE = BODY_FIXED + 3 + SIGNATURE_SIZE;

/** Encodes a CHAT_BATCHED payload (`proof` required). Throws like {@link encodeChat}. */
export function encodeChatBatched(msg: ChatMessage): Buffer {
  const textLen = checkUnsigned(msg);
  const proof = checkProof(msg.proof);
  requireBytes(msg.signature, SIGNATURE_SIZE, 'signature');
  const w = writeBody(new PayloadWriter(BODY_FIXED + textLen + proofBlockSize(proof.path.length) + SIGNATURE_SIZE), msg, textLen);
  w.u16(proof.index).u8(proof.path.length);
  for (const h of proof.path) w.bytes(h);
  return w.bytes(msg.signature).done();
}

/**
 * The same payload as {@link encodeChatBatched}, from parts the sender already has: the
 * message's {@link chatSigningInput} (which it hashed for the tree), its proof block
 * ({@link encodeProof}, which it stores) and the root signature. One copy of each, no
 * second encoding of the text. Throws E_PAYLOAD_MALFORMED on parts of the wrong shape.
 */
export function encodeChatBatchedFrom(signingInput: Uint8Array, proofBlock: Uint8Array, signature: Uint8Array): Buffer {
  const bodyLen = signingInput.length - PREFIX_BYTES.length;
  const input = Buffer.from(signingInput.buffer, signingInput.byteOffset, signingInput.byteLength);
  if (bodyLen < BODY_FIXED || !input.subarray(0, PREFIX_BYTES.length).equals(PREFIX_BYTES) || input.readUInt32BE(PREFIX_BYTES.length + BODY_FIXED - 4) !== bodyLen - BODY_FIXED) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', 'encode: not a CHAT signing input');
  }
  if (proofBlock.length < 3 || proofBlock[2] === undefined || proofBlock[2] > MAX_PROOF_DEPTH || proofBlock.length !== proofBlockSize(proofBlock[2])) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', 'encode: not a proof block');
  }
  requireBytes(signature, SIGNATURE_SIZE, 'signature');
  const out = Buffer.allocUnsafe(bodyLen + proofBlock.length + SIGNATURE_SIZE);
  out.set(input.subarray(PREFIX_BYTES.length), 0);
  out.set(proofBlock, bodyLen);
  out.set(signature, bodyLen + proofBlock.length);
  return out;
}

/**
 * A copy of the proof block (index, depth, path) of a CHAT_BATCHED payload that
 * {@link decodeChatBatched} accepted, as a store keeps it: the same bytes
 * {@link encodeProof} of its decoded proof gives, without encoding it again.
 */
export function chatProofBlock(payload: Uint8Array): Uint8Array {
  const start = chatSignedBody(payload).length;
  // A typed-array copy (Buffer#slice would be a view into the payload).
  return new Uint8Array(payload.subarray(start, payload.length - SIGNATURE_SIZE));
}

/** Decodes a CHAT_BATCHED payload strictly (verifies nothing). Throws E_PAYLOAD_MALFORMED. */
export function decodeChatBatched(payload: Uint8Array): ChatMessage {
  const r = new PayloadReader(payload, 'CHAT_BATCHED');
  if (r.remaining < CHAT_BATCHED_MIN_SIZE) r.fail(`length ${r.remaining} below minimum ${CHAT_BATCHED_MIN_SIZE}`);
  const { id, from, to, timestamp, textLen } = readHead(r);
  if (textLen > r.remaining - 3 - SIGNATURE_SIZE) r.fail(`textLen ${textLen} but only ${r.remaining} byte(s) left`);
  const text = r.utf8(textLen, 'text');
  const proof = readProof(r, SIGNATURE_SIZE);
  const signature = r.bytes(SIGNATURE_SIZE);
  r.end();
  return { id, from, to, timestamp: Number(timestamp), text, signature, proof };
}
