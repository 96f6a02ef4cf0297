import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../../src/api.js';
import { generateIdentity } from '../../src/identity/index.js';
import type { Logger } from '../../src/log.js';
import type { Clock } from '../../src/transport/index.js';
import {
  ANNOUNCE_INTERVAL_MS,
  STARTUP_REPEAT_MS,
  FakeMdnsNetwork,
  MdnsDiscovery,
  buildAnnouncement,
  fakeInterfaces,
  type DiscoveredEndpoint,
  type MdnsRecordOut,
  type MdnsTransport,
} from '../../src/discovery/index.js';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
/** The fake LAN's subnet, as our interfaces see it. */
const lan = (): ReturnType<typeof fakeInterfaces> => fakeInterfaces('192.168.1.2/24');

/** A clock whose timers fire only when the test advances it. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; every: number | null; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn, ms) => (timers.set(next, { at: now + ms, every: null, fn }), next++),
    setInterval: (fn, ms) => (timers.set(next, { at: now + ms, every: ms, fn }), next++),
    clearTimeout: (h) => void timers.delete(h as number),
    clearInterval: (h) => void timers.delete(h as number),
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((x, y) => x[1].at - y[1].at)[0];
        if (!due) break;
        const [id, t] = due;
        now = t.at;
        if (t.every === null) timers.delete(id);
        else t.at += t.every;
        t.fn();
      }
      now = end;
    },
  };
}

interface Member {
  id: NodeId;
  ip: string;
  disc: MdnsDiscovery;
  transport: MdnsTransport;
  heard: [NodeId, DiscoveredEndpoint[]][];
}

function member(net: FakeMdnsNetwork, clock: Clock, ip: string, port = 8443): Member {
  const id = generateIdentity().id;
  const transport = net.join(ip);
  const heard: Member['heard'] = [];
  const disc = new MdnsDiscovery({
    selfId: id,
    port: () => port,
    addresses: () => ['127.0.0.1', ip, '::1'],
    onPeer: (peer, endpoints) => heard.push([peer, endpoints]),
    transport,
    clock,
    log: quiet,
    interfaces: lan,
  });
  return { id, ip, disc, transport, heard };
}

const ids = (m: Member): NodeId[] => [...new Set(m.heard.map(([id]) => id))].sort();

describe('MdnsDiscovery on a fake LAN', () => {
  it('three nodes find each other with their LAN addresses and identity port, never themselves', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const ms = ['192.168.1.10', '192.168.1.11', '192.168.1.12'].map((ip) => member(net, clock, ip));
    for (const m of ms) m.disc.start();
    clock.advance(STARTUP_REPEAT_MS);
    for (const m of ms) {
      const others = ms.filter((o) => o !== m);
      assert.deepEqual(ids(m), others.map((o) => o.id).sort());
      for (const o of others) {
        const [, endpoints] = m.heard.find(([id]) => id === o.id) ?? [];
        assert.deepEqual(endpoints, [{ host: o.ip, port: 8443 }], 'loopback is never announced');
      }
      assert.ok((m.disc.counters['mdns.own'] ?? 0) > 0, 'own announcements came back and were ignored');
    }
  });

  it('a node started later finds the others through its browse query', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const early = member(net, clock, '192.168.1.10');
    early.disc.start();
    clock.advance(5_000);
    const late = member(net, clock, '192.168.1.11');
    late.disc.start();
    assert.deepEqual(ids(late), [early.id]);
    assert.deepEqual(ids(early), [late.id]);
  });

  it('announces again periodically; the hint repeats after the limiter interval', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const a = member(net, clock, '192.168.1.10');
    const b = member(net, clock, '192.168.1.11');
    a.disc.start();
    b.disc.start();
    const before = b.heard.length;
    clock.advance(ANNOUNCE_INTERVAL_MS);
    assert.ok(b.heard.length > before);
    assert.ok(b.heard.every(([id]) => id === a.id));
  });

  it('announces nothing without a port or a LAN address', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const d = new MdnsDiscovery({ selfId: generateIdentity().id, port: () => 0, addresses: () => ['192.168.1.9'], onPeer: () => {}, transport: net.join('192.168.1.9'), clock, log: quiet, interfaces: lan });
    d.start();
    assert.equal(net.log.filter((p) => p.kind === 'response').length, 0);
    const e = new MdnsDiscovery({ selfId: generateIdentity().id, port: () => 1, addresses: () => ['127.0.0.1'], onPeer: () => {}, transport: net.join('192.168.1.8'), clock, log: quiet, interfaces: lan });
    e.start();
    assert.equal(net.log.filter((p) => p.kind === 'response').length, 0);
    assert.ok((e.counters['mdns.announce_skipped'] ?? 0) > 0);
  });

  it('answers a legacy unicast query (dig) straight back, echoing the id, TTLs capped at 10 s', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const a = member(net, clock, '192.168.1.10', 9000);
    a.disc.start();
    const dig = net.join('192.168.1.99', 40_000);
    const answers: { id?: unknown; answers?: unknown }[] = [];
    dig.on('response', (p) => answers.push(p));
    net.inject('query', { id: 4242, questions: [{ name: '_sentinel._tcp.local', type: 'PTR' }] }, dig.self);
    const answer = answers[0];
    assert.ok(answer);
    assert.equal(answer.id, 4242);
    const records = answer.answers as MdnsRecordOut[];
    assert.ok(records.some((r) => r.type === 'PTR' && r.data === `${a.id}._sentinel._tcp.local`));
    assert.ok(records.some((r) => r.type === 'SRV' && (r.data as { port: number }).port === 9000));
    assert.ok(records.some((r) => r.type === 'A' && r.data === '192.168.1.10'));
    assert.ok(records.every((r) => r.ttl <= 10));
    const last = net.log.at(-1);
    assert.deepEqual(last?.to, { address: '192.168.1.99', port: 40_000 }, 'unicast, not multicast');
  });

  it('answers the DNS-SD service enumeration', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const a = member(net, clock, '192.168.1.10');
    a.disc.start();
    clock.advance(5_000);
    const n = net.log.length;
    net.inject('query', { questions: [{ name: '_services._dns-sd._udp.local', type: 'PTR' }] }, { address: '192.168.1.50', port: 5353 });
    const sent = net.log.slice(n).find((p) => p.kind === 'response');
    assert.deepEqual((sent?.packet.answers as MdnsRecordOut[]).map((r) => r.data), ['_sentinel._tcp.local']);
  });

  it('stop() says goodbye (TTL 0), closes the transport, and a goodbye produces no hint', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const a = member(net, clock, '192.168.1.10');
    const b = member(net, clock, '192.168.1.11');
    a.disc.start();
    b.disc.start();
    clock.advance(20_000);
    const heard = b.heard.length;
    a.disc.stop();
    const bye = net.log.at(-1)?.packet.answers as MdnsRecordOut[];
    assert.equal(bye[0]?.ttl, 0);
    assert.equal(b.heard.length, heard);
    assert.equal((a.transport as { destroyed?: boolean }).destroyed, true);
  });

  it('untrusted junk is dropped and counted, never thrown', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const a = member(net, clock, '192.168.1.10');
    a.disc.start();
    const from = { address: '192.168.1.66', port: 5353 };
    net.inject('response', { answers: 'junk' }, from);
    net.inject('response', { answers: [{ name: '_sentinel._tcp.local', type: 'PTR', ttl: 1, data: 42 }] }, from);
    net.inject('query', { questions: 'junk' }, from);
    const bad = buildAnnouncement({ id: generateIdentity().id, port: 1, addresses: ['224.0.0.1'] });
    net.inject('response', bad, from);
    assert.equal(a.heard.length, 0);
    assert.equal(a.disc.counters['mdns.dropped.bad_packet'], 1);
    assert.equal(a.disc.counters['mdns.dropped.bad_instance'], 1);
    assert.equal(a.disc.counters['mdns.dropped.no_address'], 1);
  });
});

describe('spoofed announcements', () => {
  it('a victim id with the attacker address is only a hint with that address; the real one still gets through', () => {
    const net = new FakeMdnsNetwork();
    const clock = manualClock();
    const observer = member(net, clock, '192.168.1.10');
    const victim = member(net, clock, '192.168.1.11');
    observer.disc.start();
    clock.advance(3_000);
    const countersBefore = observer.disc.counters;

    // The attacker announces the victim's id with its own address.
    net.inject('response', buildAnnouncement({ id: victim.id, port: 8443, addresses: ['192.168.1.66'] }), { address: '192.168.1.66', port: 5353 });
    // Reported as an (unverified) hint carrying the attacker's address: the node dials it
    // expecting the victim's id, and the TLS check fails there.
    assert.deepEqual(observer.heard, [[victim.id, [{ host: '192.168.1.66', port: 8443 }]]]);
    const after = observer.disc.counters;
    assert.deepEqual(Object.keys(after).filter((k) => after[k] !== countersBefore[k]), ['mdns.hints']);

    // The victim comes up next: its own announcement is not suppressed by the spoof.
    victim.disc.start();
    assert.deepEqual(observer.heard.at(-1), [victim.id, [{ host: victim.ip, port: 8443 }]]);
    // Nothing else changed: the victim never heard anything, and still answers queries as itself.
    assert.deepEqual(victim.heard.map(([id]) => id), [observer.id]);
  });
});
