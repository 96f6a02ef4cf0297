/**
 * Signed peer record: where a node can be reached, signed by the node itself. Carried by
 * GOSSIP_PUSH and GOSSIP_PULL_REPLY (gossip.ts).
 *
 *    0            32      40         48          56
 *    +------------+-------+----------+-----------+---------------+---------------+----------+-----------+-----------+
 *    | public key |  seq  | issuedAt | expiresAt | endpoint list | endpoint list |  flags   | signaler  | signature |
 *    |    32B     |  u64  |  u64 ms  |  u64 ms   |  public (<=8) |  local (<=8)  | u8, opt. | endpoint, |    64B    |
 *    |  Ed25519   |       |  epoch   |  epoch    |               |               |          | opt. 7|19B|  Ed25519  |
 *    +------------+-------+----------+-----------+---------------+---------------+----------+-----------+-----------+
 *
 * `flags` is present only when not zero (a zero byte there is refused), so a record
 * without flags has the first version's bytes. Bit 0 (RECORD_FLAG_RELAY): the node offers
 * relaying (`sentinel-node --relay`) and is reachable from the internet. Bit 1
 * (RECORD_FLAG_SIGNALER): the flags byte is followed by one endpoint (endpoint.ts), the IP
 * address and port of the signaler the node is registered with; without the bit there is
 * no such endpoint. Other bits are reserved: sent as 0, ignored.
 *
 * An endpoint list is `u8 count | count x endpoint` (endpoint.ts) with at most
 * MAX_RECORD_ENDPOINTS entries. The signature covers PEER_RECORD_SIGNING_PREFIX
 * ("sentinel/peer-record/v1\0") followed by every record byte before the signature.
 * seq, issuedAt and expiresAt must be safe integers and expiresAt >= issuedAt. This module
 * only lays out bytes: signing, verifying and validity windows belong to gossip/records.ts.
 */
import { PayloadReader, PayloadWriter, requireBytes, requireUint } from './bytes.js';
import { PUBLIC_KEY_SIZE, SIGNATURE_SIZE } from './chat.js';
import { endpointSize, readEndpoint, writeEndpoint, type Endpoint } from './endpoint.js';
import { SentinelError } from '../errors.js';

/** Record flags bit 0: the node is a peer relay (see the layout above). */
export const RECORD_FLAG_RELAY = 0x01;
/** Record flags bit 1: the signaler endpoint follows the flags byte (see the layout above). */
export const RECORD_FLAG_SIGNALER = 0x02;
/** Most endpoints in each of a record's two lists. */
export const MAX_RECORD_ENDPOINTS = 8;
/** Domain separation prefix of the signed bytes: ASCII "sentinel/peer-record/v1" and a NUL. */
export const PEER_RECORD_SIGNING_PREFIX = 'sentinel/peer-record/v1\0';
const PREFIX_BYTES = Buffer.from(PEER_RECORD_SIGNING_PREFIX, 'latin1');

/** Public key, seq, issuedAt, expiresAt. */
const HEAD_SIZE = PUBLIC_KEY_SIZE + 3 * 8;
/** Largest encoded endpoint (IPv6). */
const MAX_ENDPOINT_SIZE = 19;
/** Smallest record: both lists empty. */
export const PEER_RECORD_MIN_SIZE = HEAD_SIZE + 2 + SIGNATURE_SIZE;
/** Largest record: both lists full of IPv6 endpoints, flags and an IPv6 signaler endpoint (446 bytes). */
export const MAX_RECORD_BYTES = HEAD_SIZE + 2 * (1 + MAX_RECORD_ENDPOINTS * MAX_ENDPOINT_SIZE) + 1 + MAX_ENDPOINT_SIZE + SIGNATURE_SIZE;

/** Decoded peer record. */
export interface PeerRecord {
  /** The node's raw Ed25519 public key (its node id, in bytes). */
  publicKey: Uint8Array;
  /** Version: a higher seq replaces a lower one. Safe integer. */
  seq: number;
  /** Issue and expiry time, ms since the epoch, safe integers, expiresAt >= issuedAt. */
  issuedAt: number;
  expiresAt: number;
  /** Addresses others observed for the node (e.g. via the signaler). */
  public: Endpoint[];
  /** The node's own interface addresses. */
  local: Endpoint[];
  /**
   * RECORD_FLAG_* bits; absent or 0 when none. RECORD_FLAG_SIGNALER is set exactly when
   * `signaler` is (the encoder sets it for a record with `signaler`).
   */
  flags?: number;
  /** The signaler the node is registered with (IP address and port), when it says. */
  signaler?: Endpoint;
  /** Ed25519 signature over {@link peerRecordSigningInput}. */
  signature: Uint8Array;
}

/** A peer record before it is signed. */
export type UnsignedPeerRecord = Omit<PeerRecord, 'signature'>;

function listSize(list: readonly Endpoint[], field: string): number {
  if (!Array.isArray(list) || list.length > MAX_RECORD_ENDPOINTS) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: ${field} needs at most ${MAX_RECORD_ENDPOINTS} endpoints`);
  }
  return 1 + list.reduce((n, e) => n + endpointSize(e), 0);
}

/** Validates the unsigned fields and returns the body size (bytes before the signature). */
function checkUnsigned(rec: UnsignedPeerRecord): number {
  requireBytes(rec.publicKey, PUBLIC_KEY_SIZE, 'publicKey');
  requireUint(rec.seq, Number.MAX_SAFE_INTEGER, 'seq');
  requireUint(rec.issuedAt, Number.MAX_SAFE_INTEGER, 'issuedAt');
  requireUint(rec.expiresAt, Number.MAX_SAFE_INTEGER, 'expiresAt');
  if (rec.expiresAt < rec.issuedAt) throw new SentinelError('E_PAYLOAD_MALFORMED', 'encode: expiresAt before issuedAt');
  requireUint(rec.flags ?? 0, 0xff, 'flags');
  if (((rec.flags ?? 0) & RECORD_FLAG_SIGNALER) !== 0 && !rec.signaler) throw new SentinelError('E_PAYLOAD_MALFORMED', 'encode: RECORD_FLAG_SIGNALER without a signaler endpoint');
  const flags = flagsOf(rec);
  return HEAD_SIZE + listSize(rec.public, 'public') + listSize(rec.local, 'local') + (flags ? 1 : 0) + (rec.signaler ? endpointSize(rec.signaler) : 0);
}

/** The flags byte as written: the given bits, and RECORD_FLAG_SIGNALER when there is a signaler. */
function flagsOf(rec: UnsignedPeerRecord): number {
  return (rec.flags ?? 0) | (rec.signaler ? RECORD_FLAG_SIGNALER : 0);
}

function writeList(w: PayloadWriter, list: readonly Endpoint[]): void {
  w.u8(list.length);
  for (const e of list) writeEndpoint(w, e);
}

function writeBody(w: PayloadWriter, rec: UnsignedPeerRecord): PayloadWriter {
  w.bytes(rec.publicKey).u64(BigInt(rec.seq)).u64(BigInt(rec.issuedAt)).u64(BigInt(rec.expiresAt));
  writeList(w, rec.public);
  writeList(w, rec.local);
  const flags = flagsOf(rec);
  if (flags) w.u8(flags);
  if (rec.signaler) writeEndpoint(w, rec.signaler);
  return w;
}

/** The exact bytes the record's signature covers. Throws like {@link encodePeerRecord}. */
export function peerRecordSigningInput(rec: UnsignedPeerRecord): Buffer {
  const size = checkUnsigned(rec);
  return writeBody(new PayloadWriter(PREFIX_BYTES.length + size).bytes(PREFIX_BYTES), rec).done();
}

/**
 * The signed bytes of an already encoded record: the prefix and everything before the
 * trailing signature. Verifiers use this so they check exactly the bytes received.
 */
export function peerRecordSignedBytes(encoded: Uint8Array): Buffer {
  const body = encoded.subarray(0, Math.max(0, encoded.length - SIGNATURE_SIZE));
  return Buffer.concat([PREFIX_BYTES, body]);
}

/** Encodes a peer record. Throws E_PAYLOAD_MALFORMED on any invalid field. */
export function encodePeerRecord(rec: PeerRecord): Buffer {
  const size = checkUnsigned(rec);
  requireBytes(rec.signature, SIGNATURE_SIZE, 'signature');
  return writeBody(new PayloadWriter(size + SIGNATURE_SIZE), rec).bytes(rec.signature).done();
}

function readSafe(r: PayloadReader, field: string): number {
  const v = r.u64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`${field} ${v} is not a safe integer`);
  return Number(v);
}

function readList(r: PayloadReader, field: string): Endpoint[] {
  const count = r.u8();
  if (count > MAX_RECORD_ENDPOINTS) r.fail(`${count} ${field} endpoints (max ${MAX_RECORD_ENDPOINTS})`);
  const out: Endpoint[] = [];
  for (let i = 0; i < count; i++) out.push(readEndpoint(r));
  return out;
}

/**
 * Decodes a peer record strictly (does not verify the signature or the validity window).
 * Throws E_PAYLOAD_MALFORMED, also for records longer than MAX_RECORD_BYTES.
 */
export function decodePeerRecord(bytes: Uint8Array): PeerRecord {
  const r = new PayloadReader(bytes, 'PEER_RECORD');
  if (r.remaining > MAX_RECORD_BYTES) r.fail(`length ${r.remaining} exceeds ${MAX_RECORD_BYTES}`);
  if (r.remaining < PEER_RECORD_MIN_SIZE) r.fail(`length ${r.remaining} below minimum ${PEER_RECORD_MIN_SIZE}`);
  const publicKey = r.bytes(PUBLIC_KEY_SIZE);
  const seq = readSafe(r, 'seq');
  const issuedAt = readSafe(r, 'issuedAt');
  const expiresAt = readSafe(r, 'expiresAt');
  if (expiresAt < issuedAt) r.fail('expiresAt before issuedAt');
  const pub = readList(r, 'public');
  const local = readList(r, 'local');
  let flags = 0;
  let signaler: Endpoint | undefined;
  if (r.remaining > SIGNATURE_SIZE) {
    flags = r.u8();
    if (flags === 0) r.fail('flags byte 0 (absent when zero)');
    if (flags & RECORD_FLAG_SIGNALER) signaler = readEndpoint(r);
  }
  if (r.remaining !== SIGNATURE_SIZE) r.fail(`${r.remaining} byte(s) where the 64-byte signature belongs`);
  const signature = r.bytes(SIGNATURE_SIZE);
  r.end();
  return { publicKey, seq, issuedAt, expiresAt, public: pub, local, ...(flags ? { flags } : {}), ...(signaler ? { signaler } : {}), signature };
}
