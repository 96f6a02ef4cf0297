/**
 * The metrics' pure parts: the --metrics address, counter names turned into labels, the
 * monotonic VPN totals, and the bounded per-peer label set (peer-traffic.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exposureWarning, parseMetricsListen } from '../../src/metrics/address.js';
import { isLoopbackHost as isLoopback } from '../../src/core/host-port.js';
import { MonotonicSum, byPrefix } from '../../src/metrics/collect.js';
import { OTHER, PeerTraffic, STRANGER, type TrafficRow, type TrafficSession } from '../../src/metrics/peer-traffic.js';
import { seededRandom } from '../helpers/seeded-random.js';

describe('--metrics address', () => {
  it('a bare port binds loopback; explicit addresses are kept', () => {
    assert.deepEqual(parseMetricsListen('9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseMetricsListen('0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseMetricsListen('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(parseMetricsListen('[::1]:9100'), { host: '::1', port: 9100 });
  });

  it('bad values are usage errors that say what is expected', () => {
    for (const bad of ['', 'localhost:9464', 'example.com:1', '1.2.3.4', '99999', '1.2.3.4:70000', '::1:9464', '1.2.3:9464', 'abc']) {
      assert.throws(() => parseMetricsListen(bad), (e: Error & { code?: string }) => e.code === 'E_USAGE' && /--metrics/.test(e.message) && !e.message.startsWith('invalid'), bad);
    }
  });

  it('warns for anything but loopback', () => {
    assert.ok(isLoopback('127.0.0.1') && isLoopback('127.8.9.10') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1'));
    assert.equal(exposureWarning('127.0.0.1', 9464), null);
    assert.equal(exposureWarning('::1', 9464), null);
    assert.match(exposureWarning('0.0.0.0', 9464) ?? '', /readable by anyone who can reach/);
    assert.match(exposureWarning('::', 9464) ?? '', /\[::\]:9464/);
  });
});

describe('counter names to labels', () => {
  const counters = {
    'punch_outcomes.simultaneous_open.easy.hard.connected': 2,
    'punch_outcomes.birthday.easy.hard.failed': 1,
    'punch_outcomes.short': 9,
    'handshakes_failed.E_TLS': 3,
    'handshakes_failed.': 4,
    'relay.closed.some.thing': 5,
    registrations: 7,
  };

  it('splits the parts after the prefix into labels, skipping names with too few', () => {
    assert.deepEqual(byPrefix(counters, 'punch_outcomes.', ['method', 'nat', 'peer_nat', 'outcome']), [
      [{ method: 'simultaneous_open', nat: 'easy', peer_nat: 'hard', outcome: 'connected' }, 2],
      [{ method: 'birthday', nat: 'easy', peer_nat: 'hard', outcome: 'failed' }, 1],
    ]);
    assert.deepEqual(byPrefix(counters, 'handshakes_failed.', ['code']), [[{ code: 'E_TLS' }, 3]]);
    // The last label takes the remaining parts.
    assert.deepEqual(byPrefix(counters, 'relay.', ['event']), [[{ event: 'closed.some.thing' }, 5]]);
  });

  it('MonotonicSum never decreases when keys vanish or restart', () => {
    const s = new MonotonicSum();
    assert.equal(s.update([['a', 10], ['b', 5]]), 15);
    assert.equal(s.update([['a', 12]]), 17, 'b forgotten: what it added stays');
    assert.equal(s.update([['a', 12], ['b', 3]]), 20, 'b back from zero');
    assert.equal(s.update([['a', 4]]), 24, 'a restarted below its last value: counted from zero');
  });
});

class FakeSession implements TrafficSession {
  bytesIn = 0;
  bytesOut = 0;
  isClosed = false;
  constructor(
    readonly peerId: string,
    readonly method = 'outbound',
  ) {}
}

const rowOf = (rows: TrafficRow[], peer: string): TrafficRow | undefined => rows.find((r) => r.peer === peer);

describe('per-peer traffic labels (bounded)', () => {
  it('contacts get their own label up to the slots, then "other"; strangers always "stranger"', () => {
    const trust = new Map<string, 'contact' | 'stranger' | 'blocked'>([['c1', 'contact'], ['c2', 'contact'], ['c3', 'contact'], ['s1', 'stranger'], ['b1', 'blocked']]);
    const t = new PeerTraffic((id) => trust.get(id) ?? 'stranger', 2);
    const s = Object.fromEntries(['c1', 'c2', 'c3', 's1', 'b1'].map((id) => [id, new FakeSession(id)]));
    for (const x of Object.values(s)) t.onSessionUp(x);
    for (const [i, x] of Object.values(s).entries()) {
      x.bytesIn = 100 * (i + 1);
      x.bytesOut = 10 * (i + 1);
    }
    const rows = t.rows();
    assert.deepEqual(rows.map((r) => r.peer).sort(), ['c1', 'c2', OTHER, STRANGER].sort());
    assert.deepEqual(rowOf(rows, 'c1'), { peer: 'c1', bytesIn: 100, bytesOut: 10 });
    assert.deepEqual(rowOf(rows, OTHER), { peer: OTHER, bytesIn: 300, bytesOut: 30 });
    assert.deepEqual(rowOf(rows, STRANGER), { peer: STRANGER, bytesIn: 400 + 500, bytesOut: 40 + 50 });
  });

  it('bytes of a session that ends between scrapes are kept; path totals follow the session method', () => {
    const t = new PeerTraffic(() => 'contact', 4);
    const a = new FakeSession('a');
    const r = new FakeSession('a', 'relay');
    t.onSessionUp(a);
    a.bytesIn = 50;
    a.isClosed = true;
    t.onSessionDown();
    t.onSessionUp(r);
    r.bytesOut = 7;
    assert.deepEqual(rowOf(t.rows(), 'a'), { peer: 'a', bytesIn: 50, bytesOut: 7 });
    assert.deepEqual(t.byPath(), [
      { path: 'direct', bytesIn: 50, bytesOut: 0 },
      { path: 'relay', bytesIn: 0, bytesOut: 7 },
    ]);
  });

  it('a slot is reused only from a disconnected contact, and no series ever decreases', () => {
    const t = new PeerTraffic(() => 'contact', 1);
    const a = new FakeSession('a');
    t.onSessionUp(a);
    a.bytesIn = 10;
    assert.deepEqual(t.rows().map((r) => r.peer), ['a', OTHER, STRANGER]);
    const b = new FakeSession('b');
    t.onSessionUp(b);
    b.bytesIn = 5;
    assert.deepEqual(rowOf(t.rows(), OTHER)?.bytesIn, 5, 'a is connected: b goes to other');
    a.isClosed = true;
    t.onSessionDown();
    b.bytesIn = 8;
    const rows = t.rows();
    assert.equal(rowOf(rows, 'a'), undefined, "a's series ended");
    assert.deepEqual(rowOf(rows, 'b'), { peer: 'b', bytesIn: 3, bytesOut: 0 }, 'b counts from the moment it got the slot');
    assert.equal(rowOf(rows, OTHER)?.bytesIn, 5, 'what other counted stays there');
  });

  it('random churn: at most slots + 2 series, every series only grows, every byte counted once', () => {
    const rand = seededRandom(12);
    const ids = Array.from({ length: 40 }, (_, i) => `p${i}`);
    const t = new PeerTraffic((id) => (Number(id.slice(1)) % 3 === 0 ? 'stranger' : 'contact'), 5);
    const live: FakeSession[] = [];
    let total = 0;
    const last = new Map<string, number>();
    for (let step = 0; step < 3000; step++) {
      const roll = rand();
      if (roll < 0.1 || live.length === 0) {
        const s = new FakeSession(ids[Math.floor(rand() * ids.length)] as string, rand() < 0.3 ? 'relay' : 'outbound');
        live.push(s);
        t.onSessionUp(s);
      } else if (roll < 0.18) {
        const s = live.splice(Math.floor(rand() * live.length), 1)[0] as FakeSession;
        s.isClosed = true;
        t.onSessionDown();
      } else {
        const s = live[Math.floor(rand() * live.length)] as FakeSession;
        const n = Math.floor(rand() * 1000);
        s.bytesIn += n;
        total += n;
      }
      if (step % 7 === 0) {
        const rows = t.rows();
        assert.ok(rows.length <= 5 + 2, `${rows.length} series`);
        for (const r of rows) {
          assert.ok(r.bytesIn >= (last.get(r.peer) ?? 0), `${r.peer} decreased`);
          last.set(r.peer, r.bytesIn);
        }
        // A series that ended may come back from zero later: forget those not shown.
        for (const k of [...last.keys()]) if (!rows.some((r) => r.peer === k)) last.delete(k);
      }
    }
    const paths = t.byPath();
    assert.equal(paths.reduce((n, p) => n + p.bytesIn, 0), total);
  });
});
