/**
 * Session.probe (the PINGs of `sentinel ping`) between two real Sessions over a memory pipe
 * with a fake clock: the PONG reaches the caller, our own PINGs stay within the budget the
 * peer accepts, and a long ping run at one per second plus the keepalive never reads as a
 * PING flood to the peer.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { SentinelError } from '../../src/errors.js';
import { Counters, OUTBOUND_PING_RATE, PING_RATE, Session } from '../../src/transport/index.js';
import { pipePair } from '../../src/transports/memory.js';
import { FrameDecoder, FrameType } from '../../src/wire/index.js';
import { fakeClock, type FakeClock } from '../helpers/fake-clock.js';

const PING_INTERVAL_MS = 5_000;

interface Pair {
  a: Session;
  b: Session;
  clock: FakeClock;
  bCounters: Counters;
  closed: { a: (SentinelError | undefined)[]; b: (SentinelError | undefined)[] };
  /** PINGs that arrived at B (on the wire, before B's own handling). */
  pingsAtB: number[];
}

const open: Session[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close(0, 'test over');
});

function pair(): Pair {
  const clock = fakeClock(0);
  const [x, y] = pipePair({ host: '10.0.0.1', port: 1 }, { host: '10.0.0.2', port: 2 });
  const closed: Pair['closed'] = { a: [], b: [] };
  const pingsAtB: number[] = [];
  const decoder = new FrameDecoder();
  y.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) if (f.type === FrameType.PING) pingsAtB.push(clock.now());
  });
  const bCounters = new Counters();
  const make = (socket: typeof x, peerId: string, who: 'a' | 'b', counters: Counters): Session =>
    new Session({
      socket,
      peerId,
      dialerId: 'a',
      method: who === 'a' ? 'outbound' : 'inbound',
      remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`,
      localHello: { listenPort: 0, name: who },
      limits: { pingIntervalMs: PING_INTERVAL_MS, deadAfterMs: 15_000, maxWriteBufferBytes: 1 << 20, maxPayload: 1 << 20 },
      clock,
      counters,
      handlers: { onFrame: () => {}, onHello: () => {}, onClose: (_s, reason) => closed[who].push(reason) },
    });
  const a = make(x, 'b', 'a', new Counters());
  const b = make(y, 'a', 'b', bCounters);
  a.start();
  b.start();
  open.push(a, b);
  return { a, b, clock, bCounters, closed, pingsAtB };
}

describe('Session.probe', () => {
  it('sends a PING whose PONG reaches the caller once, and updates the RTT', async () => {
    const p = pair();
    await p.clock.advance(10);
    let pongs = 0;
    assert.equal(p.a.probe(() => pongs++), 'sent');
    await p.clock.advance(10);
    assert.equal(pongs, 1);
    assert.equal(p.a.rttMs, 0, 'answered within the same fake instant');
    await p.clock.advance(10_000);
    assert.equal(pongs, 1, 'called once, not again for keepalive PONGs');
  });

  it('holds back PINGs beyond our outbound budget (half the burst the peer allows), then refills', async () => {
    const p = pair();
    assert.ok(OUTBOUND_PING_RATE.burst < PING_RATE.burst && OUTBOUND_PING_RATE.perSecond <= PING_RATE.perSecond);
    // The PING that left with HELLO took one token.
    const outcomes = Array.from({ length: OUTBOUND_PING_RATE.burst }, () => p.a.probe(() => {}));
    assert.deepEqual(outcomes, [...Array(OUTBOUND_PING_RATE.burst - 1).fill('sent'), 'rate-limited']);
    await p.clock.advance(1_000 / OUTBOUND_PING_RATE.perSecond);
    assert.equal(p.a.probe(() => {}), 'sent');
    assert.equal(p.a.probe(() => {}), 'rate-limited');
    await p.clock.advance(10);
    assert.deepEqual(p.closed.b, [], 'the peer took none of it for a flood');
  });

  it('a closed session refuses probes', async () => {
    const p = pair();
    p.a.close(0, 'bye');
    assert.equal(p.a.probe(() => {}), 'closed');
  });

  it('two minutes of one probe a second: every PONG back, no keepalive on top, the peer never sees a flood', async () => {
    const p = pair();
    let pongs = 0;
    const outcomes: string[] = [];
    for (let i = 0; i < 120; i++) {
      outcomes.push(p.a.probe(() => pongs++));
      await p.clock.advance(1_000);
    }
    assert.deepEqual(new Set(outcomes), new Set(['sent']));
    assert.equal(pongs, 120);
    assert.deepEqual(p.closed, { a: [], b: [] }, 'both sessions are up');
    assert.equal(p.bCounters.get('protocol_errors.E_PROTOCOL'), 0);
    // The HELLO's PING, then exactly the probes: a probe stands in for that interval's keepalive.
    assert.equal(p.pingsAtB.length, 1 + 120);
    // Then the keepalive takes over again.
    await p.clock.advance(3 * PING_INTERVAL_MS);
    assert.ok(p.pingsAtB.length >= 1 + 120 + 2, `keepalives resume: ${p.pingsAtB.length}`);
    assert.deepEqual(p.closed, { a: [], b: [] });
  });
});
