/**
 * Signing and checking peer records (layout in wire/peer-record.ts). A record is valid at
 * `now` when it decodes strictly, is not issued more than MAX_CLOCK_SKEW_MS in the future,
 * has not expired, lives at most MAX_RECORD_LIFETIME_MS, and carries a valid Ed25519
 * signature by the key it names.
 */
import type { NodeId } from '../api.js';
import { isSentinelError } from '../errors.js';
import { nodeIdFromPublicKey, verifySignature, type Identity } from '../identity/index.js';
import {
  MAX_RECORD_BYTES,
  decodePeerRecord,
  encodePeerRecord,
  peerRecordSignedBytes,
  peerRecordSigningInput,
  type PeerRecord,
} from '../wire/index.js';
import type { Endpoint } from '../wire/index.js';
import { isGlobalIpv6 } from '../core/ip-scope.js';

/** How far in the future a record's issue time may lie (clock skew between nodes): 5 min. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Longest allowed validity window (expiresAt - issuedAt): 24 h. */
export const MAX_RECORD_LIFETIME_MS = 24 * 3_600_000;

/** Why a record was refused by {@link verifyRecord}. */
export type RecordRejection = 'malformed' | 'oversized' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'too_long_lived';

/** The fields a node signs about itself. */
export interface RecordFields {
  seq: number;
  issuedAt: number;
  expiresAt: number;
  public: Endpoint[];
  local: Endpoint[];
  /** RECORD_FLAG_* bits (wire/peer-record.ts); absent or 0 for none. */
  flags?: number;
  /** The signaler we are registered with (its IP address and port); sets RECORD_FLAG_SIGNALER. */
  signaler?: Endpoint;
}

/** A decoded record with its node id and its exact bytes. */
export interface VerifiedRecord {
  id: NodeId;
  record: PeerRecord;
  bytes: Uint8Array;
}

/** Result of {@link verifyRecord} and {@link checkRecord}. */
export type RecordCheck = { ok: true; record: VerifiedRecord } | { ok: false; reason: RecordRejection };

/** What signing a record needs: the node's raw public key and its signing function. */
export type RecordSigner = Pick<Identity, 'publicKey' | 'sign'>;

/** Signs and encodes `identity`'s record. Throws E_PAYLOAD_MALFORMED on invalid fields. */
export function signRecord(identity: RecordSigner, fields: RecordFields): Buffer {
  const unsigned = { publicKey: identity.publicKey, ...fields };
  const signature = identity.sign(peerRecordSigningInput(unsigned));
  return encodePeerRecord({ ...unsigned, signature });
}

/**
 * Every check except the signature (cheap: no public-key operation), in the order
 * oversized, malformed, not_yet_valid, expired, too_long_lived.
 */
export function checkRecord(bytes: Uint8Array, now: number): RecordCheck {
  if (bytes.length > MAX_RECORD_BYTES) return { ok: false, reason: 'oversized' };
  let record: PeerRecord;
  try {
    record = decodePeerRecord(bytes);
  } catch (err) {
    if (isSentinelError(err, 'E_PAYLOAD_MALFORMED')) return { ok: false, reason: 'malformed' };
    throw err;
  }
  if (record.issuedAt > now + MAX_CLOCK_SKEW_MS) return { ok: false, reason: 'not_yet_valid' };
  if (record.expiresAt <= now) return { ok: false, reason: 'expired' };
  if (record.expiresAt - record.issuedAt > MAX_RECORD_LIFETIME_MS) return { ok: false, reason: 'too_long_lived' };
  return { ok: true, record: { id: nodeIdFromPublicKey(record.publicKey), record, bytes: new Uint8Array(bytes) } };
}

/** True when the record's signature is valid for the key it names. */
export function signatureValid(v: VerifiedRecord): boolean {
  return verifySignature(v.record.publicKey, peerRecordSignedBytes(v.bytes), v.record.signature);
}

/** Full verification of an untrusted record at time `now` (ms). */
export function verifyRecord(bytes: Uint8Array, now: number): RecordCheck {
  const c = checkRecord(bytes, now);
  if (!c.ok) return c;
  return signatureValid(c.record) ? c : { ok: false, reason: 'bad_signature' };
}

/** Node id and seq of well-formed record bytes, without verifying anything else. */
export function recordKey(bytes: Uint8Array): { id: NodeId; seq: number } | undefined {
  try {
    const r = decodePeerRecord(bytes);
    return { id: nodeIdFromPublicKey(r.publicKey), seq: r.seq };
  } catch (err) {
    if (isSentinelError(err, 'E_PAYLOAD_MALFORMED')) return undefined;
    throw err;
  }
}

/**
 * The two address lists of our own record: `public` holds what the signaler observed and
 * our global IPv6 addresses (reachable from anywhere: there is no NAT on IPv6), `local`
 * the rest of our listen addresses (private IPv4, unique local IPv6: for peers on our LAN).
 */
export function recordAddresses(observed: Endpoint | null | undefined, locals: readonly Endpoint[]): { public: Endpoint[]; local: Endpoint[] } {
  const same = (a: Endpoint, b: Endpoint | null | undefined): boolean => b != null && a.host === b.host && a.port === b.port;
  const global = locals.filter((e) => isGlobalIpv6(e.host));
  return {
    public: [...(observed ? [observed] : []), ...global.filter((e) => !same(e, observed))],
    local: locals.filter((e) => !global.includes(e)),
  };
}
