import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSentinelError } from '../../src/errors.js';
import { MAX_ACK_IDS, decodeAck, encodeAck } from '../../src/wire/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const u8 = (s: string): Uint8Array => new Uint8Array(hex(s));
const malformed = (err: unknown) => isSentinelError(err, 'E_PAYLOAD_MALFORMED');

describe('ACK codec', () => {
  const id0 = '000102030405060708090a0b0c0d0e0f';

  it('encodes and decodes one id', () => {
    const bytes = '0001' + id0;
    assert.equal(encodeAck({ ids: [u8(id0)] }).toString('hex'), bytes);
    assert.deepEqual(decodeAck(hex(bytes)), { ids: [u8(id0)] });
  });

  it('encodes and decodes two ids in order', () => {
    const bytes = '0002' + '00'.repeat(16) + 'ff'.repeat(16);
    const ids = [new Uint8Array(16), new Uint8Array(16).fill(0xff)];
    assert.equal(encodeAck({ ids }).toString('hex'), bytes);
    assert.deepEqual(decodeAck(hex(bytes)), { ids });
  });

  it('accepts exactly MAX_ACK_IDS ids', () => {
    const bytes = hex('0400' + id0.repeat(1024));
    const ack = decodeAck(bytes);
    assert.equal(ack.ids.length, MAX_ACK_IDS);
    assert.deepEqual(encodeAck(ack), bytes);
  });

  it('rejects count 0 and count above MAX_ACK_IDS', () => {
    assert.throws(() => decodeAck(hex('0000')), malformed);
    assert.throws(() => decodeAck(hex('0401' + id0.repeat(1025))), malformed);
    assert.throws(() => decodeAck(hex('ffff')), malformed);
  });

  it('rejects truncated payloads and count mismatches', () => {
    for (const bytes of ['', '00', '0001', '0001' + id0.slice(2), '0002' + id0]) {
      assert.throws(() => decodeAck(hex(bytes)), malformed, bytes);
    }
  });

  it('rejects trailing bytes', () => {
    assert.throws(() => decodeAck(hex('0001' + id0 + '00')), malformed);
  });

  it('returns ids that do not alias the payload', () => {
    const payload = hex('0001' + id0);
    const ack = decodeAck(payload);
    payload.fill(0xee);
    assert.deepEqual(ack.ids[0], u8(id0));
  });

  it('refuses to encode a bad count or id size', () => {
    assert.throws(() => encodeAck({ ids: [] }), malformed);
    assert.throws(() => encodeAck({ ids: Array.from({ length: 1025 }, () => new Uint8Array(16)) }), malformed);
    assert.throws(() => encodeAck({ ids: [new Uint8Array(15)] }), malformed);
    assert.throws(() => encodeAck({ ids: [new Uint8Array(17)] }), malformed);
  });
});
