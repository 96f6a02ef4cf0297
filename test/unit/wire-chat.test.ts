import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSentinelError } from '../../src/errors.js';
import {
  CHAT_MIN_SIZE,
  CHAT_SIGNING_PREFIX,
  MAX_TEXT_BYTES,
  chatSigningInput,
  decodeChat,
  encodeChat,
  type ChatMessage,
} from '../../src/wire/index.js';
import { chatProofBlock, chatSignedBody, decodeChatBatched, encodeChatBatched, encodeChatBatchedFrom, encodeProof, payloadSigningInput } from '../../src/wire/chat.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const u8 = (s: string): Uint8Array => new Uint8Array(hex(s));
const malformed = (err: unknown) => isSentinelError(err, 'E_PAYLOAD_MALFORMED');

// Hand-assembled fields of the reference vector.
const ID = '000102030405060708090a0b0c0d0e0f';
const FROM = '11'.repeat(32);
const TO = '22'.repeat(32);
const TS = '0000018bcfe56800'; // 1_700_000_000_000 ms
const SIG = '33'.repeat(64);
const PREFIX = '73656e74696e656c2f636861742f7631' + '00'; // "sentinel/chat/v1" NUL

function message(text: string, timestamp = 1_700_000_000_000): ChatMessage {
  return { id: u8(ID), from: u8(FROM), to: u8(TO), timestamp, text, signature: u8(SIG) };
}

/** A payload with an arbitrary textLen field and text bytes. */
function raw(textLen: string, text: string, ts = TS): Buffer {
  return hex(ID + FROM + TO + ts + textLen + text + SIG);
}

describe('CHAT codec', () => {
  const vector = ID + FROM + TO + TS + '00000002' + '6869' + SIG;

  it('encodes the reference vector', () => {
    assert.equal(encodeChat(message('hi')).toString('hex'), vector);
    assert.equal(CHAT_MIN_SIZE, 156);
  });

  it('decodes the reference vector', () => {
    assert.deepEqual(decodeChat(hex(vector)), message('hi'));
  });

  it('builds the signing input as prefix plus the bytes before the signature', () => {
    const { signature: _sig, ...unsigned } = message('hi');
    assert.equal(Buffer.from(CHAT_SIGNING_PREFIX, 'latin1').toString('hex'), PREFIX);
    assert.equal(chatSigningInput(unsigned).toString('hex'), PREFIX + ID + FROM + TO + TS + '00000002' + '6869');
  });

  it('round-trips empty text, multi-byte text and the largest timestamp', () => {
    for (const m of [message(''), message('h\u00e9llo \u{1F600}'), message('x', Number.MAX_SAFE_INTEGER)]) {
      assert.deepEqual(decodeChat(encodeChat(m)), m);
    }
    assert.equal(encodeChat(message('', Number.MAX_SAFE_INTEGER)).subarray(80, 88).toString('hex'), '001fffffffffffff');
  });

  it('accepts text of exactly MAX_TEXT_BYTES', () => {
    const m = message('a'.repeat(MAX_TEXT_BYTES));
    const bytes = encodeChat(m);
    assert.equal(bytes.subarray(88, 92).toString('hex'), '00010000');
    assert.deepEqual(decodeChat(bytes), m);
  });

  it('rejects payloads shorter than the fixed fields', () => {
    assert.throws(() => decodeChat(new Uint8Array(0)), malformed);
    assert.throws(() => decodeChat(hex(vector).subarray(0, CHAT_MIN_SIZE - 1)), malformed);
  });

  it('rejects a textLen that disagrees with the remaining length', () => {
    assert.throws(() => decodeChat(raw('00000003', '6869')), malformed);
    assert.throws(() => decodeChat(raw('00000001', '6869')), malformed);
    assert.throws(() => decodeChat(raw('00000000', '6869')), malformed);
  });

  it('rejects a huge textLen before allocating', () => {
    assert.throws(() => decodeChat(raw('ffffffff', '')), malformed);
    assert.throws(() => decodeChat(raw('00010001', '61'.repeat(MAX_TEXT_BYTES + 1))), malformed);
  });

  it('rejects trailing bytes after the signature', () => {
    assert.throws(() => decodeChat(hex(vector + '00')), malformed);
  });

  it('rejects a timestamp that is not a safe integer', () => {
    assert.throws(() => decodeChat(raw('00000000', '', '0020000000000000')), malformed);
    assert.throws(() => decodeChat(raw('00000000', '', 'ffffffffffffffff')), malformed);
  });

  it('rejects invalid UTF-8 text', () => {
    const cases: Array<[string, string]> = [['00000002', 'c0af'], ['00000001', 'ff'], ['00000003', 'eda080'], ['00000002', 'e282']];
    for (const [len, bad] of cases) {
      assert.throws(() => decodeChat(raw(len, bad)), malformed, bad);
    }
  });

  it('returns byte fields that do not alias the payload', () => {
    const payload = hex(vector);
    const m = decodeChat(payload);
    payload.fill(0);
    assert.deepEqual(m, message('hi'));
  });

  it('refuses to encode over-long text with E_TEXT_TOO_LONG', () => {
    const long = message('a'.repeat(MAX_TEXT_BYTES + 1));
    assert.throws(() => encodeChat(long), (err) => isSentinelError(err, 'E_TEXT_TOO_LONG'));
    const { signature: _sig, ...unsigned } = long;
    assert.throws(() => chatSigningInput(unsigned), (err) => isSentinelError(err, 'E_TEXT_TOO_LONG'));
    // Fewer UTF-16 units than the cap, but more UTF-8 bytes.
    assert.throws(() => encodeChat(message('\u00e9'.repeat(32_769))), (err) => isSentinelError(err, 'E_TEXT_TOO_LONG'));
  });

  it('refuses to encode invalid fields', () => {
    const bad: Array<Partial<ChatMessage>> = [
      { id: new Uint8Array(15) },
      { from: new Uint8Array(33) },
      { to: new Uint8Array(0) },
      { signature: new Uint8Array(63) },
      { timestamp: -1 },
      { timestamp: 1.5 },
      { timestamp: Number.MAX_SAFE_INTEGER + 1 },
      { text: 'a\uD83D' },
    ];
    for (const patch of bad) {
      assert.throws(() => encodeChat({ ...message('hi'), ...patch }), malformed, JSON.stringify(Object.keys(patch)));
    }
  });
});

describe('signing input from the payload (receiver, no re-encoding)', () => {
  it('equals chatSigningInput of the decoded message, for CHAT and CHAT_BATCHED, ASCII and multi-byte text', () => {
    for (const text of ['', 'hi', 'h\u00e9llo \u{1F600}', 'x'.repeat(1000)]) {
      const m = message(text);
      const proof = { index: 2, path: [new Uint8Array(32).fill(7), new Uint8Array(32).fill(8)] };
      for (const [payload, decoded] of [
        [encodeChat(m), decodeChat(encodeChat(m))],
        [encodeChatBatched({ ...m, proof }), decodeChatBatched(encodeChatBatched({ ...m, proof }))],
      ] as const) {
        const expected = chatSigningInput(decoded);
        assert.deepEqual(payloadSigningInput(payload), expected, text);
        assert.deepEqual(Buffer.concat([Buffer.from(CHAT_SIGNING_PREFIX, 'latin1'), chatSignedBody(payload)]), expected);
      }
    }
  });

  it('is a view of the payload (no copy) ending where the text ends', () => {
    const payload = encodeChat(message('hi'));
    const body = chatSignedBody(payload);
    assert.equal(body.length, 92 + 2);
    assert.equal(body.buffer, payload.buffer);
    assert.equal(body.byteOffset, payload.byteOffset);
  });
});

describe('CHAT_BATCHED from parts already encoded (sender) and its proof block (receiver)', () => {
  const proof = { index: 5, path: [1, 2, 3].map((v) => new Uint8Array(32).fill(v)) };

  it('gives the same payload as encodeChatBatched, and the proof block encodeProof gives', () => {
    for (const text of ['', 'hi', 'h\u00e9llo \u{1F600}']) {
      const m = { ...message(text), proof };
      const { signature: _s, proof: _p, ...unsigned } = m;
      const payload = encodeChatBatchedFrom(chatSigningInput(unsigned), encodeProof(proof), m.signature);
      assert.deepEqual(payload, encodeChatBatched(m), text);
      const block = chatProofBlock(payload);
      assert.deepEqual(Buffer.from(block), encodeProof(proof));
      payload.fill(0);
      assert.deepEqual(Buffer.from(block), encodeProof(proof), 'a copy, not a view');
    }
  });

  it('refuses parts of the wrong shape', () => {
    const { signature, proof: _p, ...unsigned } = { ...message('hi'), proof };
    const input = chatSigningInput(unsigned);
    const block = encodeProof(proof);
    const bad: Array<[Uint8Array, Uint8Array, Uint8Array]> = [
      [input.subarray(1), block, signature],
      [Buffer.concat([input, Buffer.from('x')]), block, signature],
      [input, block.subarray(0, block.length - 1), signature],
      [input, Buffer.from([0, 0, 11]), signature],
      [input, block, signature.subarray(1)],
    ];
    for (const [i, b, sig] of bad) assert.throws(() => encodeChatBatchedFrom(i, b, sig), malformed);
  });
});
