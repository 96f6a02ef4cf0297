import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSentinelError } from '../../src/errors.js';
import {
  FrameType,
  MAX_PACKETS_PER_FRAME,
  MAX_PACKET_SIZE,
  MAX_PAYLOAD_SIZE,
  VPN_ADDR_SIZE,
  decodePackets,
  decodeVpnAddr,
  encodePacketBatches,
  encodePackets,
  encodeVpnAddr,
  encodeFrame,
} from '../../src/wire/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const malformed = (err: unknown) => isSentinelError(err, 'E_PAYLOAD_MALFORMED');
const LIMIT = { timeout: 60_000 };

/** Throws unless `fn` succeeds or throws E_PAYLOAD_MALFORMED. */
function onlyMalformed(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(malformed(err), `unexpected throw: ${String(err)}`);
  }
}

describe('PACKETS codec (0x30)', () => {
  it('has its type byte', () => {
    assert.equal(FrameType.PACKETS, 0x30);
    assert.equal(MAX_PACKETS_PER_FRAME, 256);
    assert.equal(MAX_PACKET_SIZE, 65535);
  });

  it('encodes and decodes one packet', () => {
    const bytes = '0001 0003 aabbcc';
    assert.equal(encodePackets([hex('aabbcc')]).toString('hex'), hex(bytes).toString('hex'));
    assert.deepEqual(decodePackets(hex(bytes)), [hex('aabbcc')]);
  });

  it('encodes and decodes two packets in order, as a whole frame', () => {
    const payload = '0002 0001 45 0004 60000000';
    const packets = [hex('45'), hex('60000000')];
    assert.equal(encodeFrame(FrameType.PACKETS, encodePackets(packets)).toString('hex'), hex('0000000b 01 30' + payload).toString('hex'));
    assert.deepEqual(decodePackets(hex(payload)), packets);
  });

  it('matches the docs/PROTOCOL.md example (one IPv4/UDP packet)', () => {
    const packet = hex('450000201234400040119d9e6455d9126477e91b9c400035000c000070696e67');
    const frame = '00000024 01 30 | 0001 0020 450000201234400040119d9e6455d9126477e91b9c400035000c000070696e67';
    assert.equal(encodeFrame(FrameType.PACKETS, encodePackets([packet])).toString('hex'), hex(frame.replace('|', '')).toString('hex'));
  });

  it('accepts 256 packets and a 65535-byte packet', () => {
    const many = Array.from({ length: 256 }, (_, i) => Buffer.of(i));
    assert.deepEqual(decodePackets(encodePackets(many)), many);
    const big = Buffer.alloc(65535, 7);
    const payload = encodePackets([big]);
    assert.equal(payload.length, 2 + 2 + 65535);
    assert.deepEqual(decodePackets(payload), [big]);
  });

  it('rejects a bad count', () => {
    assert.throws(() => decodePackets(hex('0000')), malformed);
    assert.throws(() => decodePackets(hex('0101' + '000100'.repeat(257))), malformed);
    assert.throws(() => decodePackets(hex('ffff')), malformed);
  });

  it('rejects empty entries, truncation and trailing bytes', () => {
    for (const bytes of ['', '00', '0001', '000100', '0001 0000', '0001 0002 aa', '0002 0001 aa', '0002 0001 aa 00', '0001 0001 aa bb', '0001 0001 aa 0000']) {
      assert.throws(() => decodePackets(hex(bytes)), malformed, bytes);
    }
  });

  it('rejects a payload over the frame cap', () => {
    assert.throws(() => decodePackets(Buffer.alloc(MAX_PAYLOAD_SIZE + 1)), malformed);
  });

  it('returns views of the payload (no copy on the data path)', () => {
    const payload = hex('0001 0002 aabb');
    const [packet] = decodePackets(payload);
    payload[4] = 0xee;
    assert.deepEqual(packet, hex('eebb'));
  });

  it('refuses to encode bad counts, sizes and totals', () => {
    assert.throws(() => encodePackets([]), malformed);
    assert.throws(() => encodePackets(Array.from({ length: 257 }, () => Buffer.of(1))), malformed);
    assert.throws(() => encodePackets([Buffer.alloc(0)]), malformed);
    assert.throws(() => encodePackets([Buffer.alloc(65536)]), malformed);
    // 17 packets of 65535 bytes: 2 + 17 * 65537 > 1 MiB
    assert.throws(() => encodePackets(Array.from({ length: 17 }, () => Buffer.alloc(65535))), malformed);
  });

  it('splits batches at 256 packets and at the frame cap, keeping order', () => {
    assert.deepEqual(encodePacketBatches([]), []);
    const small = Array.from({ length: 600 }, (_, i) => Buffer.of(i & 0xff, i >> 8));
    const payloads = encodePacketBatches(small);
    assert.deepEqual(payloads.map((p) => decodePackets(p).length), [256, 256, 88]);
    assert.deepEqual(payloads.flatMap((p) => decodePackets(p)), small);
    const big = Array.from({ length: 20 }, (_, i) => Buffer.alloc(65535, i));
    const bigPayloads = encodePacketBatches(big);
    assert.deepEqual(bigPayloads.map((p) => decodePackets(p).length), [15, 5]);
    assert.ok(bigPayloads.every((p) => p.length <= MAX_PAYLOAD_SIZE));
    assert.deepEqual(bigPayloads.flatMap((p) => decodePackets(p)), big);
    assert.throws(() => encodePacketBatches([Buffer.of(1), Buffer.alloc(0)]), malformed);
  });
});

describe('VPN_ADDR codec (0x31)', () => {
  const addrs = { ipv4: '100.85.217.18', ipv6: 'fd58:1b41:5e5c:0:dacf:a0c3:86a8:2302' };
  const bytes = '6455d912 fd581b415e5c0000dacfa0c386a82302';

  it('encodes and decodes the addresses', () => {
    assert.equal(FrameType.VPN_ADDR, 0x31);
    assert.equal(VPN_ADDR_SIZE, 20);
    assert.equal(encodeVpnAddr(addrs).toString('hex'), hex(bytes).toString('hex'));
    assert.equal(encodeFrame(FrameType.VPN_ADDR, encodeVpnAddr(addrs)).toString('hex'), hex('00000014 01 31' + bytes).toString('hex'));
    assert.deepEqual(decodeVpnAddr(hex(bytes)), addrs);
  });

  it('decodes to canonical text and accepts any address text on encode', () => {
    const payload = encodeVpnAddr({ ipv4: '100.64.0.1', ipv6: 'FD58:1B41:5E5C:0000:0000:0000:0000:0001' });
    assert.deepEqual(decodeVpnAddr(payload), { ipv4: '100.64.0.1', ipv6: 'fd58:1b41:5e5c::1' });
  });

  it('rejects any other size', () => {
    for (const b of ['', '6455d912', bytes.replace(/\s/g, '').slice(2), bytes + '00']) {
      assert.throws(() => decodeVpnAddr(hex(b)), malformed, b);
    }
  });

  it('refuses to encode non-addresses or swapped families', () => {
    assert.throws(() => encodeVpnAddr({ ipv4: addrs.ipv6, ipv6: addrs.ipv4 }), malformed);
    assert.throws(() => encodeVpnAddr({ ipv4: '100.64.0.256', ipv6: addrs.ipv6 }), malformed);
    assert.throws(() => encodeVpnAddr({ ipv4: addrs.ipv4, ipv6: 'fd58::1::2' }), malformed);
  });
});

describe('VPN codecs under random input', () => {
  it('throw nothing but E_PAYLOAD_MALFORMED on random bytes', LIMIT, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlyMalformed(() => decodePackets(bytes));
        onlyMalformed(() => decodeVpnAddr(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('throw nothing but E_PAYLOAD_MALFORMED on mutated valid PACKETS payloads', LIMIT, () => {
    const packetsArb = fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(packetsArb, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (packets, at, value, cut) => {
        const payload = encodePackets(packets);
        const flipped = Buffer.from(payload);
        flipped[at % flipped.length] = value;
        onlyMalformed(() => decodePackets(flipped));
        onlyMalformed(() => decodePackets(payload.subarray(0, cut % (payload.length + 1))));
      }),
      { numRuns: 300 },
    );
  });

  it('round-trip PACKETS', LIMIT, () => {
    const packetsArb = fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(packetsArb, (packets) => {
        assert.deepEqual(decodePackets(encodePackets(packets)), packets.map((p) => Buffer.from(p)));
      }),
    );
  });

  it('round-trip VPN_ADDR (canonical text is a fixed point)', LIMIT, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (bytes) => {
        const addr = decodeVpnAddr(bytes);
        assert.deepEqual(encodeVpnAddr(addr), Buffer.from(bytes));
        assert.deepEqual(decodeVpnAddr(encodeVpnAddr(addr)), addr);
      }),
    );
  });
});
