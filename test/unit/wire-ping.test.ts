import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSentinelError } from '../../src/errors.js';
import { decodePing, encodePing } from '../../src/wire/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const malformed = (err: unknown) => isSentinelError(err, 'E_PAYLOAD_MALFORMED');

describe('PING/PONG codec', () => {
  const vectors: Array<[string, bigint]> = [
    ['0102030405060708', 0x0102030405060708n],
    ['0000000000000000', 0n],
    ['ffffffffffffffff', 18446744073709551615n],
    ['0020000000000000', 9007199254740992n],
  ];

  for (const [bytes, nonce] of vectors) {
    it(`encodes and decodes ${bytes}`, () => {
      assert.equal(encodePing({ nonce }).toString('hex'), bytes);
      assert.deepEqual(decodePing(hex(bytes)), { nonce });
    });
  }

  it('rejects payloads that are not exactly 8 bytes', () => {
    for (const bytes of ['', '01', '01020304050607', '010203040506070809']) {
      assert.throws(() => decodePing(hex(bytes)), malformed, bytes);
    }
  });

  it('refuses nonces outside the u64 range', () => {
    assert.throws(() => encodePing({ nonce: -1n }), malformed);
    assert.throws(() => encodePing({ nonce: 1n << 64n }), malformed);
    assert.throws(() => encodePing({ nonce: 5 as unknown as bigint }), malformed);
  });
});
