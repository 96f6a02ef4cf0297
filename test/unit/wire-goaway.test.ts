import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSentinelError } from '../../src/errors.js';
import { GoawayCode, MAX_REASON_BYTES, decodeGoaway, encodeGoaway, goawayCodeName } from '../../src/wire/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const malformed = (err: unknown) => isSentinelError(err, 'E_PAYLOAD_MALFORMED');

describe('GOAWAY codec', () => {
  it('has the assigned codes', () => {
    assert.deepEqual({ ...GoawayCode }, { NORMAL: 1, DUPLICATE: 2, PROTOCOL_ERROR: 3, TIMEOUT: 4, SHUTDOWN: 5, BUSY: 6, REFUSED: 7 });
    assert.equal(goawayCodeName(5), 'SHUTDOWN');
    assert.equal(goawayCodeName(0x1234), undefined);
  });

  const vectors: Array<[string, { code: number; reason: string }]> = [
    ['0002 0003 647570', { code: GoawayCode.DUPLICATE, reason: 'dup' }],
    ['0001 0000', { code: GoawayCode.NORMAL, reason: '' }],
    ['1234 0000', { code: 0x1234, reason: '' }],
    ['0003 0002 c3a9', { code: GoawayCode.PROTOCOL_ERROR, reason: '\u00e9' }],
  ];

  for (const [bytes, goaway] of vectors) {
    it(`encodes and decodes ${bytes}`, () => {
      assert.equal(encodeGoaway(goaway).toString('hex'), bytes.replace(/\s+/g, ''));
      assert.deepEqual(decodeGoaway(hex(bytes)), goaway);
    });
  }

  it('accepts a reason of exactly MAX_REASON_BYTES', () => {
    const reason = 'x'.repeat(MAX_REASON_BYTES);
    assert.equal(encodeGoaway({ code: 5, reason }).toString('hex'), '0005' + '0100' + '78'.repeat(256));
    assert.deepEqual(decodeGoaway(hex('0005 0100' + '78'.repeat(256))), { code: 5, reason });
  });

  it('rejects a reasonLen above MAX_REASON_BYTES', () => {
    assert.throws(() => decodeGoaway(hex('0005 0101' + '78'.repeat(257))), malformed);
    assert.throws(() => decodeGoaway(hex('0005 ffff')), malformed);
  });

  it('rejects truncated payloads and length mismatches', () => {
    for (const bytes of ['', '00', '0002', '0002 00', '0002 0003 6475']) {
      assert.throws(() => decodeGoaway(hex(bytes)), malformed, bytes);
    }
  });

  it('rejects trailing bytes', () => {
    assert.throws(() => decodeGoaway(hex('0002 0003 647570 00')), malformed);
    assert.throws(() => decodeGoaway(hex('0001 0000 00')), malformed);
  });

  it('rejects invalid UTF-8 reasons', () => {
    for (const bad of ['0002 c0af', '0001 ff', '0003 eda080']) {
      assert.throws(() => decodeGoaway(hex('0001' + bad)), malformed, bad);
    }
  });

  it('refuses to encode invalid fields', () => {
    assert.throws(() => encodeGoaway({ code: 1, reason: 'x'.repeat(257) }), malformed);
    assert.throws(() => encodeGoaway({ code: 1, reason: '\uDC00' }), malformed);
    assert.throws(() => encodeGoaway({ code: 65536, reason: '' }), malformed);
    assert.throws(() => encodeGoaway({ code: -1, reason: '' }), malformed);
  });
});
