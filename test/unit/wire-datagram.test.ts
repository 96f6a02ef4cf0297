/**
 * The datagram path's wire (src/wire/datagram.ts) and its AEAD (src/vpn/datagram-crypto.ts):
 * exact bytes, the length and type checks made before anything is allocated, and
 * DGRAM_OFFER round trips. The sealed vectors were checked with Python's `cryptography`
 * AESGCM (an independent implementation).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SentinelError } from '../../src/errors.js';
import {
  DATAGRAM_OVERHEAD,
  DGRAM_OFFER_SIZE,
  DatagramType,
  FrameType,
  HELLO_FLAG_DGRAM,
  decodeDgramOffer,
  encodeDgramOffer,
  readDatagramHeader,
  writeDatagramHeader,
} from '../../src/wire/index.js';
import { deriveKeys, keyingContext, openDatagram, sealDatagram } from '../../src/vpn/datagram-crypto.js';

const KEY = Buffer.alloc(32, 7);
const isMalformed = (e: unknown): boolean => e instanceof SentinelError && e.code === 'E_PAYLOAD_MALFORMED';

describe('datagram wire', () => {
  it('allocates frame type 0x33 and HELLO flag 0x08', () => {
    assert.equal(FrameType.DGRAM_OFFER, 0x33);
    assert.equal(HELLO_FLAG_DGRAM, 0x08);
    assert.equal(DATAGRAM_OVERHEAD, 29);
  });

  it('seals a data datagram to the exact bytes (header, ciphertext, tag)', () => {
    const d = sealDatagram(KEY, DatagramType.DATA, 0x01020304, 0x01_02030405, Buffer.from('hi'));
    assert.equal(d.toString('hex'), '01' + '01020304' + '0000000102030405' + 'e47e' + '614e829e8b1f284f5ed8acab2a9eb90c');
    assert.deepEqual(openDatagram(KEY, d), Buffer.from('hi'));
  });

  it('seals a probe to the exact bytes', () => {
    const d = sealDatagram(KEY, DatagramType.PROBE, 0xdeadbeef, 0, Buffer.from('0000000000000001', 'hex'));
    assert.equal(d.toString('hex'), '02deadbeef0000000000000000' + '61d8a4b2fb920be9' + 'cfb3381d0779b6752e27a8eefab389fa');
    const h = readDatagramHeader(d, 1400);
    assert.deepEqual(h, { type: DatagramType.PROBE, index: 0xdeadbeef, counter: 0 });
  });

  it('refuses a changed byte anywhere: header (AAD), ciphertext, tag, or another key', () => {
    const d = sealDatagram(KEY, DatagramType.DATA, 1, 5, Buffer.from('payload'));
    for (const i of [0, 4, 12, 13, d.length - 1]) {
      const bad = Buffer.from(d);
      bad[i]! ^= 0x01;
      assert.equal(openDatagram(KEY, bad), null, `byte ${i}`);
    }
    assert.equal(openDatagram(Buffer.alloc(32, 8), d), null);
  });

  it('reads headers only when the length fits the type, before any allocation', () => {
    const data = (n: number): Buffer => {
      const b = Buffer.alloc(n + DATAGRAM_OVERHEAD);
      writeDatagramHeader(b, DatagramType.DATA, 9, 3);
      return b;
    };
    assert.equal(readDatagramHeader(Buffer.alloc(28), 1400), 'bad_length');
    assert.equal(readDatagramHeader(data(0), 1400), 'bad_length', 'empty data');
    assert.deepEqual(readDatagramHeader(data(1400), 1400), { type: 1, index: 9, counter: 3 });
    assert.equal(readDatagramHeader(data(1401), 1400), 'bad_length', 'over the MTU');
    const probe = Buffer.alloc(8 + DATAGRAM_OVERHEAD + 1);
    writeDatagramHeader(probe, DatagramType.PROBE, 9, 3);
    assert.equal(readDatagramHeader(probe, 1400), 'bad_length', 'probe body not 8 bytes');
    const unknown = data(10);
    unknown[0] = 0x04;
    assert.equal(readDatagramHeader(unknown, 1400), 'bad_type');
    const huge = data(10);
    huge.writeUInt32BE(0x20_0000, 5); // counter 2^53
    assert.equal(readDatagramHeader(huge, 1400), 'bad_type');
    huge.writeUInt32BE(0x1f_ffff, 5);
    huge.writeUInt32BE(0xffff_ffff, 9);
    assert.equal((readDatagramHeader(huge, 1400) as { counter: number }).counter, Number.MAX_SAFE_INTEGER);
    assert.throws(() => writeDatagramHeader(Buffer.alloc(13), 1, 0, 2 ** 53), RangeError);
  });

  it('encodes and decodes DGRAM_OFFER exactly and strictly', () => {
    const o = { version: 1, port: 7000, index: 0xa1b2c3d4, epoch: 0 };
    const bytes = encodeDgramOffer(o);
    assert.equal(bytes.toString('hex'), '01' + '1b58' + 'a1b2c3d4' + '00000000');
    assert.equal(bytes.length, DGRAM_OFFER_SIZE);
    assert.deepEqual(decodeDgramOffer(bytes), o);
    assert.throws(() => decodeDgramOffer(bytes.subarray(0, 10)), isMalformed);
    assert.throws(() => decodeDgramOffer(Buffer.concat([bytes, Buffer.alloc(1)])), isMalformed);
    assert.throws(() => decodeDgramOffer(Buffer.from('010000a1b2c3d400000000', 'hex')), isMalformed, 'port 0');
    assert.throws(() => encodeDgramOffer({ ...o, port: 0 }), isMalformed);
    assert.throws(() => encodeDgramOffer({ ...o, index: 2 ** 32 }), isMalformed);
    assert.deepEqual(decodeDgramOffer(encodeDgramOffer({ ...o, version: 2 })).version, 2, 'an unknown version is the receiver’s to ignore');
  });

  it('derives crossed keys: what one end sends with, the other receives with', () => {
    const secret = Buffer.alloc(64);
    for (let i = 0; i < 64; i++) secret[i] = i;
    const seen: Buffer[] = [];
    const source = (n: number, label: string, ctx: Buffer): Buffer => {
      assert.equal(label, 'EXPORTER-sentinel-vpn-datagram-v1');
      assert.equal(n, 64);
      seen.push(ctx);
      return secret;
    };
    const dialer = deriveKeys(source, true, 0, 11, 22)!;
    const acceptor = deriveKeys(source, false, 0, 22, 11)!;
    assert.deepEqual(seen[0], seen[1], 'the same context on both ends');
    assert.deepEqual(seen[0], keyingContext(0, 11, 22));
    assert.equal(keyingContext(5, 11, 22).toString('hex'), '00000005' + '0000000b' + '00000016');
    assert.deepEqual(dialer.send, acceptor.receive);
    assert.deepEqual(dialer.receive, acceptor.send);
    assert.notDeepEqual(dialer.send, dialer.receive);
    assert.equal(deriveKeys(() => null, true, 0, 1, 2), null);
  });
});
