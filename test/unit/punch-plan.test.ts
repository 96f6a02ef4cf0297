import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { generateIdentity } from '../../src/identity/index.js';
import {
  CALLER_LEAD_MS,
  GIVE_UP_AFTER_REFUSED_ROUNDS,
  natKind,
  OPENER_TTLS,
  planPunch,
  PROBE_COUNT,
  punchRole,
  punchRound,
  randomPorts,
  refusedVerdict,
  runPunch,
  SHIELD_MS,
  SPRAY_COUNT,
  type PunchIo,
  type PunchPlan,
} from '../../src/punch/index.js';
import { MAX_LOCAL_CANDIDATES } from '../../src/punch/guard.js';
import type { Clock } from '../../src/transport/index.js';
import type { PunchStart } from '../../src/wire/index.js';

const peer = generateIdentity();
const me = generateIdentity();
function start(over: Partial<PunchStart> = {}): PunchStart {
  return { reqId: 0, peer: peer.publicKey, delayMs: 40, attempts: 3, intervalMs: 100, listenPort: 8443, public: { host: '203.0.113.20', port: 8443 }, local: [{ host: '192.168.2.10', port: 8443 }], sameNat: false, ...over };
}
const easySelf = { id: me.id, observed: { host: '203.0.113.10', port: 9000 }, listenPort: 9000, localHosts: ['192.168.1.10'] };
const hardSelf = { id: me.id, observed: { host: '203.0.113.10', port: 51234 }, listenPort: 9000, localHosts: ['192.168.1.10'] };
const publicSelf = { id: me.id, observed: { host: '203.0.113.10', port: 9000 }, listenPort: 9000, localHosts: ['203.0.113.10'] };
/** The peer's PUNCH_START when it is public (its observed address among its locals). */
const publicPeer = { public: { host: '203.0.113.20', port: 8443 }, local: [{ host: '203.0.113.20', port: 8443 }] };

describe('NAT kinds', () => {
  it('public when the observed address is our own, easy when the port is kept, hard otherwise', () => {
    assert.equal(natKind({ host: '203.0.113.5', port: 1 }, 1, ['203.0.113.5']), 'public');
    assert.equal(natKind({ host: '203.0.113.5', port: 8443 }, 8443, ['192.168.1.2']), 'easy');
    assert.equal(natKind({ host: '203.0.113.5', port: 40001 }, 8443, ['192.168.1.2']), 'hard');
    assert.equal(natKind(null, 8443, []), 'unknown');
  });
});

describe('planPunch', () => {
  it('easy x easy: simultaneous open to the public endpoint at receipt + delay', () => {
    const p = planPunch(start(), 1000, easySelf);
    assert.deepEqual(p.candidates, [{ host: '203.0.113.20', port: 8443 }]);
    assert.equal(p.startAt, 1040);
    assert.equal(p.birthday, null);
    assert.equal(p.impossible, null);
    assert.equal(p.peer, peer.id);
  });
  it('same NAT: local addresses on our own links first, at most MAX_LOCAL_CANDIDATES', () => {
    const onLink = (h: string): boolean => h.startsWith('192.168.2.');
    const p = planPunch(start({ sameNat: true }), 0, { ...easySelf, onLink });
    assert.deepEqual(p.candidates.map((c) => c.host), ['192.168.2.10', '203.0.113.20']);
    const many = Array.from({ length: 16 }, (_, i) => ({ host: `192.168.2.${i + 1}`, port: 8443 }));
    const capped = planPunch(start({ sameNat: true, local: many }), 0, { ...easySelf, onLink });
    assert.equal(capped.candidates.length, MAX_LOCAL_CANDIDATES + 1, 'locals are capped, the public endpoint stays');
  });
  it('same NAT: reported local addresses off our links are never dialed (reflection)', () => {
    const victim = [{ host: '198.51.100.99', port: 22 }, { host: '10.9.9.9', port: 80 }];
    const p = planPunch(start({ sameNat: true, local: victim }), 0, { ...easySelf, onLink: (h) => h.startsWith('192.168.') });
    assert.deepEqual(p.candidates.map((c) => c.host), ['203.0.113.20']);
    const noCheck = planPunch(start({ sameNat: true, local: victim }), 0, easySelf);
    assert.deepEqual(noCheck.candidates.map((c) => c.host), ['203.0.113.20'], 'without an on-link test nothing local is dialed');
  });
  it('different NATs: the reported locals are ignored', () => {
    const p = planPunch(start({ sameNat: false }), 0, { ...easySelf, onLink: () => true });
    assert.deepEqual(p.candidates.map((c) => c.host), ['203.0.113.20']);
  });
  it('hard x hard: impossible, with the reason', () => {
    const p = planPunch(start({ public: { host: '203.0.113.20', port: 40000 } }), 0, hardSelf);
    assert.match(p.impossible ?? '', /NAT/);
  });
  it('easy x hard: the easy side probes random ports, the hard side sprays once the probes had time to open', () => {
    const probe = planPunch(start({ public: { host: '203.0.113.20', port: 40000 } }), 0, easySelf);
    assert.equal(probe.birthday?.role, 'probe');
    const spray = planPunch(start(), 0, hardSelf);
    assert.deepEqual(spray.birthday, { role: 'spray', target: { host: '203.0.113.20', port: 8443 }, count: SPRAY_COUNT, afterMs: CALLER_LEAD_MS });
  });
  it('a public peer needs no birthday technique', () => {
    const p = planPunch(start({ local: [{ host: '203.0.113.20', port: 8443 }] }), 0, hardSelf);
    assert.equal(p.birthday, null);
    assert.equal(p.peerKind, 'public');
  });
  it('random probe ports are distinct and within the NAT range', () => {
    let x = 0;
    const ports = randomPorts(PROBE_COUNT, () => (x = (x * 9301 + 49297) % 233280) / 233280);
    assert.equal(new Set(ports).size, PROBE_COUNT);
    assert.ok(ports.every((p) => p >= 1024 && p <= 65535));
  });
  it('TLS roles: the smaller id is the client, and a loop back to ourselves is refused', () => {
    assert.equal(punchRole('aaa', 'bbb'), 'client');
    assert.equal(punchRole('bbb', 'aaa'), 'server');
    assert.throws(() => punchRole('aaa', 'aaa'), (e) => isSentinelError(e, 'E_SELF_DIAL'));
  });
});

describe('rounds: opener and caller', () => {
  /** The plans both ends make of one PUNCH_START pair: ours, and the peer's view of us. */
  function pair(ours: typeof easySelf, peerIsPublic = false): [PunchPlan, PunchPlan] {
    const mine = planPunch(start({ attempts: 6, intervalMs: 400, ...(peerIsPublic ? publicPeer : {}) }), 0, ours);
    const ourKey = me.publicKey;
    const ourPublic = ours.localHosts.includes(ours.observed.host);
    const theirs = planPunch(
      { reqId: 0, peer: ourKey, delayMs: 40, attempts: 6, intervalMs: 400, listenPort: ours.listenPort, public: ours.observed, local: ourPublic ? [ours.observed] : [], sameNat: false },
      0,
      peerIsPublic ? { id: peer.id, observed: { host: '203.0.113.20', port: 8443 }, listenPort: 8443, localHosts: ['203.0.113.20'] } : { id: peer.id, observed: { host: '203.0.113.20', port: 8443 }, listenPort: 8443, localHosts: ['192.168.2.10'] },
    );
    return [mine, theirs];
  }

  it('behind NATs the two ends take turns: the smaller id opens round 1, the other calls', () => {
    const [mine, theirs] = pair(easySelf);
    for (let a = 1; a <= 6; a++) {
      const [x, y] = [punchRound(mine, a), punchRound(theirs, a)];
      assert.deepEqual([x.role, y.role].sort(), ['caller', 'opener'], `round ${a}`);
      assert.equal(x.at, y.at, 'same round start on both ends');
    }
    const smaller = me.id < peer.id ? mine : theirs;
    assert.equal(punchRound(smaller, 1).role, 'opener');
    assert.equal(punchRound(smaller, 2).role, 'caller');
  });

  it('an opener sends a low TTL behind a shield at the round start; a caller sends normally after the lead', () => {
    const [mine] = pair(easySelf);
    const rounds = Array.from({ length: 6 }, (_, i) => punchRound(mine, i + 1));
    const openers = rounds.filter((r) => r.role === 'opener');
    assert.deepEqual(openers.map((r) => r.ttl), [OPENER_TTLS[0], OPENER_TTLS[1], OPENER_TTLS[0]], 'TTL 2 and 3 alternate over our opener rounds');
    for (const r of openers) {
      assert.equal(r.synAt, r.at);
      assert.equal(r.shieldMs, SHIELD_MS);
      assert.equal(r.timeoutMs, 400);
    }
    for (const r of rounds.filter((x) => x.role === 'caller')) {
      assert.equal(r.synAt, r.at + CALLER_LEAD_MS);
      assert.equal(r.ttl, null);
      assert.equal(r.timeoutMs, 400 - CALLER_LEAD_MS, 'it lives until the round ends');
    }
    assert.deepEqual(rounds.map((r) => r.at), [40, 440, 840, 1240, 1640, 2040], 'a round every interval from the agreed start');
  });

  it('with a public end, every round is plain on both ends (its SYN needs no opening, the other\'s cannot hurt it)', () => {
    const [mine, theirs] = pair(publicSelf);
    assert.equal(mine.turns, null);
    assert.equal(theirs.turns, null);
    const both = planPunch(start(publicPeer), 0, publicSelf);
    assert.equal(both.turns, null);
    assert.deepEqual(punchRound(both, 2), { attempt: 2, role: 'plain', at: 140, synAt: 140, ttl: null, shieldMs: null, timeoutMs: 100 });
    const peerPublic = planPunch(start(publicPeer), 0, easySelf);
    assert.equal(peerPublic.turns, null);
  });

  it('a short interval caps the lead and the shield at half of it', () => {
    const plan = planPunch(start({ intervalMs: 60 }), 0, easySelf);
    const caller = [1, 2].map((a) => punchRound(plan, a)).find((r) => r.role === 'caller');
    const opener = [1, 2].map((a) => punchRound(plan, a)).find((r) => r.role === 'opener');
    assert.equal((caller?.synAt ?? 0) - (caller?.at ?? 0), 30);
    assert.equal(opener?.shieldMs, 30);
  });

  it('local candidates are counted so the executor dials them plainly', () => {
    const onLink = (h: string): boolean => h.startsWith('192.168.2.');
    const p = planPunch(start({ sameNat: true }), 0, { ...easySelf, onLink });
    assert.equal(p.locals, 1);
    assert.equal(planPunch(start(), 0, easySelf).locals, 0);
  });
});

describe('refusedVerdict', () => {
  const refused = { role: 'caller' as const, errors: ['ECONNREFUSED'], sent: 1 };
  const silent = { role: 'opener' as const, errors: [], sent: 0 };
  it(`gives up after ${GIVE_UP_AFTER_REFUSED_ROUNDS} rounds in a row whose every normal-TTL SYN was refused; opener rounds say nothing`, () => {
    assert.equal(refusedVerdict([silent, refused]), null);
    assert.match(refusedVerdict([silent, refused, silent, { ...refused, errors: ['EHOSTUNREACH'] }]) ?? '', /refused \(ECONNREFUSED, EHOSTUNREACH\)/);
  });
  it('not when a SYN timed out, connected or failed otherwise, nor when one of two candidates was not refused', () => {
    assert.equal(refusedVerdict([refused, { role: 'caller', errors: ['ETIMEDOUT'], sent: 1 }]), null);
    assert.equal(refusedVerdict([refused, { role: 'caller', errors: [], sent: 1 }]), null, 'a SYN that did not fail');
    assert.equal(refusedVerdict([refused, { role: 'plain', errors: ['ECONNREFUSED'], sent: 2 }]), null, 'one of two candidates did not fail');
    assert.equal(refusedVerdict([{ role: 'plain', errors: ['ECONNREFUSED', 'EHOSTUNREACH'], sent: 2 }, refused]) !== null, true);
  });
  it('only the latest rounds count', () => {
    assert.equal(refusedVerdict([refused, refused, { role: 'caller', errors: ['ETIMEDOUT'], sent: 1 }]), null);
  });
});

/** A fake clock whose timers fire when `advance` is called. */
function fakeClock(): Clock & { advance(ms: number): Promise<void> } {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let next = 1;
  const clock = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      const id = next++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (h: unknown) => (timers = timers.filter((t) => t.id !== h)),
    setInterval: () => 0,
    clearInterval: () => {},
    async advance(ms: number) {
      const end = now + ms;
      for (;;) {
        await new Promise((r) => setImmediate(r));
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = end;
      await new Promise((r) => setImmediate(r));
    },
  };
  return clock;
}

describe('runPunch', () => {
  it('retries every interval and succeeds when a later SYN gets through', async () => {
    const clock = fakeClock();
    let calls = 0;
    const io: PunchIo = {
      clock,
      // Like fighterConnect: the SYN goes unanswered until the attempt's own timeout.
      connect: ({ timeoutMs, signal }) =>
        new Promise((resolve, reject) => {
          calls++;
          if (calls === 3) return resolve(new Duplex({ read() {}, write(_c, _e, cb) { cb(); } }));
          clock.setTimeout(() => reject(new Error('ETIMEDOUT')), timeoutMs);
          signal.addEventListener('abort', () => reject(new Error('ECANCELED')));
        }),
      connectEphemeral: () => Promise.reject(new Error('unused')),
      adopt: async (_s, p) => ({ peerId: p, remoteAddress: '203.0.113.20:8443' }),
      existing: () => undefined,
      sessionUp: () => new Promise(() => {}),
    };
    const plan = planPunch(start({ attempts: 5 }), 0, easySelf);
    const done = runPunch(plan, io);
    await clock.advance(1000);
    const r = await done;
    assert.equal(r.peerId, peer.id);
    assert.equal(calls, 3);
  });

  it('fails with the NAT kinds and the last errors after all attempts', async () => {
    const clock = fakeClock();
    const io: PunchIo = {
      clock,
      connect: () => Promise.reject(Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' })),
      connectEphemeral: () => Promise.reject(new Error('unused')),
      adopt: () => Promise.reject(new Error('unused')),
      existing: () => undefined,
      sessionUp: () => new Promise(() => {}),
    };
    const done = runPunch(planPunch(start({ attempts: 2 }), 0, easySelf), io);
    const check = assert.rejects(done, (e) => isSentinelError(e, 'E_DIAL_FAILED') && /2 attempts/.test(e.message) && /ECONNREFUSED/.test(e.message) && /easy NAT here/.test(e.message));
    await clock.advance(1000);
    await check;
  });

  /** Connect calls with the clock time they were made at; every SYN goes unanswered (or `answer`). */
  function recordingIo(clock: ReturnType<typeof fakeClock>, answer?: (o: { host: string; ttl?: number }) => Error | undefined): { io: PunchIo; calls: Array<{ at: number; host: string; ttl?: number; shieldMs?: number; timeoutMs: number }> } {
    const calls: Array<{ at: number; host: string; ttl?: number; shieldMs?: number; timeoutMs: number }> = [];
    const io: PunchIo = {
      clock,
      connect: (o) =>
        new Promise((_resolve, reject) => {
          calls.push({ at: clock.now(), host: o.host, timeoutMs: o.timeoutMs, ...(o.ttl !== undefined ? { ttl: o.ttl } : {}), ...(o.shieldMs !== undefined ? { shieldMs: o.shieldMs } : {}) });
          const err = answer?.(o);
          if (err) return reject(err);
          clock.setTimeout(() => reject(Object.assign(new Error('ETIMEDOUT'), { code: 'ETIMEDOUT' })), o.timeoutMs);
          o.signal.addEventListener('abort', () => reject(Object.assign(new Error('ECANCELED'), { code: 'ECANCELED' })));
        }),
      connectEphemeral: () => Promise.reject(new Error('unused')),
      adopt: () => Promise.reject(new Error('unused')),
      existing: () => undefined,
      sessionUp: () => new Promise(() => {}),
    };
    return { io, calls };
  }

  it('opener rounds send the shielded low-TTL SYN at the round start, caller rounds the normal one after the lead; local candidates plainly', async () => {
    const clock = fakeClock();
    const { io, calls } = recordingIo(clock);
    const onLink = (h: string): boolean => h.startsWith('192.168.2.');
    const plan = planPunch(start({ attempts: 2, intervalMs: 400, sameNat: true }), 0, { ...easySelf, onLink });
    const done = runPunch(plan, io).catch((e: unknown) => e);
    await clock.advance(2_000);
    await done;
    const opensFirst = me.id < peer.id;
    const publicCalls = calls.filter((c) => c.host === '203.0.113.20');
    const [opener, caller] = opensFirst ? publicCalls : [publicCalls[1], publicCalls[0]];
    assert.deepEqual(opener, { at: opensFirst ? 40 : 440, host: '203.0.113.20', ttl: OPENER_TTLS[0], shieldMs: SHIELD_MS, timeoutMs: 400 });
    assert.deepEqual(caller, { at: (opensFirst ? 440 : 40) + CALLER_LEAD_MS, host: '203.0.113.20', timeoutMs: 400 - CALLER_LEAD_MS });
    assert.deepEqual(
      calls.filter((c) => c.host === '192.168.2.10'),
      [40, 440].map((at) => ({ at, host: '192.168.2.10', timeoutMs: 400 })),
      'the LAN candidate: a plain SYN at every round start',
    );
  });

  it(`gives up after ${GIVE_UP_AFTER_REFUSED_ROUNDS} rounds whose every normal SYN was refused, naming the refusals`, async () => {
    const clock = fakeClock();
    // Our own network resets every SYN that has the normal TTL (the opener's is shielded).
    const { io, calls } = recordingIo(clock, (o) => (o.ttl === undefined ? Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' }) : undefined));
    const plan = planPunch(start({ attempts: 20, intervalMs: 400 }), 0, easySelf);
    const done = runPunch(plan, io);
    const check = assert.rejects(done, (e) => isSentinelError(e, 'E_DIAL_FAILED') && /gave up/.test(e.message) && /refused \(ECONNREFUSED\)/.test(e.message));
    await clock.advance(20 * 400);
    await check;
    // Caller rounds alternate with opener rounds; the opener's SYN, shielded, says nothing.
    const rounds = me.id < peer.id ? 2 * GIVE_UP_AFTER_REFUSED_ROUNDS : 2 * GIVE_UP_AFTER_REFUSED_ROUNDS - 1;
    assert.equal(calls.length, rounds, 'the refused caller rounds and the opener rounds between them, then nothing more');
  });

  it('silence is not refusal: unanswered SYNs run every round', async () => {
    const clock = fakeClock();
    const { io, calls } = recordingIo(clock);
    const done = runPunch(planPunch(start({ attempts: 6, intervalMs: 400 }), 0, easySelf), io);
    const check = assert.rejects(done, (e) => isSentinelError(e, 'E_DIAL_FAILED') && /timed out after 6 attempts/.test(e.message));
    await clock.advance(6 * 400 + 100);
    await check;
    assert.equal(calls.length, 6);
  });

  it('a birthday spray waits for the lead; the probes go at the start', async () => {
    const clock = fakeClock();
    const sprayed: number[] = [];
    const { io } = recordingIo(clock);
    io.connectEphemeral = ({ signal, timeoutMs }) =>
      new Promise((_r, reject) => {
        sprayed.push(clock.now());
        clock.setTimeout(() => reject(new Error('ETIMEDOUT')), timeoutMs);
        signal.addEventListener('abort', () => reject(new Error('ECANCELED')));
      });
    const done = runPunch(planPunch(start({ attempts: 1, intervalMs: 400 }), 0, hardSelf), io).catch(() => undefined);
    await clock.advance(2 * 400);
    await done;
    assert.equal(sprayed.length, SPRAY_COUNT);
    assert.ok(sprayed.every((t) => t === 40 + CALLER_LEAD_MS), `spray at ${sprayed[0]}`);
  });

  it('refuses at once when the plan is impossible', async () => {
    const io = { clock: fakeClock(), sessionUp: () => new Promise(() => {}) } as unknown as PunchIo;
    await assert.rejects(runPunch(planPunch(start({ public: { host: '203.0.113.20', port: 40000 } }), 0, hardSelf), io), (e) => isSentinelError(e, 'E_DIAL_FAILED') && /relay/.test(e.message));
  });
});
