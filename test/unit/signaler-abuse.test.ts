/**
 * Signaler abuse (issue 8), pure parts: the punch limiter (punch storms), the local
 * endpoint filter (reflection through local endpoints), and the endpoint list cap of the
 * wire codec. Time is passed in, so every count is exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import type { NodeId } from '../../src/api.js';
import { nodeIdFromPublicKey } from '../../src/identity/index.js';
import {
  MAX_PUNCH_IPS_PER_TARGET,
  MAX_PUNCH_PAIRS,
  PUNCH_PAIR_INTERVAL_MS,
  PUNCH_TARGET_IP_RATE,
  PUNCH_TARGET_RATE,
  SIGNAL_MAX_LOCAL_ENDPOINTS,
  TokenBucket,
} from '../../src/signaler/index.js';
import { filterLocals, isPrivateUnicast, localsFor } from '../../src/signaler/locals.js';
import { DEFAULT_PUNCH_LIMITS, PunchLimiter, type PunchLimits } from '../../src/signaler/punch-limits.js';
import { decodeRegister, encodeRegister, MAX_ENDPOINTS } from '../../src/wire/index.js';

const newId = (): NodeId => nodeIdFromPublicKey(randomBytes(32));

describe('TokenBucket.canTake', () => {
  it('looks without taking', () => {
    const b = new TokenBucket(1, 1, 0);
    assert.equal(b.canTake(0), true);
    assert.equal(b.canTake(0), true);
    assert.equal(b.take(0), true);
    assert.equal(b.canTake(999), false);
    assert.equal(b.canTake(1_000), true);
  });
});

describe('PunchLimiter', () => {
  it('defaults are the named limits', () => {
    assert.deepEqual(DEFAULT_PUNCH_LIMITS, {
      target: PUNCH_TARGET_RATE,
      targetIp: PUNCH_TARGET_IP_RATE,
      pairIntervalMs: PUNCH_PAIR_INTERVAL_MS,
      maxPairs: MAX_PUNCH_PAIRS,
      maxIpsPerTarget: MAX_PUNCH_IPS_PER_TARGET,
    });
  });

  it('one punch per (requester, target) per interval', () => {
    const p = new PunchLimiter();
    const [a, t] = [newId(), newId()];
    assert.equal(p.admit(a, '198.51.100.1', t, 0), null);
    assert.equal(p.admit(a, '198.51.100.1', t, PUNCH_PAIR_INTERVAL_MS - 1), 'pair');
    assert.equal(p.admit(a, '198.51.100.1', newId(), 1), null, 'another target is another pair');
    assert.equal(p.admit(a, '198.51.100.1', t, PUNCH_PAIR_INTERVAL_MS), null);
  });

  it('32 throw-away ids behind one address get the per-address burst for one target, then its rate', () => {
    const p = new PunchLimiter();
    const t = newId();
    const ids = Array.from({ length: 32 }, newId);
    const first = ids.map((a) => p.admit(a, '198.51.100.1', t, 0));
    assert.equal(first.filter((r) => r === null).length, PUNCH_TARGET_IP_RATE.burst);
    assert.equal(first.filter((r) => r === 'target_ip').length, 32 - PUNCH_TARGET_IP_RATE.burst);
    // 10 s later the address has earned perSecond x 10 tokens, capped at its burst.
    const later = ids.map((a) => p.admit(a, '198.51.100.1', t, 10_000));
    assert.equal(later.filter((r) => r === null).length, Math.min(PUNCH_TARGET_IP_RATE.burst, PUNCH_TARGET_IP_RATE.perSecond * 10));
  });

  it('the target total holds whoever asks, from however many addresses; a refusal spends nothing', () => {
    const p = new PunchLimiter();
    const t = newId();
    const count = PUNCH_TARGET_RATE.burst + 12;
    const got = Array.from({ length: count }, (_, i) => p.admit(newId(), `198.51.100.${i + 1}`, t, 0));
    assert.equal(got.filter((r) => r === null).length, PUNCH_TARGET_RATE.burst);
    assert.equal(got.filter((r) => r === 'target').length, count - PUNCH_TARGET_RATE.burst);
    // A requester refused by the total kept its per-address tokens and its pair slot.
    const a = newId();
    assert.equal(p.admit(a, '203.0.113.1', t, 0), 'target');
    assert.equal(p.admit(a, '203.0.113.1', t, 1_000), null, 'the total refilled; no pair record from the refusal');
  });

  it('a single-address storm leaves room for others (the per-address rate is below the total)', () => {
    const p = new PunchLimiter();
    const t = newId();
    let attacker = 0;
    let legit = 0;
    for (let ms = 0; ms <= 60_000; ms += 50) {
      if (p.admit(newId(), '198.51.100.1', t, ms) === null) attacker++;
      if (ms % 5_000 === 0 && p.admit(newId(), '192.0.2.7', t, ms) === null) legit++;
    }
    assert.equal(legit, 13, 'every one of the 13 legitimate requests got through');
    assert.equal(attacker, PUNCH_TARGET_IP_RATE.burst + PUNCH_TARGET_IP_RATE.perSecond * 60);
  });

  it('strangers at several addresses cannot use up the target total: a contact elsewhere still gets through', () => {
    // Enough attacker addresses to take all but a quarter of the total, each at its full rate.
    const addresses = Math.floor((0.75 * PUNCH_TARGET_RATE.perSecond) / PUNCH_TARGET_IP_RATE.perSecond);
    assert.ok(addresses >= 4, 'a handful of addresses is not enough to starve a target');
    const p = new PunchLimiter();
    const t = newId();
    let legit = 0;
    for (let ms = 0; ms <= 60_000; ms += 50) {
      for (let a = 0; a < addresses; a++) p.admit(newId(), `198.51.100.${a + 1}`, t, ms);
      if (ms % 5_000 === 0 && p.admit(newId(), '192.0.2.7', t, ms) === null) legit++;
    }
    assert.equal(legit, 13, 'every one of the 13 legitimate requests got through');
  });

  it('memory is bounded: pairs, addresses per target, and a target is forgotten when it unregisters', () => {
    const limits: PunchLimits = { ...DEFAULT_PUNCH_LIMITS, maxPairs: 10, maxIpsPerTarget: 3, target: { perSecond: 1_000, burst: 1_000 } };
    const p = new PunchLimiter(limits);
    const t = newId();
    for (let i = 0; i < 50; i++) p.admit(newId(), `198.51.100.${i}`, t, i);
    assert.deepEqual(p.size, { pairs: 10, targets: 1, ips: 3 });
    p.forget(t);
    assert.deepEqual(p.size, { pairs: 10, targets: 0, ips: 0 });
    // A forgotten target starts with a full budget again.
    const again = Array.from({ length: PUNCH_TARGET_IP_RATE.burst + 2 }, () => p.admit(newId(), '198.51.100.1', t, 100));
    assert.equal(again.filter((r) => r === null).length, PUNCH_TARGET_IP_RATE.burst);
  });
});

describe('local endpoints of a registration', () => {
  it('private unicast ranges only', () => {
    const yes = ['10.1.2.3', '172.16.0.1', '172.31.255.254', '192.168.1.10', '100.64.0.1', '100.127.255.254', '169.254.1.1', 'fc00::1', 'fd12:3456::1', '::ffff:192.168.1.1'];
    const no = ['8.8.8.8', '203.0.113.5', '172.32.0.1', '100.128.0.1', '127.0.0.1', '0.0.0.0', '224.0.0.251', '255.255.255.255', '240.0.0.1', '::1', '::', 'fe80::1', 'ff02::fb', '2001:db8::1'];
    for (const h of yes) assert.equal(isPrivateUnicast(h), true, h);
    for (const h of no) assert.equal(isPrivateUnicast(h), false, h);
  });

  it('keeps at most 4 private endpoints with valid ports (and the node\'s own public address); counts the rest by reason', () => {
    const observed = '198.51.100.20';
    const local = [
      { host: '203.0.113.99', port: 80 }, // the victim: public
      { host: '127.0.0.1', port: 8443 },
      { host: '224.0.0.251', port: 8443 },
      { host: '192.168.1.10', port: 0 },
      { host: '192.168.1.10', port: 8443 },
      { host: '192.168.1.10', port: 8443 },
      { host: observed, port: 8443 },
      { host: '10.0.0.5', port: 8443 },
      { host: 'fd00::5', port: 8443 },
      { host: '172.16.0.5', port: 8443 },
      { host: '172.16.0.6', port: 8443 },
    ];
    const { kept, dropped } = filterLocals(local, observed);
    assert.equal(SIGNAL_MAX_LOCAL_ENDPOINTS, 4);
    assert.deepEqual(kept, [
      { host: '192.168.1.10', port: 8443 },
      { host: observed, port: 8443 },
      { host: '10.0.0.5', port: 8443 },
      { host: 'fd00::5', port: 8443 },
    ]);
    assert.deepEqual(dropped, ['not_private', 'not_private', 'not_private', 'bad_port', 'duplicate', 'too_many', 'too_many']);
  });

  it('are told in full only to a node behind the same public address; others get only the owner\'s own public address', () => {
    const owner = { observed: { host: '198.51.100.20', port: 40_000 }, local: [{ host: '192.168.1.10', port: 8443 }, { host: '198.51.100.20', port: 8443 }] };
    assert.deepEqual(localsFor(owner, '198.51.100.20'), owner.local);
    assert.deepEqual(localsFor(owner, '192.0.2.1'), [{ host: '198.51.100.20', port: 8443 }]);
    assert.deepEqual(localsFor({ ...owner, local: [{ host: '192.168.1.10', port: 8443 }] }, '192.0.2.1'), []);
  });
});

describe('endpoint list codec', () => {
  it('refuses a count over MAX_ENDPOINTS before reading (or allocating) any endpoint', () => {
    const payload = Buffer.from([0x1f, 0x90, 0xff]); // listenPort 8080, count 255, no endpoints follow
    assert.throws(() => decodeRegister(payload), (e: Error & { code?: string }) => e.code === 'E_PAYLOAD_MALFORMED' && /255 endpoints \(max 16\)/.test(e.message));
    const max = Array.from({ length: MAX_ENDPOINTS }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 1 }));
    assert.equal(decodeRegister(encodeRegister({ listenPort: 1, local: max })).local.length, MAX_ENDPOINTS);
    assert.throws(() => encodeRegister({ listenPort: 1, local: [...max, { host: '10.0.0.99', port: 1 }] }), { code: 'E_PAYLOAD_MALFORMED' });
  });
});
