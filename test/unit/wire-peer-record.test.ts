import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSentinelError } from '../../src/errors.js';
import {
  MAX_RECORD_BYTES,
  MAX_RECORDS_PER_MESSAGE,
  PEER_RECORD_MIN_SIZE,
  RECORD_FLAG_RELAY,
  RECORD_FLAG_SIGNALER,
  decodeGossipPullReply,
  decodeGossipPush,
  decodePeerRecord,
  encodeGossipPullReply,
  encodeGossipPush,
  encodePeerRecord,
  peerRecordSignedBytes,
  peerRecordSigningInput,
  type PeerRecord,
} from '../../src/wire/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const malformed = (err: unknown) => isSentinelError(err, 'E_PAYLOAD_MALFORMED');

const KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const HEAD = KEY + '0000000000000001' + '0000018bcfe56800' + '0000018bd01c5680';
const LISTS = '01 04 01020304 0050' + '01 06 00000000000000000000000000000001 01bb';
const SIG = '11'.repeat(64);
const VECTOR = HEAD + LISTS + SIG;
const RECORD: PeerRecord = {
  publicKey: new Uint8Array(hex(KEY)),
  seq: 1,
  issuedAt: 1_700_000_000_000,
  expiresAt: 1_700_003_600_000,
  public: [{ host: '1.2.3.4', port: 80 }],
  local: [{ host: '::1', port: 443 }],
  signature: new Uint8Array(64).fill(0x11),
};

describe('peer record codec', () => {
  it('has the documented size bounds', () => {
    assert.equal(PEER_RECORD_MIN_SIZE, 122);
    assert.equal(MAX_RECORD_BYTES, 446);
  });

  it('encodes and decodes the hex vector', () => {
    assert.equal(encodePeerRecord(RECORD).toString('hex'), hex(VECTOR).toString('hex'));
    assert.deepEqual(decodePeerRecord(hex(VECTOR)), RECORD);
  });

  it('signs the prefix and every byte before the signature', () => {
    const expected = '73656e74696e656c2f706565722d7265636f72642f763100' + HEAD + LISTS;
    const { signature: _sig, ...unsigned } = RECORD;
    assert.equal(peerRecordSigningInput(unsigned).toString('hex'), hex(expected).toString('hex'));
    assert.equal(peerRecordSignedBytes(hex(VECTOR)).toString('hex'), hex(expected).toString('hex'));
  });

  it('carries flags before the signature, signed (RECORD_FLAG_RELAY)', () => {
    const flagged = { ...RECORD, flags: RECORD_FLAG_RELAY };
    assert.equal(encodePeerRecord(flagged).toString('hex'), hex(HEAD + LISTS + '01' + SIG).toString('hex'));
    assert.deepEqual(decodePeerRecord(hex(HEAD + LISTS + '01' + SIG)), flagged);
    const { signature: _sig, ...unsigned } = flagged;
    assert.equal(peerRecordSigningInput(unsigned).toString('hex').slice(-2), '01');
    assert.equal(encodePeerRecord({ ...RECORD, flags: 0 }).toString('hex'), hex(VECTOR).toString('hex'));
  });

  it('names the signaler after the flags byte, signed (RECORD_FLAG_SIGNALER)', () => {
    // Registered at 203.0.113.7:8888 (0x22b8), and a peer relay: flags 0x03.
    const withSignaler = { ...RECORD, flags: RECORD_FLAG_RELAY | RECORD_FLAG_SIGNALER, signaler: { host: '203.0.113.7', port: 8888 } };
    const bytes = HEAD + LISTS + '03' + '04 cb007107 22b8' + SIG;
    assert.equal(encodePeerRecord(withSignaler).toString('hex'), hex(bytes).toString('hex'));
    assert.deepEqual(decodePeerRecord(hex(bytes)), withSignaler);
    // The bit follows the endpoint: a record given only the endpoint gets the bit.
    const v6 = { ...RECORD, signaler: { host: '2001:db8::1', port: 9000 } };
    const v6Bytes = HEAD + LISTS + '02' + '06 20010db8000000000000000000000001 2328' + SIG;
    assert.equal(encodePeerRecord(v6).toString('hex'), hex(v6Bytes).toString('hex'));
    assert.deepEqual(decodePeerRecord(hex(v6Bytes)), { ...v6, flags: RECORD_FLAG_SIGNALER });
    const { signature: _sig, ...unsigned } = withSignaler;
    assert.equal(peerRecordSigningInput(unsigned).toString('hex').slice(-16), hex('03' + '04 cb007107 22b8').toString('hex'));
    assert.equal(peerRecordSignedBytes(hex(bytes)).toString('hex').slice(-16), hex('03' + '04 cb007107 22b8').toString('hex'));
  });

  it('decodes records without the signaler exactly as before (older nodes)', () => {
    assert.deepEqual(decodePeerRecord(hex(VECTOR)), RECORD);
    assert.equal('signaler' in decodePeerRecord(hex(VECTOR)), false);
    assert.deepEqual(decodePeerRecord(hex(HEAD + LISTS + '01' + SIG)), { ...RECORD, flags: RECORD_FLAG_RELAY });
  });

  it('rejects a signaler flag without its endpoint, or a bad one', () => {
    const bad = [
      HEAD + LISTS + '02' + SIG, // flag, no endpoint: the signature's first byte is no family
      HEAD + LISTS + '02' + '04 cb007107' + SIG.slice(0, 126), // the endpoint eats into the signature
      HEAD + LISTS + '02' + '05 cb007107 22b8' + SIG, // unknown family
      HEAD + LISTS + '02' + '04 cb007107 22b8' + '00' + SIG, // trailing byte
    ];
    for (const b of bad) assert.throws(() => decodePeerRecord(hex(b)), malformed, b.slice(-140, -128));
    assert.throws(() => encodePeerRecord({ ...RECORD, flags: RECORD_FLAG_SIGNALER }), malformed);
    assert.throws(() => encodePeerRecord({ ...RECORD, signaler: { host: 'sig.example', port: 1 } }), malformed);
  });

  it('the largest record is MAX_RECORD_BYTES long', () => {
    const v6 = (i: number) => ({ host: `2001:db8::${i + 1}`, port: 443 });
    const full = { ...RECORD, public: Array.from({ length: 8 }, (_, i) => v6(i)), local: Array.from({ length: 8 }, (_, i) => v6(i + 8)), flags: 0xff, signaler: v6(99) };
    const bytes = encodePeerRecord(full);
    assert.equal(bytes.length, MAX_RECORD_BYTES);
    assert.deepEqual(decodePeerRecord(bytes), full);
  });

  it('decodes the smallest record (both lists empty)', () => {
    const bytes = hex(HEAD + '00 00' + SIG);
    assert.equal(bytes.length, PEER_RECORD_MIN_SIZE);
    assert.deepEqual(decodePeerRecord(bytes).public, []);
  });

  it('rejects truncation, trailing bytes and bad fields', () => {
    const bad = [
      '',
      HEAD + LISTS + SIG.slice(2),
      VECTOR + '0000',
      HEAD + LISTS + '00' + SIG, // a zero flags byte (absent when zero)
      HEAD + '09' + '04010203040050'.repeat(9) + '00' + SIG, // 9 public endpoints
      HEAD + '01 05 01020304 0050' + '00' + SIG, // unknown family
      KEY + '0020000000000000' + '0000018bcfe56800' + '0000018bd01c5680' + LISTS + SIG, // seq beyond 2^53
      KEY + '0000000000000001' + '0000018bd01c5680' + '0000018bcfe56800' + LISTS + SIG, // expires before issued
    ];
    for (const b of bad) assert.throws(() => decodePeerRecord(hex(b)), malformed, b.slice(0, 40));
  });

  it('rejects a record longer than MAX_RECORD_BYTES before reading it', () => {
    assert.throws(() => decodePeerRecord(new Uint8Array(MAX_RECORD_BYTES + 1)), malformed);
  });

  it('refuses to encode invalid fields', () => {
    const many = Array.from({ length: 9 }, () => ({ host: '1.1.1.1', port: 1 }));
    assert.throws(() => encodePeerRecord({ ...RECORD, public: many }), malformed);
    assert.throws(() => encodePeerRecord({ ...RECORD, expiresAt: RECORD.issuedAt - 1 }), malformed);
    assert.throws(() => encodePeerRecord({ ...RECORD, seq: -1 }), malformed);
    assert.throws(() => encodePeerRecord({ ...RECORD, signature: new Uint8Array(63) }), malformed);
  });

  it('round-trips arbitrary valid records (property)', () => {
    const v4 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }).map((b) => b.join('.'));
    const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]`).hostname.slice(1, -1));
    const ep = fc.record({ host: fc.oneof(v4, v6), port: fc.integer({ min: 0, max: 65535 }) }).map((e) => ({ host: e.host, port: e.port }));
    const rec = fc.record({
      publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      issuedAt: fc.nat({ max: 2 ** 50 }),
      life: fc.nat({ max: 2 ** 40 }),
      public: fc.array(ep, { maxLength: 8 }),
      local: fc.array(ep, { maxLength: 8 }),
      flags: fc.nat({ max: 0xff }),
      signaler: fc.option(ep, { nil: undefined }),
      signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    });
    fc.assert(
      fc.property(rec, ({ life, flags: bits, signaler, ...r }) => {
        // RECORD_FLAG_SIGNALER is set exactly when there is a signaler endpoint.
        const flags = signaler ? bits | RECORD_FLAG_SIGNALER : bits & ~RECORD_FLAG_SIGNALER;
        const record: PeerRecord = { ...r, expiresAt: r.issuedAt + life, ...(flags ? { flags } : {}), ...(signaler ? { signaler } : {}) };
        const bytes = encodePeerRecord(record);
        assert.ok(bytes.length >= PEER_RECORD_MIN_SIZE && bytes.length <= MAX_RECORD_BYTES);
        assert.deepEqual(decodePeerRecord(bytes), record);
      }),
    );
  });

  it('never throws anything but E_PAYLOAD_MALFORMED on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
        try {
          decodePeerRecord(bytes);
        } catch (err) {
          assert.ok(malformed(err));
        }
      }),
    );
  });
});

describe('GOSSIP_PUSH / GOSSIP_PULL_REPLY codec', () => {
  it('encodes an empty push (a pure pull) and a one-record push', () => {
    assert.equal(encodeGossipPush([]).toString('hex'), '0000');
    const one = encodeGossipPush([hex(VECTOR)]);
    assert.equal(one.toString('hex'), '0001' + '0094' + hex(VECTOR).toString('hex'));
    assert.deepEqual(decodeGossipPush(one), [new Uint8Array(hex(VECTOR))]);
    assert.deepEqual(decodeGossipPullReply(encodeGossipPullReply([hex(VECTOR)])), [new Uint8Array(hex(VECTOR))]);
  });

  it('enforces the per-message cap on decode and encode', () => {
    const rec = '0094' + VECTOR;
    assert.equal(decodeGossipPush(hex('0020' + rec.repeat(32))).length, MAX_RECORDS_PER_MESSAGE);
    assert.throws(() => decodeGossipPush(hex('0021' + rec.repeat(33))), malformed);
    assert.throws(() => decodeGossipPullReply(hex('ffff')), malformed);
    assert.throws(() => encodeGossipPush(Array.from({ length: 33 }, () => hex(VECTOR))), malformed);
  });

  it('rejects record lengths out of range, truncation and trailing bytes', () => {
    for (const b of ['', '00', '0001', '0001 0079' + '00'.repeat(121), '0001 01bf' + '00'.repeat(447), '0001 0094' + VECTOR.slice(2), '0000 00', '0001 0094' + VECTOR + '00']) {
      assert.throws(() => decodeGossipPush(hex(b)), malformed, b.slice(0, 20));
    }
    assert.throws(() => encodeGossipPush([new Uint8Array(MAX_RECORD_BYTES + 1)]), malformed);
  });

  it('round-trips arbitrary batches (property)', () => {
    const rec = fc.integer({ min: PEER_RECORD_MIN_SIZE, max: MAX_RECORD_BYTES }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
    fc.assert(
      fc.property(fc.array(rec, { maxLength: MAX_RECORDS_PER_MESSAGE }), (records) => {
        assert.deepEqual(decodeGossipPush(encodeGossipPush(records)), records);
      }),
      { numRuns: 50 },
    );
  });
});
