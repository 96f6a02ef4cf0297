import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { MAX_REFUSED_IDS, RefuseCode, decodeChatRefused, encodeChatRefused, isFinalRefusal } from '../../src/wire/index.js';

const id = (b: number): Uint8Array => new Uint8Array(16).fill(b);

describe('CHAT_REFUSED codec', () => {
  it('has the assigned codes, of which only REFUSED is final', () => {
    assert.deepEqual({ ...RefuseCode }, { REFUSED: 1, QUOTA: 2, STORE_FULL: 3, RATE_LIMITED: 4 });
    assert.equal(isFinalRefusal(RefuseCode.REFUSED), true);
    for (const c of [RefuseCode.QUOTA, RefuseCode.STORE_FULL, RefuseCode.RATE_LIMITED, 99]) assert.equal(isFinalRefusal(c), false);
  });

  it('encodes the documented layout (hex vector) and decodes it back', () => {
    const bytes = encodeChatRefused({ code: RefuseCode.QUOTA, ids: [id(0xaa), id(0x01)] });
    assert.equal(bytes.toString('hex'), '02' + '0002' + 'aa'.repeat(16) + '01'.repeat(16));
    const back = decodeChatRefused(bytes);
    assert.equal(back.code, 2);
    assert.deepEqual(back.ids.map((b) => Buffer.from(b).toString('hex')), ['aa'.repeat(16), '01'.repeat(16)]);
  });

  it('keeps an unknown code as a number', () => {
    assert.equal(decodeChatRefused(Buffer.from('7f0001' + '00'.repeat(16), 'hex')).code, 0x7f);
  });

  it('refuses malformed payloads with E_PAYLOAD_MALFORMED', () => {
    for (const hex of ['', '01', '010000', '010001' + '00'.repeat(15), '010001' + '00'.repeat(17), '01ffff' + '00'.repeat(16)]) {
      assert.throws(() => decodeChatRefused(Buffer.from(hex, 'hex')), (e) => isSentinelError(e, 'E_PAYLOAD_MALFORMED'), hex);
    }
    assert.throws(() => encodeChatRefused({ code: 1, ids: [] }), (e) => isSentinelError(e, 'E_PAYLOAD_MALFORMED'));
    assert.throws(() => encodeChatRefused({ code: 1, ids: Array.from({ length: MAX_REFUSED_IDS + 1 }, () => id(1)) }), (e) => isSentinelError(e, 'E_PAYLOAD_MALFORMED'));
    assert.throws(() => encodeChatRefused({ code: 256, ids: [id(1)] }), (e) => isSentinelError(e, 'E_PAYLOAD_MALFORMED'));
  });
});
