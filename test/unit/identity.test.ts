import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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
  resolveNodeId,
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

describe('prefix resolution', () => {
  const known = ['abcdef' + 'a'.repeat(50), 'abcxyz' + 'a'.repeat(50), 'qqq' + 'a'.repeat(53)];
  it('accepts a unique prefix, case-insensitively', () => {
    assert.equal(resolveNodeId('QQ', known), known[2]);
    assert.equal(resolveNodeId('abcd', known), known[0]);
  });
  it('lists matches for an ambiguous prefix', () => {
    assert.throws(() => resolveNodeId('abc', known), (e) => isSentinelError(e, 'E_AMBIGUOUS_ID') && /abcdef/.test(e.message) && /abcxyz/.test(e.message));
  });
  it('rejects unknown and empty input', () => {
    assert.throws(() => resolveNodeId('zz', known), (e) => isSentinelError(e, 'E_UNKNOWN_ID'));
    assert.throws(() => resolveNodeId('  ', known), (e) => isSentinelError(e, 'E_UNKNOWN_ID'));
  });
  it('passes a valid full id through even when unknown', () => {
    const id = generateIdentity().id;
    assert.equal(resolveNodeId(id, known), id);
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
    await writeFile(join(dir, KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await assert.rejects(loadOrCreateIdentity(dir), (e) => isSentinelError(e, 'E_KEY_CORRUPT'));
  });
});
