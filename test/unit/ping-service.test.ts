/**
 * PingService (src/ping/service.ts) with a fake clock and fake sessions: it dials only when
 * there is no session (always for host:port), pings the session it has at each ping,
 * reports each reply as progress, counts, and runs at most MAX_PING_RUNS at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DialResult, NodeId, PingProgress } from '../../src/api.js';
import { Counters } from '../../src/core/counters.js';
import { SentinelError } from '../../src/errors.js';
import { MAX_PING_RUNS, PingService, type PingableSession } from '../../src/ping/index.js';
import { fakeClock, type FakeClock } from '../helpers/fake-clock.js';

const PEER: NodeId = 'p'.repeat(56);

/** A session whose peer answers after `rttMs` (null: never). */
function session(clock: FakeClock, rttMs: number | null, remoteAddress = '203.0.113.5:7000'): PingableSession & { probes: number } {
  const s = {
    method: 'outbound' as const,
    remoteAddress,
    probes: 0,
    probe(onPong: () => void) {
      s.probes++;
      if (rttMs !== null) clock.setTimeout(onPong, rttMs);
      return 'sent' as const;
    },
  };
  return s;
}

function harness() {
  const clock = fakeClock(0);
  const counters = new Counters();
  const sessions = new Map<NodeId, PingableSession>();
  const dials: string[] = [];
  const service = new PingService({
    clock,
    counters,
    resolve: (t) => {
      if (t === 'alice' || t === PEER) return PEER;
      throw new SentinelError('E_UNKNOWN_ID', t);
    },
    session: (id) => sessions.get(id),
    dial: async (target) => {
      dials.push(target);
      sessions.set(PEER, session(clock, 7));
      return { id: PEER, address: '203.0.113.5:7000', method: 'outbound', path: 'direct', relay: null, ms: 3, existing: false } satisfies DialResult;
    },
    signalerId: () => null,
  });
  return { clock, counters, sessions, dials, service };
}

async function drive<T>(clock: FakeClock, p: Promise<T>): Promise<T> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 1_000 && !done; i++) await clock.advance(100);
  return p;
}

describe('PingService', () => {
  it('pings an existing session without dialing; each reply is a progress event; counted', async () => {
    const h = harness();
    h.sessions.set(PEER, session(h.clock, 4));
    const progress: PingProgress[] = [];
    const r = await drive(h.clock, h.service.ping('alice', { count: 2 }, (p) => progress.push(p as PingProgress)));
    assert.deepEqual(h.dials, []);
    assert.equal(r.dial, null);
    assert.deepEqual(r.pings.map((p) => 'rttMs' in p && p.rttMs), [4, 4]);
    assert.deepEqual(progress.map((p) => [p.stage, p.reply.seq, p.message]), [
      ['ping', 1, 'seq=1 pong via direct 203.0.113.5:7000 (dialed) in 4 ms'],
      ['ping', 2, 'seq=2 pong via direct 203.0.113.5:7000 (dialed) in 4 ms'],
    ]);
    assert.equal(r.path?.kind, 'direct');
    assert.deepEqual([h.counters.get('ping.sent'), h.counters.get('ping.received')], [2, 2]);
  });

  it('dials first when there is no session, and always for host:port', async () => {
    const h = harness();
    const r = await drive(h.clock, h.service.ping('alice', { count: 1 }));
    assert.deepEqual(h.dials, ['alice']);
    assert.equal(r.dial?.id, PEER);
    assert.deepEqual(r.pings, [{ seq: 1, rttMs: 7, path: r.path }]);
    await drive(h.clock, h.service.ping('203.0.113.5:7000', { count: 1 }));
    assert.deepEqual(h.dials, ['alice', '203.0.113.5:7000']);
  });

  it('lost pings are counted by reason; the path is null when no session is left', async () => {
    const h = harness();
    h.sessions.set(PEER, session(h.clock, null));
    const r = await drive(h.clock, h.service.ping(PEER, { count: 2, timeoutMs: 500, intervalMs: 1_000 }, () => h.sessions.delete(PEER)));
    assert.deepEqual(r.pings, [
      { seq: 1, lost: true, reason: 'timeout' },
      { seq: 2, lost: true, reason: 'not-connected' },
    ]);
    assert.equal(r.path, null);
    assert.deepEqual([h.counters.get('ping.lost.timeout'), h.counters.get('ping.lost.not-connected')], [1, 1]);
  });

  it('bad settings and unknown peers fail before anything is sent', async () => {
    const h = harness();
    await assert.rejects(h.service.ping('alice', { count: 0 }), (e: SentinelError) => e.code === 'E_BAD_REQUEST');
    await assert.rejects(h.service.ping('nobody'), (e: SentinelError) => e.code === 'E_UNKNOWN_ID');
    assert.deepEqual(h.dials, []);
    assert.equal(h.service.active, 0, 'a failed run gives its slot back');
  });

  it(`runs at most ${MAX_PING_RUNS} at once: the next is refused with E_BUSY and counted, and admitted again once one ends`, async () => {
    const h = harness();
    const s = session(h.clock, null);
    h.sessions.set(PEER, s);
    const runs = Array.from({ length: MAX_PING_RUNS }, () => h.service.ping('alice', { count: 1, timeoutMs: 1_000 }));
    assert.equal(h.service.active, MAX_PING_RUNS);
    await assert.rejects(h.service.ping('alice', { count: 1 }), (e: SentinelError) => e.code === 'E_BUSY');
    assert.equal(h.counters.get('ping.refused_busy'), 1);
    await drive(h.clock, Promise.all(runs));
    assert.equal(h.service.active, 0);
    h.sessions.set(PEER, session(h.clock, 1));
    const again = await drive(h.clock, h.service.ping('alice', { count: 1 }));
    assert.equal(again.summary.received, 1);
  });
});
