/**
 * The node's TLS certificate: a self-signed X.509 v3 certificate whose subject key IS
 * the node's Ed25519 identity key. TLS 1.3's CertificateVerify proves the peer holds
 * that key, so the node id derived from the certificate key is authenticated.
 * No CA is involved; chain validation is replaced by {@link nodeIdFromCertificate}.
 */
import { X509Certificate, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { bitString, explicit, generalizedTime, integer, oid, sequence, set, utcTime, utf8String } from './der.js';
import { nodeIdFromPublicKey, PUBLIC_KEY_BYTES } from './node-id.js';

const EDDSA_OIDS: Record<string, string> = { ed25519: '1.3.101.112', ed448: '1.3.101.113' };
const OID_COMMON_NAME = '2.5.4.3';
/** Fixed validity: identity lives as long as the key; expiry is not a security boundary here. */
const NOT_BEFORE = new Date(Date.UTC(2000, 0, 1));
const NOT_AFTER = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

function name(cn: string): Buffer {
  return sequence(set(sequence(oid(OID_COMMON_NAME), utf8String(cn))));
}

/** Build a self-signed certificate (PEM) for `privateKey`, with subject CN = node id. */
export function createNodeCertificate(privateKey: KeyObject, publicKey: KeyObject): string {
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new SentinelError('E_BAD_CERT', 'node certificates use Ed25519 keys');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const id = nodeIdFromPublicKey(spki.subarray(spki.length - PUBLIC_KEY_BYTES));
  const der = selfSignedCertificateDer(privateKey, publicKey, id);
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/**
 * DER of an X.509 v3 certificate for an EdDSA key (Ed25519 or Ed448), CN = `cn`, signed by
 * `privateKey` (self-signed when it is `publicKey`'s own key; tests pass another to forge).
 */
export function selfSignedCertificateDer(privateKey: KeyObject, publicKey: KeyObject, cn: string): Buffer {
  const keyOid = EDDSA_OIDS[publicKey.asymmetricKeyType ?? ''];
  if (!keyOid) throw new SentinelError('E_BAD_CERT', `unsupported key type ${publicKey.asymmetricKeyType}`);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const algorithm = sequence(oid(keyOid));
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    algorithm,
    name(cn),
    sequence(utcTime(NOT_BEFORE), generalizedTime(NOT_AFTER)),
    name(cn),
    spki,
  );
  const signature = sign(null, tbs, privateKey);
  return sequence(tbs, algorithm, bitString(signature));
}

/** Certificates already verified, by SHA-256 fingerprint: the same bytes verify the same way. */
const verified = new Map<string, NodeId>();
const MAX_VERIFIED = 4096;

/**
 * Derive the authenticated node id from a peer's certificate (DER or parsed): the key must
 * be Ed25519 and the certificate must be validly self-signed by it. Throws E_BAD_CERT.
 */
export function nodeIdFromCertificate(input: Uint8Array | X509Certificate): NodeId {
  let cert: X509Certificate;
  try {
    cert = input instanceof X509Certificate ? input : new X509Certificate(input);
  } catch (err) {
    throw new SentinelError('E_BAD_CERT', 'unparseable certificate', { cause: err });
  }
  const cached = verified.get(cert.fingerprint256);
  if (cached) return cached;
  let key: KeyObject;
  try {
    // node:crypto throws a plain OpenSSL error for a key algorithm it cannot load (found by fuzzing).
    key = cert.publicKey;
  } catch (err) {
    throw new SentinelError('E_BAD_CERT', 'certificate key cannot be read', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SentinelError('E_BAD_CERT', `certificate key is ${key.asymmetricKeyType ?? 'unknown'}, not ed25519`);
  }
  if (!cert.verify(key)) throw new SentinelError('E_BAD_CERT', 'certificate is not self-signed by its key');
  const spki = key.export({ type: 'spki', format: 'der' });
  const id = nodeIdFromPublicKey(spki.subarray(spki.length - PUBLIC_KEY_BYTES));
  if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value as string);
  verified.set(cert.fingerprint256, id);
  return id;
}

/** A KeyObject for a raw Ed25519 public key. */
export function publicKeyObject(raw: Uint8Array): KeyObject {
  const prefix = Buffer.from('302a300506032b6570032100', 'hex'); // SPKI header for Ed25519
  return createPublicKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'spki' });
}
