/**
 * IPv6 address selection (issue 9): which addresses count as global, which a node
 * announces (localEndpoints), which the signaler keeps and tells to whom, how they go into
 * the peer record, how a punch plan uses them, and the REGISTER bytes that carry them.
 */
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, it } from 'node:test';
import { isGlobalIpv6, isLinkLocalIpv6, isUniqueLocalIpv6 } from '../../src/core/ip-scope.js';
import { recordAddresses } from '../../src/gossip/records.js';
import { generateIdentity } from '../../src/identity/index.js';
import { MAX_GLOBAL_V6_ENDPOINTS, MAX_LOCAL_ENDPOINTS, localEndpoints } from '../../src/punch/coordinator.js';
import { MAX_V6_CANDIDATES, ipv6Candidates, planPunch } from '../../src/punch/plan.js';
import { V6ClaimLimiter, prefix64 } from '../../src/signaler/claims.js';
import { SIGNAL_MAX_GLOBAL_V6_ENDPOINTS, SIGNAL_MAX_LOCAL_ENDPOINTS, V6_CLAIM_RATE } from '../../src/signaler/limits.js';
import { filterLocals, hasGlobalV6, localsFor } from '../../src/signaler/locals.js';
import { decodeRegister, encodeRegister, type PunchStart } from '../../src/wire/index.js';

describe('which IPv6 addresses are global', () => {
  it('2000::/3 only: documentation, 6to4 and real allocations yes; loopback, link-local, ULA, multicast, mapped, IPv4 no', () => {
    const yes = ['2001:db8::1', '2001:db8:1::a', '2a00:1450:4001:81b::200e', '2600::1', '3fff:ffff::1', '2002:cb00:7101::1', '2001:DB8::1', '2001:db8::1%eth0'];
    const no = ['::', '::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'fec0::1', 'fc00::1', 'fd00::1', 'fd58:1b41:5e5c::1', 'ff02::fb', 'ff0e::1', '::ffff:203.0.113.5', '::ffff:192.168.1.1', '::203.0.113.5', '64:ff9b::cb00:7105', '1fff::1', '4000::1', '203.0.113.5', '192.168.1.1', 'not an ip', ''];
    for (const h of yes) assert.equal(isGlobalIpv6(h), true, h);
    for (const h of no) assert.equal(isGlobalIpv6(h), false, h);
  });
  it('unique local is fc00::/7, link-local fe80::/10', () => {
    assert.deepEqual(['fc00::1', 'fdff::1', 'fe00::1', 'fbff::1'].map(isUniqueLocalIpv6), [true, true, false, false]);
    assert.deepEqual(['fe80::1', 'febf:ffff::1', 'fec0::1', 'fe7f::1'].map(isLinkLocalIpv6), [true, true, false, false]);
  });
});

function nic(address: string, extra: Partial<NetworkInterfaceInfo> = {}): NetworkInterfaceInfo {
  const v6 = address.includes(':');
  return {
    address,
    netmask: v6 ? 'ffff:ffff:ffff:ffff::' : '255.255.255.0',
    family: v6 ? 'IPv6' : 'IPv4',
    mac: '02:00:00:00:00:01',
    internal: false,
    cidr: `${address}/${v6 ? 64 : 24}`,
    ...(v6 ? { scopeid: 0 } : {}),
    ...extra,
  } as NetworkInterfaceInfo;
}

const INTERFACES = {
  lo: [nic('127.0.0.1', { internal: true }), nic('::1', { internal: true })],
  eth0: [nic('192.168.1.10'), nic('2001:db8:1::10'), nic('fe80::1', { scopeid: 2 }), nic('fd12:3456::10'), nic('2001:db8:1::beef'), nic('2001:db8:1::cafe')],
  sentinel0: [nic('100.64.1.2'), nic('fd58:1b41:5e5c::1234'), nic('2001:db8:99::1')],
};

describe('localEndpoints: what a node announces', () => {
  it('IPv4 and unique local first, then at most 2 global IPv6; never loopback, link-local or the TUN', () => {
    const got = localEndpoints(7001, undefined, { interfaces: ['sentinel0'], addresses: ['100.64.1.2', 'fd58:1b41:5e5c::1234'] }, INTERFACES);
    assert.equal(MAX_GLOBAL_V6_ENDPOINTS, 2);
    assert.deepEqual(got, [
      { host: '192.168.1.10', port: 7001 },
      { host: 'fd12:3456::10', port: 7001 },
      { host: '2001:db8:1::10', port: 7001 },
      { host: '2001:db8:1::beef', port: 7001 },
    ]);
  });
  it('the VPN addresses are left out even on another interface', () => {
    const ifs = { eth0: [nic('192.168.1.10'), nic('fd58:1b41:5e5c::1234')] };
    assert.deepEqual(localEndpoints(7001, '::', { addresses: ['fd58:1b41:5e5c::1234'] }, ifs), [{ host: '192.168.1.10', port: 7001 }]);
  });
  it('listening on 0.0.0.0 (IPv4 only) announces no IPv6; a specific host only itself', () => {
    assert.deepEqual(localEndpoints(7001, '0.0.0.0', {}, INTERFACES).map((e) => e.host), ['192.168.1.10', '100.64.1.2']);
    assert.deepEqual(localEndpoints(7001, '2001:db8:1::10', {}, INTERFACES), [{ host: '2001:db8:1::10', port: 7001 }]);
  });
  it('many LAN addresses never crowd out the global IPv6 ones; 8 in all', () => {
    const ifs = { eth0: [...Array.from({ length: 12 }, (_, i) => nic(`10.0.0.${i + 1}`)), nic('2001:db8::5')] };
    const got = localEndpoints(1, undefined, {}, ifs);
    assert.equal(got.length, MAX_LOCAL_ENDPOINTS);
    assert.equal(got.at(-1)?.host, '2001:db8::5');
  });
});

describe('the signaler and global IPv6 claims', () => {
  const observed = '198.51.100.20';
  it('keeps at most 2 global IPv6 endpoints, on the identity port only, besides the 4 private ones', () => {
    const local = [
      { host: '192.168.1.10', port: 7001 },
      { host: '2001:db8:1::10', port: 7001 },
      { host: '2001:db8:1::11', port: 22 }, // another port: a victim's service, not the node
      { host: 'fe80::1', port: 7001 },
      { host: '::ffff:203.0.113.9', port: 7001 },
      { host: '2001:db8:1::10', port: 7001 },
      { host: '2001:db8:1::12', port: 7001 },
      { host: '2001:db8:1::13', port: 7001 },
      { host: '10.0.0.1', port: 7001 },
      { host: '10.0.0.2', port: 7001 },
      { host: 'fd00::1', port: 7001 },
    ];
    const { kept, dropped } = filterLocals(local, observed, { listenPort: 7001 });
    assert.equal(SIGNAL_MAX_GLOBAL_V6_ENDPOINTS, 2);
    assert.equal(SIGNAL_MAX_LOCAL_ENDPOINTS, 4);
    assert.deepEqual(kept.map((e) => e.host), ['192.168.1.10', '2001:db8:1::10', '2001:db8:1::12', '10.0.0.1', '10.0.0.2', 'fd00::1']);
    assert.deepEqual(dropped, ['not_identity_port', 'not_private', 'not_private', 'duplicate', 'too_many']);
  });
  it('without a listen port no global IPv6 claim is kept', () => {
    assert.deepEqual(filterLocals([{ host: '2001:db8::1', port: 7001 }], observed).dropped, ['not_identity_port']);
  });
  it('an IPv6 address the signaler observed is the node\'s own public address, not a claim', () => {
    const { kept } = filterLocals([{ host: '2001:db8::1', port: 40000 }], '2001:db8::1', { listenPort: 7001 });
    assert.deepEqual(kept, [{ host: '2001:db8::1', port: 40000 }]);
  });
  it('are told only to askers that have IPv6 themselves (and in full behind the same NAT)', () => {
    const owner = { observed: { host: observed, port: 40_000 }, local: [{ host: '192.168.1.10', port: 7001 }, { host: '2001:db8:1::10', port: 7001 }] };
    assert.deepEqual(localsFor(owner, '192.0.2.1'), []);
    assert.deepEqual(localsFor(owner, '192.0.2.1', true), [{ host: '2001:db8:1::10', port: 7001 }]);
    assert.deepEqual(localsFor(owner, observed), owner.local);
    assert.equal(hasGlobalV6(owner), true);
    assert.equal(hasGlobalV6({ observed: { host: '2001:db8::7', port: 1 }, local: [] }), true);
    assert.equal(hasGlobalV6({ observed: { host: observed, port: 1 }, local: [{ host: 'fd00::1', port: 1 }] }), false);
  });
});

describe('the per-/64 budget of IPv6 claims in PUNCH_STARTs', () => {
  const claim = (h: string) => ({ host: h, port: 7001 });
  it('one token per /64 per PUNCH_START; over the burst the claims are withheld, the rest passes; refills', () => {
    const l = new V6ClaimLimiter();
    const list = [claim('192.168.1.10'), claim('2001:db8:1::10'), claim('2001:db8:1::11'), claim('2001:db8:2::10')];
    for (let i = 0; i < V6_CLAIM_RATE.burst; i++) assert.deepEqual(l.pass(list, '198.51.100.1', 0), { endpoints: list, withheld: 0 });
    assert.deepEqual(l.pass(list, '198.51.100.1', 0), { endpoints: [claim('192.168.1.10')], withheld: 3 });
    // Another claimer in the same /64 shares the budget.
    assert.equal(l.pass([claim('2001:db8:1::99')], '192.0.2.1', 0).withheld, 1);
    assert.equal(l.pass([claim('2001:db8:3::1')], '192.0.2.1', 0).withheld, 0, 'another /64 has its own');
    assert.equal(l.pass([claim('2001:db8:1::10')], '198.51.100.1', 1_000 / V6_CLAIM_RATE.perSecond).withheld, 0, 'refilled');
  });
  it('an address the signaler observed is no claim; bookkeeping is bounded', () => {
    const l = new V6ClaimLimiter({ perSecond: 1, burst: 1 }, 2);
    assert.equal(l.pass([claim('2001:db8:1::10')], '2001:db8:1::10', 0).withheld, 0);
    assert.equal(l.pass([claim('2001:db8:1::10')], '2001:db8:1::10', 0).withheld, 0);
    for (const h of ['2001:db8:1::1', '2001:db8:2::1', '2001:db8:3::1']) l.pass([claim(h)], 'x', 0);
    assert.equal(l.size, 2);
    assert.equal(prefix64('2001:db8:1:2:3:4:5:6'), '20010db800010002');
  });
});

describe('the peer record', () => {
  it('global IPv6 goes with the observed public address; private and unique local stay local', () => {
    const locals = [{ host: '192.168.1.10', port: 7001 }, { host: 'fd12::10', port: 7001 }, { host: '2001:db8:1::10', port: 7001 }];
    assert.deepEqual(recordAddresses({ host: '203.0.113.11', port: 51000 }, locals), {
      public: [{ host: '203.0.113.11', port: 51000 }, { host: '2001:db8:1::10', port: 7001 }],
      local: [{ host: '192.168.1.10', port: 7001 }, { host: 'fd12::10', port: 7001 }],
    });
    assert.deepEqual(recordAddresses({ host: '2001:db8:1::10', port: 7001 }, locals).public, [{ host: '2001:db8:1::10', port: 7001 }], 'no duplicate');
    assert.deepEqual(recordAddresses(null, locals).public, [{ host: '2001:db8:1::10', port: 7001 }]);
  });
});

describe('punch plans with IPv6', () => {
  const peer = generateIdentity();
  const start = (over: Partial<PunchStart> = {}): PunchStart => ({
    reqId: 0,
    peer: peer.publicKey,
    delayMs: 40,
    attempts: 3,
    intervalMs: 100,
    listenPort: 7001,
    public: { host: '203.0.113.20', port: 7001 },
    local: [{ host: '2001:db8:2::10', port: 7001 }],
    sameNat: false,
    ...over,
  });
  const v6 = { host: '2001:db8:2::10', port: 7001 };
  const easy = { id: 'a'.repeat(52), observed: { host: '203.0.113.10', port: 7002 }, listenPort: 7002, localHosts: ['192.168.1.10', '2001:db8:1::10'] };
  const hard = { ...easy, observed: { host: '203.0.113.10', port: 51234 } };

  it('both with IPv6: the peer\'s IPv6 endpoint first, then IPv4 as before', () => {
    const p = planPunch(start(), 0, easy);
    assert.deepEqual(p.candidates, [v6, { host: '203.0.113.20', port: 7001 }]);
    assert.equal(p.impossible, null);
  });
  it('hard x hard: IPv4 is impossible but IPv6 is not; IPv6 is then the only candidate, no birthday', () => {
    const p = planPunch(start({ public: { host: '203.0.113.20', port: 40000 } }), 0, hard);
    assert.equal(p.impossible, null);
    assert.deepEqual(p.candidates, [v6]);
    assert.equal(p.birthday, null);
    const noV6 = planPunch(start({ public: { host: '203.0.113.20', port: 40000 } }), 0, { ...hard, localHosts: ['192.168.1.10'] });
    assert.match(noV6.impossible ?? '', /relay/);
  });
  it('easy x hard keeps its birthday; IPv6 comes on top', () => {
    const p = planPunch(start({ public: { host: '203.0.113.20', port: 40000 } }), 0, easy, () => 0.5);
    assert.equal(p.birthday?.role, 'probe');
    assert.deepEqual(p.candidates[0], v6);
  });
  it('no IPv6 of ours, or the peer\'s on another port, or not global: no IPv6 candidate', () => {
    assert.deepEqual(ipv6Candidates(start(), { ...easy, localHosts: ['192.168.1.10', 'fd00::1'] }), []);
    assert.deepEqual(ipv6Candidates(start({ local: [{ host: '2001:db8:2::10', port: 22 }] }), easy), []);
    assert.deepEqual(ipv6Candidates(start({ local: [{ host: 'fe80::1', port: 7001 }, { host: 'fd00::2', port: 7001 }] }), easy), []);
    const many = Array.from({ length: 5 }, (_, i) => ({ host: `2001:db8:2::${i + 1}`, port: 7001 }));
    assert.equal(ipv6Candidates(start({ local: many }), easy).length, MAX_V6_CANDIDATES);
  });
  it('a peer the signaler saw over IPv6: its public endpoint is an IPv6 candidate', () => {
    const p = planPunch(start({ public: { host: '2001:db8:2::10', port: 7001 }, local: [] }), 0, easy);
    assert.deepEqual(p.candidates, [v6]);
  });
});

describe('REGISTER with a global IPv6 announcement: hex vector', () => {
  it('no new layout: the address is one more family-6 endpoint in the local list', () => {
    const m = { listenPort: 7001, local: [{ host: '192.168.1.10', port: 7001 }, { host: '2001:db8:1::10', port: 7001 }] };
    const hex = '1b59' + '02' + '04' + 'c0a8010a' + '1b59' + '06' + '20010db8000100000000000000000010' + '1b59';
    assert.equal(encodeRegister(m).toString('hex'), hex);
    assert.deepEqual(decodeRegister(Buffer.from(hex, 'hex')), m);
  });
});
