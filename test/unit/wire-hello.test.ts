import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSentinelError } from '../../src/errors.js';
import { HELLO_FLAG_RELAY, MAX_NAME_BYTES, decodeHello, encodeHello } from '../../src/wire/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const malformed = (err: unknown) => isSentinelError(err, 'E_PAYLOAD_MALFORMED');

describe('HELLO codec', () => {
  const vectors: Array<[string, { listenPort: number; name: string; flags?: number }]> = [
    ['1b58 05 616c696365 01', { listenPort: 7000, name: 'alice', flags: HELLO_FLAG_RELAY }],
    ['0000 00 81', { listenPort: 0, name: '', flags: 0x81 }],
    ['1b58 05 616c696365', { listenPort: 7000, name: 'alice' }],
    ['0000 03 6ec3a9', { listenPort: 0, name: 'n\u00e9' }],
    ['ffff 00', { listenPort: 65535, name: '' }],
    ['0050 04 f09f9880', { listenPort: 80, name: '\u{1F600}' }],
    ['0001 03 efbbbf', { listenPort: 1, name: '\uFEFF' }],
  ];

  for (const [bytes, hello] of vectors) {
    it(`encodes and decodes ${bytes}`, () => {
      assert.equal(encodeHello(hello).toString('hex'), bytes.replace(/\s+/g, ''));
      assert.deepEqual(decodeHello(hex(bytes)), hello);
    });
  }

  it('accepts a name of exactly MAX_NAME_BYTES', () => {
    const name = 'a'.repeat(MAX_NAME_BYTES);
    assert.equal(encodeHello({ listenPort: 7000, name }).toString('hex'), '1b58' + '40' + '61'.repeat(64));
    assert.deepEqual(decodeHello(hex('1b58 40' + '61'.repeat(64))), { listenPort: 7000, name });
  });

  it('rejects a nameLen above MAX_NAME_BYTES', () => {
    assert.throws(() => decodeHello(hex('1b58 41' + '61'.repeat(65))), malformed);
  });

  it('rejects truncated payloads', () => {
    for (const bytes of ['', '1b', '1b58', '1b58 05 616c6963']) {
      assert.throws(() => decodeHello(hex(bytes)), malformed, bytes);
    }
  });

  it('rejects trailing bytes', () => {
    assert.throws(() => decodeHello(hex('1b58 05 616c696365 00')), malformed);
    assert.throws(() => decodeHello(hex('1b58 00 00')), malformed);
    assert.throws(() => decodeHello(hex('1b58 00 01 01')), malformed);
  });

  it('writes no flags byte for zero flags (the first version\'s bytes)', () => {
    assert.equal(encodeHello({ listenPort: 7000, name: 'alice', flags: 0 }).toString('hex'), '1b5805616c696365');
    assert.throws(() => encodeHello({ listenPort: 7000, name: '', flags: 256 }), malformed);
  });

  it('rejects invalid UTF-8 names', () => {
    for (const bad of ['02 c0af', '01 ff', '03 eda080', '01 80', '02 c3']) {
      assert.throws(() => decodeHello(hex('1b58' + bad)), malformed, bad);
    }
  });

  it('refuses to encode invalid fields', () => {
    assert.throws(() => encodeHello({ listenPort: 7000, name: 'a'.repeat(65) }), malformed);
    assert.throws(() => encodeHello({ listenPort: 7000, name: '\u00e9'.repeat(33) }), malformed);
    assert.throws(() => encodeHello({ listenPort: 7000, name: 'x\uD800' }), malformed);
    for (const listenPort of [-1, 65536, 1.5, Number.NaN]) {
      assert.throws(() => encodeHello({ listenPort, name: '' }), malformed, String(listenPort));
    }
  });
});
