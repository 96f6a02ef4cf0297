/**
 * The node's identity: an Ed25519 key kept in the data dir as PKCS#8 PEM (`node.key`,
 * mode 0600), created on first start and reused afterwards. A key file that exists but
 * cannot be read or parsed is an error (E_KEY_CORRUPT): never a silent new identity.
 * A key file that others may read or write, that belongs to an untrusted user, or that is
 * a symbolic link is refused (E_KEY_PERMISSIONS, with the fixing command; rules in
 * core/permissions.ts). Callers prepare the data dir first (core/data-dir.ts).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { NodeId } from '../api.js';
import { currentUser, type RunningUser } from '../core/permissions.js';
import { readPrivateFile } from '../core/private-file.js';
import { errorCode, SentinelError } from '../errors.js';
import { createNodeCertificate, publicKeyObject } from './certificate.js';
import { nodeIdFromPublicKey, PUBLIC_KEY_BYTES } from './node-id.js';

export const KEY_FILE = 'node.key';

/** Bytes of a key file read at most (an Ed25519 PKCS#8 PEM is about 120). */
const MAX_KEY_FILE_BYTES = 16 * 1024;

export interface Identity {
  readonly id: NodeId;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  readonly privateKey: KeyObject;
  /** PEM of the self-signed certificate and key, for node:tls. */
  readonly certPem: string;
  readonly keyPem: string;
  sign(data: Uint8Array): Buffer;
}

/** Build an Identity from a private key. */
export function identityFromPrivateKey(privateKey: KeyObject): Identity {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new SentinelError('E_KEY_CORRUPT', 'key is not Ed25519');
  const pub = createPublicKey(privateKey);
  const spki = pub.export({ type: 'spki', format: 'der' });
  const publicKey = Buffer.from(spki.subarray(spki.length - PUBLIC_KEY_BYTES));
  return {
    id: nodeIdFromPublicKey(publicKey),
    publicKey,
    privateKey,
    certPem: createNodeCertificate(privateKey, pub),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    sign: (data) => sign(null, data, privateKey),
  };
}

/** A fresh in-memory identity (tests, benchmarks). */
export function generateIdentity(): Identity {
  return identityFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

/**
 * Load the identity from `dataDir`, creating the key on first use. `user` is whom the
 * ownership rules trust: by default the running process; null skips the ownership and
 * mode rules (as on platforms without uids).
 */
export async function loadOrCreateIdentity(dataDir: string, user?: RunningUser | null): Promise<{ identity: Identity; created: boolean }> {
  const file = join(dataDir, KEY_FILE);
  const pem = await readPrivateFile(file, user === undefined ? currentUser() : (user ?? undefined), { code: 'E_KEY_CORRUPT', maxBytes: MAX_KEY_FILE_BYTES });
  if (pem !== undefined) {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new SentinelError('E_KEY_CORRUPT', `${file} does not hold a valid private key (remove it only if you mean to create a new identity)`, { cause: err });
    }
    return { identity: identityFromPrivateKey(key), created: false };
  }
  const identity = generateIdentity();
  try {
    // 'wx': never overwrite a key that appeared meanwhile; mode 0600 from creation.
    await fs.writeFile(file, identity.keyPem, { mode: 0o600, flag: 'wx' });
    const fh = await fs.open(file, 'r');
    await fh.sync();
    await fh.close();
  } catch (err) {
    throw new SentinelError('E_DATA_DIR', `cannot write ${file}: ${errorCode(err) ?? String(err)}`, { cause: err });
  }
  return { identity, created: true };
}

/**
 * Removes the key file a failed first start just created, so the failure leaves no
 * identity behind. Only when the file still holds exactly that key: a key that another
 * start wrote meanwhile is never removed. Best effort (a key left is the old behaviour).
 */
export async function discardCreatedIdentity(dataDir: string, identity: Identity): Promise<boolean> {
  const file = join(dataDir, KEY_FILE);
  try {
    if ((await fs.readFile(file, 'utf8')) !== identity.keyPem) return false;
    await fs.unlink(file);
    return true;
  } catch {
    return false;
  }
}

const keyCache = new Map<string, KeyObject>();
/** Verify an Ed25519 signature by a raw public key (KeyObjects are cached per key). */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const hex = Buffer.from(publicKey).toString('hex');
  let key = keyCache.get(hex);
  if (!key) {
    key = publicKeyObject(publicKey);
    if (keyCache.size > 4096) keyCache.clear();
    keyCache.set(hex, key);
  }
  try {
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}
