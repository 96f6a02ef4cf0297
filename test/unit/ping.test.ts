/**
 * The ping module (src/ping/) on its own: settings, path descriptions, the run with a fake
 * clock and a scripted session (RTTs, lost pings, pacing, a session that changes path or
 * goes away, abort), the summary and the text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PingPath, PingReply } from '../../src/api.js';
import {
  PING_DEFAULT_COUNT,
  PING_DEFAULT_INTERVAL_MS,
  PING_DEFAULT_TIMEOUT_MS,
  formatPath,
  formatReply,
  formatSummary,
  isLanAddress,
  pathOf,
  pingSettings,
  runPings,
  summarize,
  type PingSession,
} from '../../src/ping/index.js';
import type { ProbeOutcome } from '../../src/transport/session.js';
import { fakeClock, type FakeClock } from '../helpers/fake-clock.js';

const SIG = 'b'.repeat(56);
const DIRECT: PingPath = pathOf({ method: 'outbound', remoteAddress: '203.0.113.5:7000' }, null);
const RELAYED: PingPath = pathOf({ method: 'relay', remoteAddress: `relay ${SIG} at 198.51.100.1:8888` }, SIG);

/**
 * A session whose peer answers each PING after `rtts[i]` ms (null: never), on `path`; the
 * run's clock is also its RTT clock, so every RTT is exact.
 */
function scripted(clock: FakeClock, rtts: (number | null)[], path: PingPath = DIRECT): PingSession & { sent: number[] } {
  const sent: number[] = [];
  return {
    sent,
    path: () => path,
    probe(onPong: () => void): ProbeOutcome {
      const i = sent.length;
      sent.push(clock.now());
      const rtt = rtts[i];
      if (rtt !== null && rtt !== undefined) clock.setTimeout(onPong, rtt);
      return 'sent';
    },
  };
}

/** Runs to completion, moving the fake clock until the run resolves. */
async function drive<T>(clock: FakeClock, run: Promise<T>): Promise<T> {
  let done = false;
  void run.then(() => (done = true));
  for (let i = 0; i < 10_000 && !done; i++) await clock.advance(50);
  assert.ok(done, 'the run ended');
  return run;
}

describe('ping settings', () => {
  it('defaults to 4 pings, 1 s apart, 2 s timeout', () => {
    assert.deepEqual(pingSettings(), { count: PING_DEFAULT_COUNT, intervalMs: PING_DEFAULT_INTERVAL_MS, timeoutMs: PING_DEFAULT_TIMEOUT_MS });
    assert.deepEqual([PING_DEFAULT_COUNT, PING_DEFAULT_INTERVAL_MS, PING_DEFAULT_TIMEOUT_MS], [4, 1000, 2000]);
  });

  it('refuses what is out of bounds or not an integer, naming the setting', () => {
    for (const [opts, name] of [
      [{ count: 0 }, 'count'],
      [{ count: 1001 }, 'count'],
      [{ count: 1.5 }, 'count'],
      [{ intervalMs: 999 }, 'intervalMs'],
      [{ intervalMs: 60_001 }, 'intervalMs'],
      [{ timeoutMs: 99 }, 'timeoutMs'],
      [{ timeoutMs: 10_001 }, 'timeoutMs'],
    ] as const) {
      assert.throws(() => pingSettings(opts), (e: Error & { code?: string }) => e.code === 'E_BAD_REQUEST' && e.message.includes(name), JSON.stringify(opts));
    }
    assert.deepEqual(pingSettings({ count: 1000, intervalMs: 60_000, timeoutMs: 100 }), { count: 1000, intervalMs: 60_000, timeoutMs: 100 });
  });
});

describe('ping path', () => {
  it('a direct session: address, how it was reached, and whether on the LAN', () => {
    assert.deepEqual(DIRECT, { kind: 'direct', address: '203.0.113.5:7000', method: 'outbound', via: 'dialed', lan: false, relay: null, relayKind: null });
    assert.equal(pathOf({ method: 'tcp-simultaneous-open', remoteAddress: '203.0.113.5:7000' }, null).via, 'punched');
    assert.equal(pathOf({ method: 'inbound', remoteAddress: '[fe80::1]:7000' }, null).via, 'inbound');
    assert.equal(formatPath(DIRECT), 'direct 203.0.113.5:7000 (dialed)');
    assert.equal(formatPath(pathOf({ method: 'tcp-simultaneous-open', remoteAddress: '192.168.1.4:8443' }, null)), 'direct 192.168.1.4:8443 (punched, lan)');
    assert.equal(pathOf({ method: 'inbound', remoteAddress: '[::1]:7000' }, null).lan, true);
  });

  it('a relayed session: the relay, and whether it is our signaler or a peer relay', () => {
    assert.deepEqual(RELAYED, { kind: 'relay', address: '198.51.100.1:8888', method: 'relay', via: 'relay', lan: false, relay: `${SIG} at 198.51.100.1:8888`, relayKind: 'signaler' });
    const peerRelay = pathOf({ method: 'relay', remoteAddress: `relay ${'c'.repeat(56)} at [2001:db8::1]:8443` }, SIG);
    assert.equal(peerRelay.relayKind, 'peer');
    assert.equal(peerRelay.address, '[2001:db8::1]:8443');
    assert.equal(formatPath(RELAYED, (id) => id.slice(0, 4)), 'relay bbbb at 198.51.100.1:8888 (the signaler)');
    assert.equal(formatPath(peerRelay, (id) => id.slice(0, 4)), 'relay cccc at [2001:db8::1]:8443 (a peer relay)');
  });

  it('LAN addresses: private, loopback, link-local; not public, carrier-grade NAT or names', () => {
    for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.10', '127.0.0.1', '169.254.1.1', '::1', 'fd12::1', 'fe80::1%eth0', '::ffff:192.168.1.1']) assert.equal(isLanAddress(a), true, a);
    for (const a of ['8.8.8.8', '172.32.0.1', '100.64.0.1', '2001:db8::1', 'example.com', '']) assert.equal(isLanAddress(a), false, a);
  });
});

describe('a ping run', () => {
  it('measures each RTT exactly and paces pings one interval apart', async () => {
    const clock = fakeClock(1_000);
    const s = scripted(clock, [12, 3, 40]);
    const seen: PingReply[] = [];
    const replies = await drive(clock, runPings({ count: 3, intervalMs: 1_000, timeoutMs: 2_000 }, { session: () => s, clock, onReply: (r) => seen.push(r) }));
    assert.deepEqual(replies, [
      { seq: 1, rttMs: 12, path: DIRECT },
      { seq: 2, rttMs: 3, path: DIRECT },
      { seq: 3, rttMs: 40, path: DIRECT },
    ]);
    assert.deepEqual(seen, replies, 'each reply is reported as it comes');
    assert.deepEqual(s.sent, [1_000, 2_000, 3_000], 'one PING per interval, from the start of the previous one');
  });

  it('a PONG later than the timeout is a lost ping; the next ping goes out right after the timeout', async () => {
    const clock = fakeClock(0);
    const s = scripted(clock, [null, 2_500, 5]);
    const replies = await drive(clock, runPings({ count: 3, intervalMs: 1_000, timeoutMs: 2_000 }, { session: () => s, clock }));
    assert.deepEqual(replies, [
      { seq: 1, lost: true, reason: 'timeout' },
      { seq: 2, lost: true, reason: 'timeout' },
      { seq: 3, rttMs: 5, path: DIRECT },
    ]);
    assert.deepEqual(s.sent, [0, 2_000, 4_000]);
  });

  it('no session: lost as not-connected; a refused probe: rate-limited or not-connected', async () => {
    const clock = fakeClock(0);
    const outcomes: ProbeOutcome[] = ['rate-limited', 'closed'];
    const refusing: PingSession = { path: () => DIRECT, probe: () => outcomes.shift() ?? 'closed' };
    const sessions: (PingSession | undefined)[] = [undefined, refusing, refusing];
    const replies = await drive(clock, runPings({ count: 3, intervalMs: 1_000, timeoutMs: 2_000 }, { session: () => sessions.shift(), clock }));
    assert.deepEqual(replies, [
      { seq: 1, lost: true, reason: 'not-connected' },
      { seq: 2, lost: true, reason: 'rate-limited' },
      { seq: 3, lost: true, reason: 'not-connected' },
    ]);
  });

  it('each ping takes the session of the moment: a relayed peer that moved to a direct path shows it', async () => {
    const clock = fakeClock(0);
    const relayed = scripted(clock, [30], RELAYED);
    const direct = scripted(clock, [2], DIRECT);
    let current: PingSession = relayed;
    const run = runPings({ count: 2, intervalMs: 1_000, timeoutMs: 2_000 }, { session: () => current, clock, onReply: () => (current = direct) });
    const replies = await drive(clock, run);
    assert.deepEqual(replies.map((r) => ('rttMs' in r ? [r.rttMs, r.path.kind] : r)), [[30, 'relay'], [2, 'direct']]);
  });

  it('RTTs come from the high-resolution clock when one is given', async () => {
    const clock = fakeClock(0);
    let hr = 100.25;
    const s: PingSession = { path: () => DIRECT, probe: (onPong) => (clock.setTimeout(() => ((hr += 0.4123456), onPong()), 0), 'sent') };
    const replies = await drive(clock, runPings({ count: 1, intervalMs: 1_000, timeoutMs: 2_000 }, { session: () => s, clock, hrNow: () => hr }));
    assert.deepEqual(replies, [{ seq: 1, rttMs: 0.412, path: DIRECT }], 'to the microsecond');
  });

  it('an abort ends the run at once with the replies so far, and leaves no timer behind', async () => {
    const clock = fakeClock(0);
    const s = scripted(clock, [5, null, null, null]);
    const ac = new AbortController();
    const run = runPings({ count: 4, intervalMs: 1_000, timeoutMs: 2_000 }, { session: () => s, clock, signal: ac.signal, onReply: () => clock.setTimeout(() => ac.abort(), 1_500) });
    const replies = await drive(clock, run);
    assert.deepEqual(replies, [{ seq: 1, rttMs: 5, path: DIRECT }]);
    assert.deepEqual(s.sent, [0, 1_000], 'the ping in flight is dropped, none after it');
    assert.equal(clock.pending, 0);
  });
});

describe('ping summary and text', () => {
  const replies: PingReply[] = [
    { seq: 1, rttMs: 0.5, path: DIRECT },
    { seq: 2, lost: true, reason: 'timeout' },
    { seq: 3, rttMs: 1.25, path: DIRECT },
  ];

  it('counts, loss in percent, min/avg/max', () => {
    assert.deepEqual(summarize(replies), { sent: 3, received: 2, lossPercent: 33.3, minMs: 0.5, avgMs: 0.875, maxMs: 1.25 });
    assert.deepEqual(summarize([{ seq: 1, lost: true, reason: 'timeout' }]), { sent: 1, received: 0, lossPercent: 100, minMs: null, avgMs: null, maxMs: null });
    assert.deepEqual(summarize([]), { sent: 0, received: 0, lossPercent: 0, minMs: null, avgMs: null, maxMs: null });
  });

  it('one line per reply, then the statistics', () => {
    assert.equal(formatReply(replies[0] as PingReply, 'alice'), 'pong from alice via direct 203.0.113.5:7000 (dialed): seq=1 time=0.500 ms');
    assert.equal(formatReply(replies[1] as PingReply, 'alice'), 'no pong from alice: seq=2 lost (no pong in time)');
    assert.equal(formatReply({ seq: 4, rttMs: 123.4, path: RELAYED }, 'bob', (id) => id.slice(0, 8)), 'pong from bob via relay bbbbbbbb at 198.51.100.1:8888 (the signaler): seq=4 time=123 ms');
    assert.equal(formatSummary(summarize(replies), 'alice'), '--- alice ping statistics ---\n3 sent, 2 received, 33.3% loss, rtt min/avg/max 0.500/0.875/1.250 ms');
    assert.equal(formatSummary(summarize([replies[1] as PingReply]), 'alice'), '--- alice ping statistics ---\n1 sent, 0 received, 100% loss');
  });
});
