/**
 * mDNS reflection (issue 8): what discovery refuses to pass on. Each rule on the pure
 * pieces (LinkSubnets, sourceDrop, HintGate) and through MdnsDiscovery on the fake LAN,
 * with a manual clock so every count is exact.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../../src/api.js';
import { randomBytes } from 'node:crypto';
import { generateIdentity, nodeIdFromPublicKey } from '../../src/identity/index.js';
import type { Logger } from '../../src/log.js';
import type { Clock } from '../../src/transport/index.js';
import {
  ADDRESS_WINDOW_MS,
  HINT_RATE,
  INTERFACES_REFRESH_MS,
  MAX_HINTS_PER_ADDRESS,
  FakeMdnsNetwork,
  HintGate,
  LinkSubnets,
  MdnsDiscovery,
  buildAnnouncement,
  fakeInterfaces,
  prefixLength,
  sourceDrop,
  type DiscoveredEndpoint,
  type HintGateLimits,
  type InterfaceList,
  type MdnsPacketIn,
  type MdnsResponseOut,
  type MdnsTransport,
} from '../../src/discovery/index.js';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** A clock that moves only when the test says so; its timers never fire (no periodic announcements). */
function stillClock(): Clock & { set(t: number): void } {
  let now = 0;
  return {
    now: () => now,
    setTimeout: () => 0,
    setInterval: () => 0,
    clearTimeout: () => {},
    clearInterval: () => {},
    set: (t) => void (now = t),
  };
}

/** A well-formed node id never seen before (an attacker needs no key to announce one). */
const freshId = (): NodeId => nodeIdFromPublicKey(randomBytes(32));

/** One response announcing every id in `ids` at `addresses` (what the attacker sends). */
function announcing(ids: NodeId[], addresses: string[], port = 8443): MdnsResponseOut {
  const out: MdnsResponseOut = { answers: [], additionals: [] };
  for (const id of ids) {
    const a = buildAnnouncement({ id, port, addresses });
    out.answers.push(...a.answers);
    out.additionals?.push(...(a.additionals ?? []));
  }
  return out;
}

interface Observer {
  disc: MdnsDiscovery;
  heard: [NodeId, DiscoveredEndpoint[]][];
  clock: ReturnType<typeof stillClock>;
  net: FakeMdnsNetwork;
}

function observer(opts: { interfaces?: () => InterfaceList; hintLimits?: Partial<HintGateLimits>; transport?: (net: FakeMdnsNetwork) => MdnsTransport } = {}): Observer {
  const net = new FakeMdnsNetwork();
  const clock = stillClock();
  const heard: Observer['heard'] = [];
  const disc = new MdnsDiscovery({
    selfId: generateIdentity().id,
    port: () => 8443,
    addresses: () => ['192.168.1.10'],
    onPeer: (id, endpoints) => heard.push([id, endpoints]),
    transport: opts.transport?.(net) ?? net.join('192.168.1.10'),
    clock,
    log: quiet,
    interfaces: opts.interfaces ?? (() => fakeInterfaces('192.168.1.10/24', 'fd00::10/64')),
    ...(opts.hintLimits ? { hintLimits: opts.hintLimits } : {}),
  });
  disc.start();
  return { disc, heard, clock, net };
}

const ONLINK_TTL255 = { address: '192.168.1.66', port: 5353, ttl: 255 };

describe('LinkSubnets', () => {
  it('contains addresses inside an interface subnet (IPv4, IPv6, mapped, zoned link-local) and nothing else', () => {
    const link = LinkSubnets.of(fakeInterfaces('192.168.1.10/24', 'fd00::10/64'));
    assert.deepEqual(link.subnets, ['192.168.1.10/24', 'fd00::10/64']);
    const yes = ['192.168.1.1', '192.168.1.254', '::ffff:192.168.1.7', 'fd00::1', 'fd00::ffff:1', 'fe80::1%eth0', 'fe80::abcd'];
    const no = ['192.168.2.1', '10.0.0.1', '203.0.113.7', 'fd01::1', '2001:db8::1', 'junk', '', '192.168.1.300'];
    for (const ip of yes) assert.equal(link.contains(ip), true, ip);
    for (const ip of no) assert.equal(link.contains(ip), false, ip);
  });

  it('uses the netmask when an interface has no cidr, and refuses a non-contiguous one', () => {
    const list = { eth0: [{ address: '10.1.2.3', netmask: '255.255.0.0', cidr: null, family: 'IPv4', mac: '', internal: false }] } as unknown as InterfaceList;
    const link = LinkSubnets.of(list);
    assert.equal(link.contains('10.1.200.1'), true);
    assert.equal(link.contains('10.2.0.1'), false);
    assert.equal(prefixLength('255.255.255.0'), 24);
    assert.equal(prefixLength('ffff:ffff:ffff:ffff::'), 64);
    assert.equal(prefixLength('255.255.255.255'), 32);
    assert.equal(prefixLength('255.0.255.0'), null);
    assert.equal(prefixLength('nope'), null);
  });
});

describe('sourceDrop (RFC 6762 §11)', () => {
  const link = LinkSubnets.of(fakeInterfaces('192.168.1.10/24'));
  it('drops off-link sources, and on-link ones whose known TTL is not 255', () => {
    assert.equal(sourceDrop({ address: '203.0.113.5', port: 5353, ttl: 255 }, link), 'off_link');
    assert.equal(sourceDrop({ address: '203.0.113.5', port: 5353 }, link), 'off_link');
    assert.equal(sourceDrop({ address: '192.168.1.66', port: 5353, ttl: 64 }, link), 'ttl');
    assert.equal(sourceDrop({ address: '192.168.1.66', port: 5353, ttl: 254 }, link), 'ttl');
    assert.equal(sourceDrop({ address: '192.168.1.66', port: 5353, ttl: 255 }, link), null);
    assert.equal(sourceDrop({ address: '192.168.1.66', port: 5353 }, link), null, 'TTL unknown: the on-link check alone');
  });
});

describe('HintGate', () => {
  const limits: HintGateLimits = { repeatMs: 10_000, maxPerId: 4, windowMs: 10_000, maxTrackedIds: 64, maxHintsPerAddress: 2, addressWindowMs: 10_000, maxTrackedAddresses: 8, perSecond: 1, burst: 3 };
  const at = (host: string): { host: string; port: number }[] => [{ host, port: 1 }];

  it('at most maxHintsPerAddress hints naming one address per window, whatever the ids', () => {
    const g = new HintGate({ ...limits, burst: 100 });
    const [a, b, c] = [freshId(), freshId(), freshId()];
    assert.equal(g.admit(a, at('10.0.0.9'), 0).ok, true);
    assert.equal(g.admit(b, at('10.0.0.9'), 1).ok, true);
    assert.deepEqual(g.admit(c, at('10.0.0.9'), 2), { ok: false, reason: 'address', limitedEndpoints: 1 });
    assert.equal(g.admit(a, [{ host: '10.0.0.9', port: 2 }], 3).ok, false, 'a known id counts too');
    assert.equal(g.admit(c, at('10.0.0.8'), 4).ok, true, 'other addresses are not affected');
    assert.equal(g.admit(c, at('10.0.0.9'), 10_000).ok, true, 'the window slides');
  });

  it('the same few ids cannot name one address more often by varying the other endpoints', () => {
    const g = new HintGate({ ...limits, burst: 100 });
    const [a, b] = [freshId(), freshId()];
    let atVictim = 0;
    for (let k = 0; k < 20; k++) {
      for (const id of [a, b]) {
        const v = g.admit(id, [{ host: '10.0.0.9', port: 1 }, { host: `10.0.1.${k}`, port: 1 }], k);
        if (v.ok && v.endpoints.some((e) => e.host === '10.0.0.9')) atVictim++;
      }
    }
    assert.equal(atVictim, limits.maxHintsPerAddress);
  });

  it('removes only the endpoints at a full address from a hint', () => {
    const g = new HintGate({ ...limits, burst: 100 });
    g.admit(freshId(), at('10.0.0.9'), 0);
    g.admit(freshId(), at('10.0.0.9'), 0);
    const v = g.admit(freshId(), [{ host: '10.0.0.9', port: 1 }, { host: '10.0.0.7', port: 1 }], 0);
    assert.deepEqual(v, { ok: true, endpoints: [{ host: '10.0.0.7', port: 1 }], limitedEndpoints: 1 });
  });

  it('a global token bucket over all ids: burst, then the rate', () => {
    const g = new HintGate(limits);
    const got = Array.from({ length: 5 }, (_, i) => g.admit(freshId(), at(`10.0.1.${i}`), 0));
    assert.deepEqual(got.map((v) => (v.ok ? 'ok' : v.reason)), ['ok', 'ok', 'ok', 'global', 'global']);
    assert.equal(g.admit(freshId(), at('10.0.2.1'), 999).ok, false);
    assert.equal(g.admit(freshId(), at('10.0.2.1'), 1_000).ok, true, 'one token per second');
  });

  it('a refused hint spends nothing: address-refused hints leave the global budget and the per-id history alone', () => {
    const g = new HintGate(limits);
    g.admit(freshId(), at('10.0.0.9'), 0);
    g.admit(freshId(), at('10.0.0.9'), 0);
    for (let i = 0; i < 50; i++) assert.equal(g.admit(freshId(), at('10.0.0.9'), 0).ok, false);
    const id = freshId();
    assert.equal(g.admit(id, at('10.0.0.5'), 0).ok, true, 'the third token is still there');
    assert.equal(g.admit(id, at('10.0.0.5'), 0).ok, false, 'now spent (and the same hint repeats too soon)');
    assert.deepEqual(g.size, { ids: 3, addresses: 2 });
  });

  it('remembers a bounded number of addresses', () => {
    const g = new HintGate({ ...limits, perSecond: 1_000, burst: 1_000 });
    for (let i = 0; i < 50; i++) g.admit(freshId(), at(`10.0.3.${i}`), i);
    assert.equal(g.size.addresses, limits.maxTrackedAddresses);
  });
});

describe('MdnsDiscovery refuses what it should never pass on', () => {
  it('a response from an off-link source is dropped whole and counted, whatever it announces', () => {
    const o = observer();
    o.net.inject('response', announcing([freshId()], ['192.168.1.50']), { address: '203.0.113.9', port: 5353, ttl: 255 });
    o.net.inject('response', announcing([freshId()], ['192.168.1.50']), { address: '203.0.113.9', port: 5353 });
    assert.deepEqual(o.heard, []);
    assert.equal(o.disc.counters['mdns.dropped.off_link'], 2);
  });

  it('an on-link response with a TTL other than 255 (routed, or sent by an ordinary socket) is dropped and counted', () => {
    const o = observer();
    o.net.inject('response', announcing([freshId()], ['192.168.1.50']), { address: '192.168.1.66', port: 5353, ttl: 64 });
    assert.deepEqual(o.heard, []);
    assert.equal(o.disc.counters['mdns.dropped.ttl'], 1);
    const id = freshId();
    o.net.inject('response', announcing([id], ['192.168.1.50']), ONLINK_TTL255);
    assert.deepEqual(o.heard, [[id, [{ host: '192.168.1.50', port: 8443 }]]]);
  });

  it('queries are still answered from anywhere (dig sends them with TTL 64 from another port), rate-limited as before', () => {
    const o = observer();
    const dig = o.net.join('203.0.113.9', 40_000);
    const answers: MdnsPacketIn[] = [];
    dig.on('response', (p) => answers.push(p));
    for (let i = 0; i < 20; i++) o.net.inject('query', { id: i, questions: [{ name: '_sentinel._tcp.local', type: 'PTR' }] }, { address: '203.0.113.9', port: 40_000, ttl: 64 });
    assert.equal(answers.length, 8, 'MAX_UNICAST_RESPONSES_PER_S');
    assert.equal(o.disc.counters['mdns.responses_limited'], 12);
  });

  it('only on-link announced endpoints are kept; a hint with none is dropped', () => {
    const o = observer();
    const a = freshId();
    o.net.inject('response', announcing([a], ['192.168.1.50', '203.0.113.7', 'fd00::50', '2001:db8::1']), ONLINK_TTL255);
    assert.deepEqual(o.heard, [[a, [{ host: '192.168.1.50', port: 8443 }, { host: 'fd00::50', port: 8443 }]]]);
    o.net.inject('response', announcing([freshId()], ['203.0.113.7']), ONLINK_TTL255);
    assert.equal(o.heard.length, 1);
    assert.equal(o.disc.counters['mdns.dropped.endpoint_off_link'], 3);
  });

  it('the interface list is read again after INTERFACES_REFRESH_MS (a new address makes its subnet on-link)', () => {
    let list = fakeInterfaces('192.168.1.10/24');
    const o = observer({ interfaces: () => list });
    const from = { address: '10.9.0.5', port: 5353, ttl: 255 };
    o.net.inject('response', announcing([freshId()], ['10.9.0.5']), from);
    list = fakeInterfaces('192.168.1.10/24', '10.9.0.1/24');
    o.clock.set(INTERFACES_REFRESH_MS - 1);
    o.net.inject('response', announcing([freshId()], ['10.9.0.5']), from);
    assert.equal(o.heard.length, 0, 'still the old list');
    o.clock.set(INTERFACES_REFRESH_MS);
    o.net.inject('response', announcing([freshId()], ['10.9.0.5']), from);
    assert.equal(o.heard.length, 1);
  });

  it('without a readable TTL it says so once and relies on the on-link check', () => {
    const o = observer({
      transport: (net) => {
        const t = net.join('192.168.1.10');
        Object.defineProperty(t, 'ttlSupport', { value: { ok: false, reason: 'no addon' } });
        return t;
      },
    });
    assert.equal(o.disc.counters['mdns.ttl_unchecked'], 1);
    o.net.inject('response', announcing([freshId()], ['192.168.1.50']), { address: '192.168.1.66', port: 5353 });
    assert.equal(o.heard.length, 1);
  });
});

describe('the reported attack, replayed on the fake LAN', () => {
  /** 50 packets/s for `seconds`, each announcing 8 fresh ids at `victim`, from an on-link host with TTL 255. */
  function flood(o: Observer, victim: string, seconds: number, start = 0): void {
    for (let i = 0; i < 50 * seconds; i++) {
      o.clock.set(start + i * 20);
      o.net.inject('response', announcing(Array.from({ length: 8 }, freshId), [victim]), ONLINK_TTL255);
    }
  }

  it('4,000 announced ids at one on-link victim over 10 s become MAX_HINTS_PER_ADDRESS hints; a real peer is still found', () => {
    const o = observer();
    flood(o, '192.168.1.77', 10);
    const atVictim = o.heard.filter(([, eps]) => eps.some((e) => e.host === '192.168.1.77'));
    assert.equal(atVictim.length, MAX_HINTS_PER_ADDRESS, 'one window of 10 s');
    assert.equal(o.disc.counters['mdns.hints_limited.address'], 4_000 - MAX_HINTS_PER_ADDRESS);
    // The real peer announces itself during the attack (same clock, same second).
    const real = o.net.join('192.168.1.11');
    const realId = freshId();
    o.clock.set(9_990);
    real.respond(buildAnnouncement({ id: realId, port: 9000, addresses: ['192.168.1.11'] }));
    assert.deepEqual(o.heard.at(-1), [realId, [{ host: '192.168.1.11', port: 9000 }]]);
  });

  it('over 30 s the victim gets one window of ids at a time', () => {
    const o = observer();
    flood(o, '192.168.1.77', 30);
    assert.equal(o.heard.length, MAX_HINTS_PER_ADDRESS * Math.ceil(30_000 / ADDRESS_WINDOW_MS));
  });

  it('an off-link victim gets nothing, and so does anyone when the attacker is off-link', () => {
    const o = observer();
    flood(o, '203.0.113.50', 2);
    assert.equal(o.heard.length, 0);
    assert.equal(o.disc.counters['mdns.dropped.endpoint_off_link'], 800);
    for (let i = 0; i < 100; i++) o.net.inject('response', announcing(Array.from({ length: 8 }, freshId), ['192.168.1.77']), { address: '198.51.100.3', port: 5353, ttl: 255 });
    assert.equal(o.heard.length, 0);
    assert.equal(o.disc.counters['mdns.dropped.off_link'], 100);
  });

  it('fresh ids spread over many on-link addresses are held to the global budget', () => {
    const o = observer();
    for (let i = 0; i < 100; i++) o.net.inject('response', announcing([freshId()], [`192.168.1.${100 + i}`]), ONLINK_TTL255);
    assert.equal(o.heard.length, HINT_RATE.burst);
    assert.equal(o.disc.counters['mdns.hints_limited.global'], 100 - HINT_RATE.burst);
    o.clock.set(1_000);
    for (let i = 0; i < 100; i++) o.net.inject('response', announcing([freshId()], [`192.168.1.${i + 1}`]), ONLINK_TTL255);
    assert.equal(o.heard.length, HINT_RATE.burst + HINT_RATE.perSecond);
  });
});
