import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalIp, formatIpv4, formatIpv6, parseIpPacket, parseIpv4, parseIpv6 } from '../../src/vpn/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const LIMIT = { timeout: 60_000 };

// Built independently with python3 (struct + ipaddress); the IPv4 header checksum is valid.
const V4_UDP = hex('4500 0020 1234 4000 4011 9d9e 6455d912 6477e91b  9c40 0035 000c 0000 70696e67');
const V6_UDP = hex('6000 0000 000c 11 40 fd581b415e5c0000dacfa0c386a82302 fd581b415e5c000042319c5538b5b032  9c40 0035 000c 0000 70696e67');

describe('IP address text', () => {
  it('formats IPv6 per RFC 5952', () => {
    const cases: Array<[string, string]> = [
      ['00000000000000000000000000000000', '::'],
      ['00000000000000000000000000000001', '::1'],
      ['20010db8000000000000000000000001', '2001:db8::1'],
      ['20010db8000000010000000000000001', '2001:db8:0:1::1'], // longest run wins
      ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // first of two equal runs
      ['20010db8000100010001000100010000', '2001:db8:1:1:1:1:1:0'], // a single zero group is not compressed
      ['20010DB8AAAA0BBB0CCC0DDD0EEE0FFF'.toLowerCase(), '2001:db8:aaaa:bbb:ccc:ddd:eee:fff'], // no leading zeros
      ['fe800000000000000000000000000000', 'fe80::'],
      ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'], // IPv4-mapped: mixed notation
      ['fd581b415e5c0000dacfa0c386a82302', 'fd58:1b41:5e5c:0:dacf:a0c3:86a8:2302'],
    ];
    for (const [bytes, text] of cases) {
      assert.equal(formatIpv6(hex(bytes)), text, bytes);
      assert.deepEqual(parseIpv6(text), hex(bytes), text);
    }
  });

  it('formats and parses IPv4 at an offset', () => {
    assert.equal(formatIpv4(hex('ff 6455d912'), 1), '100.85.217.18');
    assert.deepEqual(parseIpv4('100.85.217.18'), hex('6455d912'));
    assert.deepEqual(parseIpv4('0.0.0.0'), hex('00000000'));
  });

  it('rejects malformed IPv4 text', () => {
    for (const t of ['', '1.2.3', '1.2.3.4.5', '1.2.3.256', '01.2.3.4', '1.2.3.-4', '1.2.3.4 ', 'a.b.c.d', '1..2.3', '+1.2.3.4']) {
      assert.equal(parseIpv4(t), null, t);
    }
  });

  it('parses IPv6 text forms and rejects malformed ones', () => {
    assert.deepEqual(parseIpv6('1:2:3:4:5:6:7:8'), hex('00010002000300040005000600070008'));
    assert.deepEqual(parseIpv6('::ffff:1.2.3.4'), hex('00000000000000000000ffff01020304'));
    assert.deepEqual(parseIpv6('1:2:3:4:5:6:1.2.3.4'), hex('00010002000300040005000601020304'));
    assert.deepEqual(parseIpv6('1::'), hex('00010000000000000000000000000000'));
    for (const t of ['', ':', ':::', '1:::2', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2:3:4:5:6:7:8', '12345::', 'g::',
      ':1::2', '1::2:', '1.2.3.4::', '::1.2.3', 'fe80::1%eth0', '1:2:3:4:5:6:7:1.2.3.4', '::ffff:1.2.3.04']) {
      assert.equal(parseIpv6(t), null, t);
    }
  });

  it('canonicalizes either family', () => {
    assert.equal(canonicalIp('FD58:1B41:5E5C:0:0:0:0:1'), 'fd58:1b41:5e5c::1');
    assert.equal(canonicalIp('100.64.0.1'), '100.64.0.1');
    assert.equal(canonicalIp('nope'), null);
  });

  it('agrees with the WHATWG URL serializer and round-trips (random addresses with zero runs)', LIMIT, () => {
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const bytes = Buffer.alloc(16);
        groups.forEach((g, i) => bytes.writeUInt16BE(g, 2 * i));
        const text = formatIpv6(bytes);
        assert.deepEqual(parseIpv6(text), bytes);
        const mapped = bytes.subarray(0, 12).equals(hex('00000000000000000000ffff'));
        if (!mapped) assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseIpPacket', () => {
  it('parses an IPv4 packet', () => {
    assert.deepEqual(parseIpPacket(V4_UDP), { version: 4, src: '100.85.217.18', dst: '100.119.233.27', length: 32 });
  });

  it('parses an IPv6 packet', () => {
    assert.deepEqual(parseIpPacket(V6_UDP), {
      version: 6,
      src: 'fd58:1b41:5e5c:0:dacf:a0c3:86a8:2302',
      dst: 'fd58:1b41:5e5c:0:4231:9c55:38b5:b032',
      length: 52,
    });
  });

  it('accepts IPv4 options (IHL 6) and header-only packets', () => {
    const withOptions = hex('4600 0018 0000 0000 4001 0000 64400001 64400002 01010101');
    assert.deepEqual(parseIpPacket(withOptions), { version: 4, src: '100.64.0.1', dst: '100.64.0.2', length: 24 });
    const v6Bare = hex('6000 0000 0000 3b 40' + '00'.repeat(15) + '01' + '00'.repeat(15) + '02');
    assert.deepEqual(parseIpPacket(v6Bare), { version: 6, src: '::1', dst: '::2', length: 40 });
  });

  it('rejects malformed packets', () => {
    const v4 = V4_UDP.toString('hex');
    const v6 = V6_UDP.toString('hex');
    const cases: Record<string, string> = {
      empty: '',
      'version 0': '0' + v4.slice(1),
      'version 5': '5' + v4.slice(1),
      'IPv4 shorter than 20 bytes': v4.slice(0, 38),
      'IHL 4': '44' + v4.slice(2),
      'IHL beyond total length': '4f' + v4.slice(2),
      'total length > buffer': v4.slice(0, 4) + '0021' + v4.slice(8),
      'total length < header': v4.slice(0, 4) + '0013' + v4.slice(8),
      'total length < buffer (trailing byte)': v4 + '00',
      'IPv4 truncated payload': v4.slice(0, -2),
      'IPv6 shorter than 40 bytes': v6.slice(0, 78),
      'IPv6 payload length too big': v6.slice(0, 8) + '000d' + v6.slice(12),
      'IPv6 payload length too small': v6.slice(0, 8) + '000b' + v6.slice(12),
      'IPv6 truncated payload': v6.slice(0, -2),
    };
    for (const [name, h] of Object.entries(cases)) assert.equal(parseIpPacket(hex(h)), null, name);
  });

  it('never throws on random bytes, and what it accepts is self-consistent', LIMIT, () => {
    const versioned = fc.tuple(fc.constantFrom(0x45, 0x46, 0x60, 0x4f, 0x00, 0xff), fc.uint8Array({ maxLength: 80 }));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), versioned.map(([b, rest]) => Buffer.concat([Buffer.of(b), rest]))), (bytes) => {
        const info = parseIpPacket(bytes);
        if (info) {
          assert.equal(info.length, bytes.length);
          assert.equal(info.version, bytes[0]! >> 4);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
