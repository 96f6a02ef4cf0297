import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { generateIdentity } from '../../src/identity/index.js';
import { natKind, planPunch, PROBE_COUNT, punchRole, randomPorts, runPunch, SPRAY_COUNT, type PunchIo } from '../../src/punch/index.js';
import { MAX_LOCAL_CANDIDATES } from '../../src/punch/guard.js';
import type { Clock } from '../../src/transport/index.js';
import type { PunchStart } from '../../src/wire/index.js';

const peer = generateIdentity();
function start(over: Partial<PunchStart> = {}): PunchStart {
  return { reqId: 0, peer: peer.publicKey, delayMs: 40, attempts: 3, intervalMs: 100, listenPort: 8443, public: { host: '203.0.113.20', port: 8443 }, local: [{ host: '192.168.2.10', port: 8443 }], sameNat: false, ...over };
}
const easySelf = { observed: { host: '203.0.113.10', port: 9000 }, listenPort: 9000, localHosts: ['192.168.1.10'] };
const hardSelf = { observed: { host: '203.0.113.10', port: 51234 }, listenPort: 9000, localHosts: ['192.168.1.10'] };

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
  it('easy x hard: the easy side probes random ports, the hard side sprays', () => {
    const probe = planPunch(start({ public: { host: '203.0.113.20', port: 40000 } }), 0, easySelf);
    assert.equal(probe.birthday?.role, 'probe');
    const spray = planPunch(start(), 0, hardSelf);
    assert.deepEqual(spray.birthday, { role: 'spray', target: { host: '203.0.113.20', port: 8443 }, count: SPRAY_COUNT });
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

  it('refuses at once when the plan is impossible', async () => {
    const io = { clock: fakeClock(), sessionUp: () => new Promise(() => {}) } as unknown as PunchIo;
    await assert.rejects(runPunch(planPunch(start({ public: { host: '203.0.113.20', port: 40000 } }), 0, hardSelf), io), (e) => isSentinelError(e, 'E_DIAL_FAILED') && /relay/.test(e.message));
  });
});
