import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { isSentinelError } from '../../src/errors.js';
import {
  base32Decode,
  base32Encode,
  createNodeCertificate,
  generateIdentity,
  isNodeId,
  KEY_FILE,
  loadOrCreateIdentity,
  nodeIdFromCertificate,
  nodeIdFromPublicKey,
  publicKeyFromNodeId,
  selfSignedCertificateDer,
  verifySignature,
} from '../../src/identity/index.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sentinel-id-'));
  dirs.push(d);
  return d;
}

describe('base32', () => {
  it('matches RFC 4648 vectors (lowercase, unpadded)', () => {
    assert.equal(base32Encode(Buffer.from('foobar')), 'mzxw6ytboi');
    assert.equal(base32Encode(Buffer.from('f')), 'my');
    assert.deepEqual(Buffer.from(base32Decode('mzxw6ytboi') ?? []), Buffer.from('foobar'));
  });
  it('rejects bad characters and non-canonical trailing bits', () => {
    assert.equal(base32Decode('MZXW'), undefined);
    assert.equal(base32Decode('m1'), undefined);
    assert.equal(base32Decode('mz'), undefined); // 'z' leaves non-zero trailing bits after 'm'
  });
  it('round-trips random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => Buffer.from(base32Decode(base32Encode(b)) ?? []).equals(Buffer.from(b))));
  });
});

describe('node ids', () => {
  it('matches fixed test vectors (computed independently with Python hashlib/base64)', () => {
    const zero = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaalcvlv';
    const counting = 'aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypulbc3';
    const seq = Uint8Array.from({ length: 32 }, (_, i) => i);
    assert.equal(nodeIdFromPublicKey(new Uint8Array(32)), zero);
    assert.equal(nodeIdFromPublicKey(seq), counting);
    assert.deepEqual(publicKeyFromNodeId(zero), Buffer.alloc(32));
    assert.deepEqual(publicKeyFromNodeId(counting), Buffer.from(seq));
  });
  it('recovers the public key from the id alone', () => {
    const ident = generateIdentity();
    assert.deepEqual(publicKeyFromNodeId(ident.id), ident.publicKey);
    const sig = ident.sign(Buffer.from('data'));
    assert.ok(verifySignature(publicKeyFromNodeId(ident.id), Buffer.from('data'), sig));
    assert.ok(!verifySignature(publicKeyFromNodeId(ident.id), Buffer.from('datb'), sig));
  });
  it('rejects a typo through the checksum', () => {
    const id = generateIdentity().id;
    const typo = id.slice(0, 10) + (id[10] === 'a' ? 'b' : 'a') + id.slice(11);
    assert.equal(isNodeId(typo), false);
    assert.throws(() => publicKeyFromNodeId(typo), (e) => isSentinelError(e, 'E_BAD_ID'));
    assert.throws(() => publicKeyFromNodeId(id.toUpperCase()), (e) => isSentinelError(e, 'E_BAD_ID'));
    assert.throws(() => publicKeyFromNodeId(id.slice(1)), (e) => isSentinelError(e, 'E_BAD_ID'));
  });
});

describe('certificates', () => {
  it('yields the node id of the key that signed it', () => {
    const ident = generateIdentity();
    const cert = new X509Certificate(ident.certPem);
    assert.equal(nodeIdFromCertificate(cert.raw), ident.id);
    assert.match(cert.subject, new RegExp(`CN=${ident.id}`));
  });
  it('refuses a certificate with a non-Ed25519 key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed448');
    assert.throws(() => createNodeCertificate(privateKey, publicKey), (e) => isSentinelError(e, 'E_BAD_CERT'));
    const der = selfSignedCertificateDer(privateKey, publicKey, 'ed448 impostor');
    assert.ok(new X509Certificate(der).verify(publicKey), 'the Ed448 certificate itself is valid');
    assert.throws(() => nodeIdFromCertificate(der), (e) => isSentinelError(e, 'E_BAD_CERT') && /ed448/.test(e.message));
  });
  it('refuses garbage and a certificate whose signature does not verify', () => {
    assert.throws(() => nodeIdFromCertificate(Buffer.from('nonsense')), (e) => isSentinelError(e, 'E_BAD_CERT'));
    const raw = Buffer.from(new X509Certificate(generateIdentity().certPem).raw);
    raw[raw.length - 5] = (raw[raw.length - 5] ?? 0) ^ 0xff; // inside the signature
    assert.throws(() => nodeIdFromCertificate(raw), (e) => isSentinelError(e, 'E_BAD_CERT'));
  });
});

describe('key file', () => {
  it('is created with mode 0600 and reused afterwards', async () => {
    const dir = await tempDir();
    const first = await loadOrCreateIdentity(dir);
    assert.equal(first.created, true);
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
    const second = await loadOrCreateIdentity(dir);
    assert.equal(second.created, false);
    assert.equal(second.identity.id, first.identity.id);
  });
  it('is an error when corrupt, and is left untouched', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, KEY_FILE), 'garbage', { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(dir), (e) => isSentinelError(e, 'E_KEY_CORRUPT'));
    assert.equal(await readFile(join(dir, KEY_FILE), 'utf8'), 'garbage');
  });
  it('is an error when it holds a non-Ed25519 key', async () => {
    const dir = await tempDir();
    const { privateKey } = generateKeyPairSync('x25519');
    await writeFile(join(dir, KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(dir), (e) => isSentinelError(e, 'E_KEY_CORRUPT'));
  });
});

describe('key file permissions', () => {
  const OTHER_UID = 65534;
  const isRoot = process.geteuid?.() === 0;
  const NOT_ROOT = 'needs root (chown to another user); the pure rules in data-dir.test.ts cover it';

  /** A data dir holding a valid key with `mode`; returns the dir, the key path and its id. */
  async function withKey(mode: number): Promise<{ dir: string; file: string; id: string; pem: string }> {
    const dir = await tempDir();
    const { identity } = await loadOrCreateIdentity(dir);
    const file = join(dir, KEY_FILE);
    await chmod(file, mode);
    return { dir, file, id: identity.id, pem: identity.keyPem };
  }

  it('refuses a 0644 key with the chmod that fixes it, and leaves it as it was', async () => {
    const { dir, file, id, pem } = await withKey(0o644);
    await assert.rejects(loadOrCreateIdentity(dir), (e) => {
      assert.ok(isSentinelError(e, 'E_KEY_PERMISSIONS'));
      assert.ok(e.message.endsWith(`${file} is readable by others (mode 0644); run: chmod 600 ${file}`), e.message);
      return true;
    });
    assert.equal(await readFile(file, 'utf8'), pem);
    assert.equal((await stat(file)).mode & 0o777, 0o644, 'not silently fixed');
    await chmod(file, 0o600);
    assert.equal((await loadOrCreateIdentity(dir)).identity.id, id, 'the same identity once fixed');
  });

  it('refuses every group or other bit, accepts 0600 and 0400', async () => {
    for (const mode of [0o640, 0o604, 0o660, 0o606, 0o610, 0o601]) {
      const { dir } = await withKey(mode);
      await assert.rejects(loadOrCreateIdentity(dir), (e) => isSentinelError(e, 'E_KEY_PERMISSIONS'), `mode ${mode.toString(8)}`);
    }
    for (const mode of [0o600, 0o400]) {
      const { dir, id } = await withKey(mode);
      assert.equal((await loadOrCreateIdentity(dir)).identity.id, id);
    }
  });

  it('refuses a key that is a symbolic link, even to a private key file, and a dangling link', async () => {
    const { file: target } = await withKey(0o600);
    const dir = await tempDir();
    await symlink(target, join(dir, KEY_FILE));
    await assert.rejects(loadOrCreateIdentity(dir), (e) => isSentinelError(e, 'E_KEY_PERMISSIONS') && /symbolic link/.test(e.message));
    const dangling = await tempDir();
    await symlink(join(dangling, 'nowhere'), join(dangling, KEY_FILE));
    await assert.rejects(loadOrCreateIdentity(dangling), (e) => isSentinelError(e, 'E_KEY_PERMISSIONS'));
    assert.ok((await stat(join(dangling, KEY_FILE)).catch(() => undefined)) === undefined, 'no key was created through the link');
  });

  it('refuses a FIFO named node.key without blocking on it', async (t) => {
    const dir = await tempDir();
    try {
      execFileSync('mkfifo', ['-m', '600', join(dir, KEY_FILE)]);
    } catch {
      t.skip('mkfifo is not available');
      return;
    }
    await assert.rejects(loadOrCreateIdentity(dir), (e) => isSentinelError(e, 'E_KEY_CORRUPT') && /not a regular file/.test(e.message));
  });

  it('refuses a key owned by another user', { skip: isRoot ? false : NOT_ROOT }, async () => {
    const { dir, file } = await withKey(0o600);
    await chown(file, OTHER_UID, OTHER_UID);
    await assert.rejects(loadOrCreateIdentity(dir), (e) => {
      assert.ok(isSentinelError(e, 'E_KEY_PERMISSIONS'));
      assert.ok(e.message.endsWith(`${file} is owned by uid ${OTHER_UID}, not by the user running this (uid 0); run: chown 0 ${file}`), e.message);
      return true;
    });
  });

  it('as root under sudo, uses the invoking user\'s key; as a user, a root-owned one', { skip: isRoot ? false : NOT_ROOT }, async () => {
    const { dir, file, id } = await withKey(0o600);
    await chown(file, OTHER_UID, OTHER_UID);
    assert.equal((await loadOrCreateIdentity(dir, { uid: 0, sudoUid: OTHER_UID })).identity.id, id);
    await chown(file, 0, 0);
    assert.equal((await loadOrCreateIdentity(dir, { uid: 1000 })).identity.id, id);
  });
});
