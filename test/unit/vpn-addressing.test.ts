import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isSentinelError } from '../../src/errors.js';
import { nodeIdFromPublicKey } from '../../src/identity/node-id.js';
import {
  VPN_IPV4_PREFIX,
  VPN_IPV4_PREFIX_LENGTH,
  VPN_IPV6_PREFIX,
  VPN_IPV6_PREFIX_LENGTH,
  canonicalVpnAddresses,
  findCollisions,
  parseIpv4,
  parseIpv6,
  parseVpnIpv4Override,
  vpnAddressesOf,
} from '../../src/vpn/index.js';

const idOf = (hex: string) => nodeIdFromPublicKey(Buffer.from(hex, 'hex'));
const KEY_A = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const KEY_B = 'ff'.repeat(32);

describe('VPN addressing', () => {
  it('has the documented prefixes', () => {
    assert.equal(VPN_IPV4_PREFIX, '100.64.0.0/10');
    assert.equal(VPN_IPV4_PREFIX_LENGTH, 10);
    assert.equal(VPN_IPV6_PREFIX, 'fd58:1b41:5e5c::/48');
    assert.equal(VPN_IPV6_PREFIX_LENGTH, 48);
    // fd || SHA-256("sentinel/vpn-ula/v1")[0..5]
    assert.equal(createHash('sha256').update('sentinel/vpn-ula/v1').digest('hex').slice(0, 10), '581b415e5c');
  });

  // Vectors computed independently with python3 hashlib + ipaddress:
  //   h = int(sha256(b"sentinel/vpn-ipv4/v1" + pub)[:3]) >> 2; ipv4 = 100.64.0.0 + 1 + h % (2**22 - 2)
  //   ipv6 = fd581b415e5c:0000 || sha256(b"sentinel/vpn-ipv6/v1" + pub)[:8]
  it('derives fixed vectors for two keys', () => {
    assert.deepEqual(vpnAddressesOf(idOf(KEY_A)), { ipv4: '100.85.217.18', ipv6: 'fd58:1b41:5e5c:0:dacf:a0c3:86a8:2302' });
    assert.deepEqual(vpnAddressesOf(idOf(KEY_B)), { ipv4: '100.119.233.27', ipv6: 'fd58:1b41:5e5c:0:4231:9c55:38b5:b032' });
    assert.deepEqual(vpnAddressesOf(idOf('00'.repeat(32))), { ipv4: '100.84.207.154', ipv6: 'fd58:1b41:5e5c:0:f08:374d:20c0:6e80' });
  });

  it('prints an interface id that starts with a zero group compressed, still in subnet 0', () => {
    const pub = Buffer.from('0500c5f5354f54160145fcfaf10250856a04dffacfcb04ffa70167830001fefa', 'hex');
    const addrs = vpnAddressesOf(nodeIdFromPublicKey(pub));
    assert.equal(addrs.ipv6, 'fd58:1b41:5e5c::cb86:44d9:9225');
    assert.deepEqual(canonicalVpnAddresses(addrs), addrs);
  });

  it('rejects a malformed node id', () => {
    assert.throws(() => vpnAddressesOf('not-an-id'), (e: unknown) => isSentinelError(e, 'E_BAD_ID'));
  });

  it('always lands on a usable host of the /10 and in the ULA /48', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (pub) => {
        const addrs = vpnAddressesOf(nodeIdFromPublicKey(pub));
        assert.deepEqual(canonicalVpnAddresses(addrs), addrs);
        const v4 = parseIpv4(addrs.ipv4)!.readUInt32BE(0);
        assert.ok(v4 > 0x64400000 && v4 < 0x647fffff, addrs.ipv4);
        // Prefix and subnet 0 checked on the bytes: the text compresses a zero run, so an
        // interface id starting 0000: prints as fd58:1b41:5e5c::… (a real case, seed -487073953).
        const v6 = parseIpv6(addrs.ipv6)!;
        assert.equal(Buffer.from(v6.subarray(0, 8)).toString('hex'), 'fd581b415e5c0000', addrs.ipv6);
      }),
      { numRuns: 200 },
    );
  });

  it('validates --vpn-ip overrides', () => {
    assert.equal(parseVpnIpv4Override('100.64.0.1'), '100.64.0.1');
    assert.equal(parseVpnIpv4Override(' 100.127.255.254 '), '100.127.255.254');
    assert.equal(parseVpnIpv4Override('100.100.0.0'), '100.100.0.0'); // only the /10's own ends are excluded
    for (const t of ['100.64.0.0', '100.127.255.255', '100.63.255.255', '100.128.0.0', '10.0.0.1', '100.064.0.1', 'fd58::1', '', 'x']) {
      assert.equal(parseVpnIpv4Override(t), null, t);
    }
  });

  it('canonicalizes valid addresses and refuses ones outside the prefixes', () => {
    assert.deepEqual(canonicalVpnAddresses({ ipv4: '100.64.0.9', ipv6: 'FD58:1B41:5E5C:1:0:0:0:9' }), { ipv4: '100.64.0.9', ipv6: 'fd58:1b41:5e5c:1::9' });
    assert.equal(canonicalVpnAddresses({ ipv4: '10.0.0.1', ipv6: 'fd58:1b41:5e5c::9' }), null);
    assert.equal(canonicalVpnAddresses({ ipv4: '100.64.0.9', ipv6: 'fd58:1b41:5e5d::9' }), null);
    assert.equal(canonicalVpnAddresses({ ipv4: '100.64.0.9', ipv6: '100.64.0.9' }), null);
  });

  it('finds IPv4 collisions', () => {
    const entries = [
      { id: 'a', ipv4: '100.64.0.1' },
      { id: 'b', ipv4: '100.64.0.2' },
      { id: 'c', ipv4: '100.64.0.1' },
      { id: 'a', ipv4: '100.64.0.1' }, // the same claimant twice is not a collision
      { id: 'd', ipv4: '100.64.0.3' },
      { id: 'd', ipv4: '100.64.0.3' },
      { id: 'e', ipv4: '100.64.0.2' },
      { id: 'f', ipv4: '100.64.0.1' },
    ];
    assert.deepEqual(findCollisions(entries), [
      { ipv4: '100.64.0.1', ids: ['a', 'c', 'f'] },
      { ipv4: '100.64.0.2', ids: ['b', 'e'] },
    ]);
    assert.deepEqual(findCollisions([]), []);
  });
});
