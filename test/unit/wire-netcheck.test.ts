/** Netcheck codecs: hex vectors, bounds, and random bytes that only ever fail as E_PAYLOAD_MALFORMED. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSentinelError } from '../../src/errors.js';
import {
  MAX_OBSERVED_SIZE,
  ProbeOutcome,
  decodeNetcheckRequest,
  decodeNetcheckResult,
  decodeObserved,
  encodeNetcheckRequest,
  encodeNetcheckResult,
  encodeObserved,
  FrameType,
  classifyFrameType,
} from '../../src/wire/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const malformed = (e: unknown): boolean => isSentinelError(e, 'E_PAYLOAD_MALFORMED');

describe('netcheck codecs: hex vectors', () => {
  it('NETCHECK_REQUEST', () => {
    const b = encodeNetcheckRequest({ reqId: 9, flags: 1 });
    assert.equal(hex(b), '00000009' + '01');
    assert.deepEqual(decodeNetcheckRequest(b), { reqId: 9, flags: 1 });
    // The request names no target: a longer payload is malformed, not an address.
    assert.throws(() => decodeNetcheckRequest(Buffer.from('0000000901' + '04cb00710a22b8', 'hex')), malformed);
    assert.throws(() => decodeNetcheckRequest(Buffer.from('00000009', 'hex')), malformed);
  });

  it('NETCHECK_RESULT with an IPv6 probe address', () => {
    const m = { reqId: 9, probePort: 8889, inbound: ProbeOutcome.TIMEOUT, probe6: [{ host: '2001:db8:ff::a', port: 8889 }] };
    const b = encodeNetcheckResult(m);
    assert.equal(hex(b), '00000009' + '22b9' + '04' + '01' + '06' + '20010db800ff0000000000000000000a' + '22b9');
    assert.deepEqual(decodeNetcheckResult(b), m);
  });

  it('NETCHECK_RESULT of a signaler without a probe port', () => {
    const m = { reqId: 1, probePort: 0, inbound: ProbeOutcome.NOT_TESTED, probe6: [] };
    assert.equal(hex(encodeNetcheckResult(m)), '00000001' + '0000' + '00' + '00');
    assert.deepEqual(decodeNetcheckResult(encodeNetcheckResult(m)), m);
  });

  it('NETCHECK_RESULT refuses an unknown outcome and too many probe addresses', () => {
    assert.throws(() => decodeNetcheckResult(Buffer.from('00000001' + '22b9' + '06' + '00', 'hex')), malformed);
    const three = '03' + ('06' + '20010db8000000000000000000000001' + '22b9').repeat(3);
    assert.throws(() => decodeNetcheckResult(Buffer.from('00000001' + '22b9' + '01' + three, 'hex')), malformed);
    assert.throws(() => encodeNetcheckResult({ reqId: 1, probePort: 1, inbound: 1, probe6: [{ host: '2001:db8::1', port: 1 }, { host: '2001:db8::2', port: 1 }, { host: '2001:db8::3', port: 1 }] }), malformed);
  });

  it('OBSERVED', () => {
    const b = encodeObserved({ host: '203.0.113.11', port: 40000 });
    assert.equal(hex(b), Buffer.from('SNTLOBS\x01', 'latin1').toString('hex') + '04cb00710b9c40');
    assert.deepEqual(decodeObserved(b), { host: '203.0.113.11', port: 40000 });
    assert.equal(encodeObserved({ host: '2001:db8:1::a', port: 1 }).length, MAX_OBSERVED_SIZE);
    const wrongMagic = Buffer.from(b);
    wrongMagic[0] = 0x54;
    assert.throws(() => decodeObserved(wrongMagic), malformed);
    assert.throws(() => decodeObserved(b.subarray(0, b.length - 1)), malformed);
    assert.throws(() => decodeObserved(Buffer.concat([b, Buffer.from([0])])), malformed);
  });

  it('the frame types are optional: a signaler that predates them ignores the request', () => {
    assert.equal(FrameType.NETCHECK_REQUEST, 0x88);
    assert.equal(FrameType.NETCHECK_RESULT, 0x89);
    assert.equal(classifyFrameType(0x88), 'handle');
    assert.ok(0x88 >= 0x80 && 0x89 >= 0x80, 'optional range');
  });

  it('random bytes throw nothing but E_PAYLOAD_MALFORMED', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const decode of [decodeNetcheckRequest, decodeNetcheckResult, decodeObserved]) {
          try {
            decode(bytes);
          } catch (err) {
            assert.ok(malformed(err), String(err));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
