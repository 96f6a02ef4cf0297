import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSentinelError } from '../../src/errors.js';
import {
  decodeLookup,
  decodeLookupResult,
  decodePunchRequest,
  decodePunchStart,
  decodeRegister,
  decodeRegistered,
  decodeSignalError,
  encodeLookup,
  encodeLookupResult,
  encodePunchStart,
  encodeRegister,
  encodeRegistered,
  encodeSignalError,
  MAX_ENDPOINTS,
} from '../../src/wire/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const key = new Uint8Array(32).fill(0xab);
const malformed = (e: unknown): boolean => isSentinelError(e, 'E_PAYLOAD_MALFORMED');

describe('signaler codecs: hex vectors', () => {
  it('REGISTER', () => {
    const b = encodeRegister({ listenPort: 8443, local: [{ host: '192.168.1.5', port: 8443 }, { host: 'fe80::1', port: 80 }] });
    assert.equal(hex(b), '20fb' + '02' + '04c0a80105' + '20fb' + '06fe800000000000000000000000000001' + '0050');
    assert.deepEqual(decodeRegister(b), { listenPort: 8443, local: [{ host: '192.168.1.5', port: 8443 }, { host: 'fe80::1', port: 80 }] });
  });
  it('REGISTERED', () => {
    const b = encodeRegistered({ observed: { host: '203.0.113.7', port: 40000 } });
    assert.equal(hex(b), '04cb0071079c40');
    assert.deepEqual(decodeRegistered(b), { observed: { host: '203.0.113.7', port: 40000 } });
  });
  it('REGISTERED with the relay limits of a signaler that relays', () => {
    const m = { observed: { host: '203.0.113.7', port: 40000 }, relay: { maxCircuits: 16, bytesPerSecond: 1048576, idleTimeoutS: 300 } };
    const b = encodeRegistered(m);
    assert.equal(hex(b), '04cb0071079c40' + '0010' + '00100000' + '0000012c');
    assert.deepEqual(decodeRegistered(b), m);
    // A partial limits block is malformed.
    assert.throws(() => decodeRegistered(Buffer.from('04cb0071079c400010', 'hex')), malformed);
    assert.throws(() => decodeRegistered(Buffer.from('04cb0071079c40' + '0010' + '00100000' + '0000012c' + '00', 'hex')), malformed);
  });
  it('LOOKUP and PUNCH_REQUEST', () => {
    const b = encodeLookup({ reqId: 7, target: key });
    assert.equal(hex(b), '00000007' + 'ab'.repeat(32));
    assert.deepEqual(decodeLookup(b), { reqId: 7, target: key });
    assert.deepEqual(decodePunchRequest(b), { reqId: 7, target: key });
  });
  it('LOOKUP_RESULT', () => {
    const m = { reqId: 1, target: key, public: { host: '198.51.100.2', port: 1 }, local: [] };
    const b = encodeLookupResult(m);
    assert.equal(hex(b), '00000001' + 'ab'.repeat(32) + '04c6336402' + '0001' + '00');
    assert.deepEqual(decodeLookupResult(b), m);
  });
  it('PUNCH_START', () => {
    const m = { reqId: 0, peer: key, delayMs: 250, attempts: 10, intervalMs: 200, listenPort: 8443, public: { host: '::1', port: 8443 }, local: [{ host: '10.0.0.2', port: 8443 }], sameNat: true };
    const b = encodePunchStart(m);
    assert.equal(hex(b), '00000000' + 'ab'.repeat(32) + '000000fa' + '000a' + '00c8' + '20fb' + '06' + '00'.repeat(15) + '01' + '20fb' + '01' + '040a000002' + '20fb' + '01');
    assert.deepEqual(decodePunchStart(b), m);
  });
  it('SIGNAL_ERROR', () => {
    const b = encodeSignalError({ reqId: 3, code: 1, reason: 'no' });
    assert.equal(hex(b), '00000003' + '0001' + '0002' + '6e6f');
    assert.deepEqual(decodeSignalError(b), { reqId: 3, code: 1, reason: 'no' });
  });
});

describe('signaler codecs: rejections', () => {
  it('rejects unknown families, too many endpoints, trailing bytes, bad flags', () => {
    assert.throws(() => decodeRegistered(Buffer.from('05c0a8010520fb', 'hex')), malformed);
    assert.throws(() => decodeRegister(Buffer.from('20fb' + (MAX_ENDPOINTS + 1).toString(16).padStart(2, '0'), 'hex')), malformed);
    assert.throws(() => decodeLookup(Buffer.concat([encodeLookup({ reqId: 1, target: key }), Buffer.from([0])])), malformed);
    const ps = encodePunchStart({ reqId: 0, peer: key, delayMs: 0, attempts: 1, intervalMs: 1, listenPort: 1, public: { host: '1.2.3.4', port: 5 }, local: [], sameNat: false });
    ps[ps.length - 1] = 2;
    assert.throws(() => decodePunchStart(ps), malformed);
    assert.throws(() => decodeSignalError(Buffer.from('00000003000100056e6f', 'hex')), malformed);
  });
  it('refuses to encode a non-IP host', () => {
    assert.throws(() => encodeRegistered({ observed: { host: 'example.com', port: 1 } }), malformed);
  });
  it('random bytes never make a decoder throw anything but E_PAYLOAD_MALFORMED', () => {
    const decoders = [decodeRegister, decodeRegistered, decodeLookup, decodeLookupResult, decodePunchStart, decodeSignalError];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const d of decoders) {
          try {
            d(bytes);
          } catch (e) {
            if (!malformed(e)) return false;
          }
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
  it('round-trips random IPv4/IPv6 endpoints', () => {
    const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]`).hostname.slice(1, -1));
    const v4 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }).map((b) => b.join('.'));
    const ep = fc.record({ host: fc.oneof(v4, v6), port: fc.integer({ min: 0, max: 65535 }) }).map((r) => ({ host: r.host, port: r.port }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.array(ep, { maxLength: MAX_ENDPOINTS }), (listenPort, local) => {
        assert.deepEqual(decodeRegister(encodeRegister({ listenPort, local })), { listenPort, local });
      }),
    );
  });
});
