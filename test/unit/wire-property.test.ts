import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSentinelError, type ErrorCode } from '../../src/errors.js';
import {
  FrameDecoder,
  MAX_ACK_IDS,
  decodeAck,
  decodeChat,
  decodeGoaway,
  decodeHello,
  decodePing,
  encodeAck,
  encodeChat,
  encodeGoaway,
  encodeHello,
  encodePing,
  type ChatMessage,
} from '../../src/wire/index.js';

// A hang fails the test through this timeout; the decoders are synchronous.
const LIMIT = { timeout: 60_000 };

const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
  ['HELLO', decodeHello],
  ['PING', decodePing],
  ['GOAWAY', decodeGoaway],
  ['CHAT', decodeChat],
  ['ACK', decodeAck],
];

/** Runs `fn`; any throw other than a SentinelError with one of `codes` fails the property. */
function onlyCoded(fn: () => unknown, codes: ErrorCode[]): void {
  try {
    fn();
  } catch (err) {
    assert.ok(isSentinelError(err) && codes.includes(err.code), `unexpected throw: ${String(err)}`);
  }
}

const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
// 'binary' yields well-formed code points (at most 4 UTF-8 bytes each).
const text = (maxCodePoints: number) => fc.string({ unit: 'binary', maxLength: maxCodePoints });

const helloArb = fc.record({ listenPort: fc.integer({ min: 0, max: 0xffff }), name: text(16), flags: fc.integer({ min: 1, max: 0xff }) }, { requiredKeys: ['listenPort', 'name'] });
const pingArb = fc.record({ nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) });
const goawayArb = fc.record({ code: fc.integer({ min: 0, max: 0xffff }), reason: text(64) });
const chatArb: fc.Arbitrary<ChatMessage> = fc.record({
  id: bytesOf(16),
  from: bytesOf(32),
  to: bytesOf(32),
  timestamp: fc.maxSafeNat(),
  text: text(200),
  signature: bytesOf(64),
});
const ackArb = fc.record({ ids: fc.array(bytesOf(16), { minLength: 1, maxLength: 40 }) });

/** Valid encodings of every message type, for mutation. */
const validPayload = fc.oneof(
  helloArb.map(encodeHello),
  pingArb.map(encodePing),
  goawayArb.map(encodeGoaway),
  chatArb.map(encodeChat),
  ackArb.map(encodeAck),
);

describe('wire decoders under random input', () => {
  it('throw nothing but E_PAYLOAD_MALFORMED on random bytes', LIMIT, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        for (const [, decode] of decoders) onlyCoded(() => decode(bytes), ['E_PAYLOAD_MALFORMED']);
      }),
      { numRuns: 500 },
    );
  });

  it('throw nothing but E_PAYLOAD_MALFORMED on mutated valid payloads', LIMIT, () => {
    const mutation = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), cut: fc.nat(), extra: fc.uint8Array({ maxLength: 4 }) });
    fc.assert(
      fc.property(validPayload, mutation, (payload, m) => {
        const flipped = Buffer.from(payload);
        if (flipped.length > 0) flipped[m.at % flipped.length] = m.value;
        const cut = payload.subarray(0, m.cut % (payload.length + 1));
        const longer = Buffer.concat([payload, m.extra]);
        for (const bytes of [flipped, cut, longer]) {
          for (const [, decode] of decoders) onlyCoded(() => decode(bytes), ['E_PAYLOAD_MALFORMED']);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('FrameDecoder throws only frame errors and respects its cap on random streams', LIMIT, () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 32 }), { maxLength: 20 }), (chunks) => {
        const d = new FrameDecoder({ maxPayload: 16 });
        onlyCoded(() => {
          for (const chunk of chunks) {
            for (const f of d.push(chunk)) assert.ok(f.payload.length <= 16 && f.version === 1);
          }
        }, ['E_FRAME_TOO_LARGE', 'E_FRAME_VERSION']);
      }),
      { numRuns: 500 },
    );
  });
});

describe('wire codecs round-trip random valid objects', () => {
  it('HELLO', LIMIT, () => {
    fc.assert(fc.property(helloArb, (h) => assert.deepEqual(decodeHello(encodeHello(h)), { ...h })));
  });

  it('PING', LIMIT, () => {
    fc.assert(fc.property(pingArb, (p) => assert.deepEqual(decodePing(encodePing(p)), { ...p })));
  });

  it('GOAWAY', LIMIT, () => {
    fc.assert(fc.property(goawayArb, (g) => assert.deepEqual(decodeGoaway(encodeGoaway(g)), { ...g })));
  });

  it('CHAT', LIMIT, () => {
    fc.assert(fc.property(chatArb, (c) => assert.deepEqual(decodeChat(encodeChat(c)), { ...c })));
  });

  it('ACK', LIMIT, () => {
    fc.assert(fc.property(ackArb, (a) => assert.deepEqual(decodeAck(encodeAck(a)), { ...a })));
    assert.equal(MAX_ACK_IDS, 1024);
  });
});
