import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentity, type Identity } from '../../src/identity/index.js';
import {
  MAX_BOOK_RECORDS,
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_LIFETIME_MS,
  OFFER_REJECTIONS,
  PeerBook,
  signRecord,
  verifyRecord,
  type RecordFields,
  type RecordSigner,
} from '../../src/gossip/index.js';
import { MAX_RECORD_BYTES, encodePeerRecord, peerRecordSigningInput } from '../../src/wire/index.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

function fields(over: Partial<RecordFields> = {}): RecordFields {
  return { seq: 1, issuedAt: NOW, expiresAt: NOW + HOUR, public: [{ host: '203.0.113.7', port: 4100 }], local: [{ host: '192.168.1.2', port: 4100 }], ...over };
}

/** A signer without the certificate work of a full Identity (the flood test makes 10,000). */
function quickSigner(): RecordSigner {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return { publicKey: Buffer.from(spki.subarray(spki.length - 32)), sign: (data) => sign(null, data, privateKey) };
}

describe('peer records', () => {
  const a = generateIdentity();

  it('signs a record that verifies and names the signer', () => {
    const r = verifyRecord(signRecord(a, fields()), NOW);
    assert.ok(r.ok);
    assert.equal(r.record.id, a.id);
    assert.equal(r.record.record.seq, 1);
    assert.deepEqual(r.record.record.public, [{ host: '203.0.113.7', port: 4100 }]);
  });

  it('checks the validity window with the named skew and lifetime', () => {
    assert.equal(verifyRecord(signRecord(a, fields({ expiresAt: NOW })), NOW).ok, false);
    assert.ok(verifyRecord(signRecord(a, fields({ issuedAt: NOW + MAX_CLOCK_SKEW_MS, expiresAt: NOW + 2 * HOUR })), NOW).ok);
    const future = verifyRecord(signRecord(a, fields({ issuedAt: NOW + MAX_CLOCK_SKEW_MS + 1, expiresAt: NOW + 2 * HOUR })), NOW);
    assert.deepEqual(future, { ok: false, reason: 'not_yet_valid' });
    assert.ok(verifyRecord(signRecord(a, fields({ expiresAt: NOW + MAX_RECORD_LIFETIME_MS })), NOW).ok);
    assert.deepEqual(verifyRecord(signRecord(a, fields({ expiresAt: NOW + MAX_RECORD_LIFETIME_MS + 1 })), NOW), { ok: false, reason: 'too_long_lived' });
  });
});

describe('PeerBook', () => {
  const a = generateIdentity();
  const b = generateIdentity();

  /** A record naming `who`'s key but signed by `signer`. */
  function misSigned(who: Identity, signer: Identity): Buffer {
    const unsigned = { publicKey: who.publicKey, ...fields({ seq: 5 }) };
    return encodePeerRecord({ ...unsigned, signature: signer.sign(peerRecordSigningInput(unsigned)) });
  }

  it('rejects and counts every reason', () => {
    const book = new PeerBook();
    const unsigned = encodePeerRecord({ publicKey: a.publicKey, ...fields(), signature: new Uint8Array(64) });
    const malformed = Buffer.from(signRecord(a, fields()));
    malformed[56 + 1] = 9; // unknown address family in the public list
    const cases: Array<[Uint8Array, string]> = [
      [signRecord(a, fields({ issuedAt: NOW - 2 * HOUR, expiresAt: NOW - 1 })), 'expired'],
      [unsigned, 'bad_signature'],
      [misSigned(a, b), 'bad_signature'],
      [signRecord(a, fields({ issuedAt: NOW + MAX_CLOCK_SKEW_MS + 1, expiresAt: NOW + HOUR + MAX_CLOCK_SKEW_MS })), 'not_yet_valid'],
      [signRecord(a, fields({ expiresAt: NOW + 25 * HOUR })), 'too_long_lived'],
      [new Uint8Array(MAX_RECORD_BYTES + 1), 'oversized'],
      [malformed, 'malformed'],
    ];
    for (const [bytes, reason] of cases) assert.equal(book.offer(bytes, NOW), reason, reason);
    assert.equal(book.size, 0);

    assert.equal(book.offer(signRecord(a, fields({ seq: 3 })), NOW), 'accepted');
    assert.equal(book.offer(signRecord(a, fields({ seq: 3, local: [] })), NOW), 'replayed'); // same seq
    assert.equal(book.offer(signRecord(a, fields({ seq: 2 })), NOW), 'replayed'); // lower seq
    const counts = book.counters.toJSON();
    assert.deepEqual(counts, { accepted: 1, bad_signature: 2, expired: 1, malformed: 1, not_yet_valid: 1, oversized: 1, replayed: 2, too_long_lived: 1 });
    for (const reason of Object.keys(counts)) assert.ok(reason === 'accepted' || OFFER_REJECTIONS.includes(reason as never), reason);
  });

  it('replaces a record with a higher seq', () => {
    const book = new PeerBook();
    assert.equal(book.offer(signRecord(a, fields({ seq: 1 })), NOW), 'accepted');
    const v1 = book.version;
    const newer = signRecord(a, fields({ seq: 7, public: [{ host: '198.51.100.1', port: 9 }] }));
    assert.equal(book.offer(newer, NOW + 1, 'peer-x'), 'accepted');
    const e = book.get(a.id);
    assert.equal(e?.record.seq, 7);
    assert.deepEqual(e?.bytes, new Uint8Array(newer));
    assert.equal(e?.from, 'peer-x');
    assert.ok((e?.change ?? 0) > v1);
    assert.equal(book.size, 1);
  });

  it('stays within capacity, rejecting as full, and evicts expired records first', () => {
    const book = new PeerBook({ maxRecords: 2 });
    const c = generateIdentity();
    assert.equal(book.offer(signRecord(a, fields({ expiresAt: NOW + 1000 })), NOW), 'accepted');
    assert.equal(book.offer(signRecord(b, fields()), NOW), 'accepted');
    assert.equal(book.offer(signRecord(c, fields()), NOW), 'full');
    assert.equal(book.offer(signRecord(a, fields({ seq: 2, expiresAt: NOW + 1000 })), NOW), 'accepted'); // an update is not refused
    assert.equal(book.offer(signRecord(c, fields()), NOW + 1000), 'accepted'); // a's record expired: evicted
    assert.equal(book.size, 2);
    assert.equal(book.get(a.id), undefined);
    assert.equal(book.counters.get('full'), 1);
  });

  it('shares a full book fairly between sources: a flooding partner only evicts its own records', () => {
    const book = new PeerBook({ maxRecords: 6 });
    const friends = [quickSigner(), quickSigner()];
    for (const f of friends) assert.equal(book.offer(signRecord(f, fields()), NOW, 'friend'), 'accepted');
    for (let i = 0; i < 4; i++) assert.equal(book.offer(signRecord(quickSigner(), fields()), NOW, 'flooder'), 'accepted');
    // Full. More from the flooder (the largest source) is refused before its signature is checked.
    const dummy = encodePeerRecord({ publicKey: Buffer.alloc(32, 9), ...fields(), signature: new Uint8Array(64).fill(1) });
    assert.equal(book.offer(dummy, NOW, 'flooder'), 'full');
    assert.equal(book.counters.get('bad_signature'), 0, 'refused without any public-key work');
    // A newcomer from someone else takes the flooder's oldest slot.
    const newcomer = quickSigner();
    assert.equal(book.offer(signRecord(newcomer, fields()), NOW, 'friend'), 'accepted');
    assert.equal(book.counters.get('evicted'), 1);
    assert.equal(book.size, 6);
    assert.equal(book.all().filter((e) => e.from === 'friend').length, 3, 'both friends and the newcomer are held');
    assert.equal(book.all().filter((e) => e.from === 'flooder').length, 3);
    // An invalid newcomer evicts nothing.
    assert.equal(book.offer(dummy, NOW, 'other'), 'bad_signature');
    assert.equal(book.size, 6);
    assert.equal(book.counters.get('evicted'), 1);
  });

  it('never evicts kept records (contacts) and admits them into a full book', () => {
    const keepIds = new Set<string>();
    const book = new PeerBook({ maxRecords: 2, keep: (id) => keepIds.has(id) });
    const c = generateIdentity();
    keepIds.add(a.id);
    keepIds.add(c.id);
    assert.equal(book.offer(signRecord(a, fields()), NOW, 'x'), 'accepted');
    assert.equal(book.offer(signRecord(b, fields()), NOW, 'x'), 'accepted');
    assert.equal(book.offer(signRecord(c, fields()), NOW, 'x'), 'accepted', 'a contact gets in even from the largest source');
    assert.ok(book.get(a.id), 'the kept record stayed');
    assert.equal(book.get(b.id), undefined, 'the other one made room');
  });

  it('prunes expired records', () => {
    const book = new PeerBook();
    book.offer(signRecord(a, fields({ expiresAt: NOW + 10 })), NOW);
    book.offer(signRecord(b, fields()), NOW);
    assert.equal(book.prune(NOW + 9), 0);
    assert.equal(book.prune(NOW + 10), 1);
    assert.deepEqual(book.digest().map((d) => d.id), [b.id]);
  });

  it('survives a store round trip and drops tampered or expired stored records', () => {
    const book = new PeerBook();
    book.offer(signRecord(a, fields({ seq: 4 })), NOW);
    book.offer(signRecord(b, fields({ expiresAt: NOW + 10 })), NOW);
    const stored = book.toStore().map((r) => Uint8Array.from(r));
    const reloaded = PeerBook.fromStore(stored, NOW);
    assert.deepEqual(reloaded.digest(), book.digest());
    const tampered = Uint8Array.from(stored[0] ?? []);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1; // the signature
    const later = PeerBook.fromStore([tampered, ...stored.slice(1)], NOW + 10);
    assert.equal(later.size, 0);
    assert.equal(later.counters.get('bad_signature'), 1);
    assert.equal(later.counters.get('expired'), 1);
  });

  it('cannot grow beyond its capacity under a flood of 50,000 distinct records', () => {
    // The default capacity is MAX_BOOK_RECORDS; the flood uses a 1,000-record book because
    // filling 10,000 slots costs 10,000 Ed25519 verifications (~5 s here) and exercises the
    // same code path.
    assert.equal(new PeerBook().maxRecords, MAX_BOOK_RECORDS);
    const cap = 1_000;
    const book = new PeerBook({ maxRecords: cap });
    for (let i = 0; i < cap; i++) assert.equal(book.offer(signRecord(quickSigner(), fields()), NOW), 'accepted');
    // Valid, properly signed newcomers are refused once the book is full ...
    for (let i = 0; i < 100; i++) assert.equal(book.offer(signRecord(quickSigner(), fields()), NOW), 'full');
    // ... and so is the rest of the flood: 48,900 more distinct keys. A full book refuses them
    // before any signature check, so they carry a dummy signature.
    const key = Buffer.alloc(32);
    for (let i = 0; i < 50_000 - cap - 100; i++) {
      key.writeUInt32BE(i, 0);
      const bytes = encodePeerRecord({ publicKey: key, ...fields(), signature: new Uint8Array(64).fill(1) });
      assert.equal(book.offer(bytes, NOW), 'full');
    }
    assert.equal(book.size, cap);
    assert.equal(book.counters.get('full'), 49_000);
    assert.equal(book.counters.get('accepted'), cap);
  });
});
