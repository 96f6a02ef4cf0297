/**
 * Signaler abuse over real TLS on loopback (issue 8): a punch storm against one target,
 * and local endpoints aimed at a victim. Requesters at other public addresses bind
 * 127.0.0.x source addresses. The signaler's clock is frozen (real timers, `now` set by
 * the test), so the token buckets give exact counts.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity, publicKeyFromNodeId, type Identity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { PUNCH_TARGET_IP_RATE, PUNCH_TARGET_RATE, SignalerServer } from '../../src/signaler/index.js';
import { systemClock, type Clock } from '../../src/transport/index.js';
import {
  FrameDecoder,
  FrameType,
  SignalErrorCode,
  decodeLookupResult,
  decodePunchStart,
  decodeSignalError,
  encodeFrame,
  encodeHello,
  encodeLookup,
  encodePunchRequest,
  encodeRegister,
  type Endpoint,
} from '../../src/wire/index.js';
import { waitFor } from '../helpers/testnet.js';

const silent = createLogger('silent', () => {});
const servers: SignalerServer[] = [];
const sockets: tls.TLSSocket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
});

/** Real timers, but `now` only moves when the test says. */
function frozenClock(): Clock & { set(t: number): void } {
  let now = 1_000_000;
  return { ...systemClock, now: () => now, set: (t) => void (now = t) };
}

async function signaler(clock: Clock): Promise<SignalerServer> {
  const s = new SignalerServer({ identity: generateIdentity(), log: silent, clock });
  await s.listen(0, '127.0.0.1');
  servers.push(s);
  return s;
}

interface Client {
  id: Identity;
  frames: { type: number; payload: Buffer }[];
  send(type: number, payload: Buffer): void;
  of(type: number): Buffer[];
}

/** An authenticated raw client from `localAddress`, registered with `local` endpoints. */
async function client(port: number, opts: { localAddress?: string; local?: Endpoint[]; id?: Identity } = {}): Promise<Client> {
  const id = opts.id ?? generateIdentity();
  const frames: Client['frames'] = [];
  const dec = new FrameDecoder();
  const tcp = net.connect({ host: '127.0.0.1', port, localAddress: opts.localAddress ?? '127.0.0.1' });
  const sock = tls.connect({ socket: tcp, key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
  sockets.push(sock);
  sock.on('data', (d: Buffer) => frames.push(...dec.push(d)));
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  // HELLO first, as every real client does.
  sock.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' })));
  const c: Client = {
    id,
    frames,
    send: (type, payload) => void sock.write(encodeFrame(type, payload)),
    of: (type) => frames.filter((f) => f.type === type).map((f) => f.payload),
  };
  c.send(FrameType.REGISTER, encodeRegister({ listenPort: 7000, local: opts.local ?? [] }));
  await waitFor(() => c.of(FrameType.REGISTERED).length === 1, 3_000, 'registered');
  return c;
}

const punch = (c: Client, target: Client, reqId: number): void => c.send(FrameType.PUNCH_REQUEST, encodePunchRequest({ reqId, target: publicKeyFromNodeId(target.id.id) }));
const answered = (c: Client): number => c.of(FrameType.PUNCH_START).length + c.of(FrameType.SIGNAL_ERROR).length;

describe('signaler: punch storms', () => {
  it('32 throw-away ids behind one address get the per-address burst of PUNCH_STARTs to a target; a requester elsewhere still gets through', async () => {
    const clock = frozenClock();
    const sig = await signaler(clock);
    const target = await client(sig.port);
    const storm = await Promise.all(Array.from({ length: 32 }, () => client(sig.port)));
    for (const c of storm) {
      punch(c, target, 1);
      punch(c, target, 2);
    }
    await waitFor(() => storm.every((c) => answered(c) === 2), 5_000, 'every request answered');
    const started = storm.reduce((n, c) => n + c.of(FrameType.PUNCH_START).length, 0);
    assert.equal(started, PUNCH_TARGET_IP_RATE.burst);
    assert.equal(target.of(FrameType.PUNCH_START).length, PUNCH_TARGET_IP_RATE.burst, 'the target was told to punch only that often');
    const errors = storm.flatMap((c) => c.of(FrameType.SIGNAL_ERROR).map(decodeSignalError));
    assert.equal(errors.length, 64 - PUNCH_TARGET_IP_RATE.burst);
    assert.ok(errors.every((e) => e.code === SignalErrorCode.RATE_LIMITED));
    assert.equal(sig.counters.get('rate_limited.punch_pair'), PUNCH_TARGET_IP_RATE.burst, 'the winners asked twice');
    assert.equal(sig.counters.get('rate_limited.punch_target_ip'), 64 - 2 * PUNCH_TARGET_IP_RATE.burst);
    assert.equal(sig.counters.get('punches'), PUNCH_TARGET_IP_RATE.burst);

    const legit = await client(sig.port, { localAddress: '127.0.0.2' });
    punch(legit, target, 7);
    await waitFor(() => answered(legit) === 1, 3_000, 'legit answered');
    assert.equal(legit.of(FrameType.PUNCH_START).length, 1, 'a contact at another address still punches');
  });

  it('requesters at many addresses are held to the target total; the budget refills with time and is forgotten when the target leaves', async () => {
    const clock = frozenClock();
    const sig = await signaler(clock);
    const target = await client(sig.port);
    const count = PUNCH_TARGET_RATE.burst + 4;
    const askers = await Promise.all(Array.from({ length: count }, (_, i) => client(sig.port, { localAddress: `127.0.0.${i + 2}` })));
    askers.forEach((c) => punch(c, target, 1));
    await waitFor(() => askers.every((c) => answered(c) === 1), 5_000, 'answered');
    assert.equal(target.of(FrameType.PUNCH_START).length, PUNCH_TARGET_RATE.burst);
    assert.equal(sig.counters.get('rate_limited.punch_target'), count - PUNCH_TARGET_RATE.burst);
    // Two tokens' time later: two more punches, of the four refused.
    const refill = 2;
    clock.set(clock.now() + (refill * 1_000) / PUNCH_TARGET_RATE.perSecond);
    const late = askers.filter((c) => c.of(FrameType.PUNCH_START).length === 0);
    late.forEach((c) => punch(c, target, 2));
    await waitFor(() => late.every((c) => answered(c) === 2), 5_000, 'answered again');
    assert.equal(target.of(FrameType.PUNCH_START).length, PUNCH_TARGET_RATE.burst + refill);
    // The target leaves and registers again: its budget is forgotten and starts full (kept,
    // it would be empty: no time passed since the refill was spent). New requesters, so no
    // pair interval is in the way.
    const again = await reconnect(sig, target);
    const fresh = await Promise.all(Array.from({ length: PUNCH_TARGET_RATE.burst }, (_, i) => client(sig.port, { localAddress: `127.0.1.${i + 2}` })));
    fresh.forEach((c) => punch(c, again, 3));
    await waitFor(() => fresh.every((c) => answered(c) === 1), 5_000, 'answered');
    assert.equal(again.of(FrameType.PUNCH_START).length, PUNCH_TARGET_RATE.burst);
  });
});

/** Closes `c`'s session and registers its identity again on a new one. */
async function reconnect(sig: SignalerServer, c: Client): Promise<Client> {
  const old = sig.lookup(c.id.id);
  old?.session.close(1, 'test');
  await waitFor(() => sig.lookup(c.id.id) === undefined, 3_000, 'unregistered');
  return client(sig.port, { id: c.id });
}

describe('signaler: local endpoints', () => {
  const victim = { host: '203.0.113.99', port: 80 };
  const ownLan = [
    { host: '192.168.7.10', port: 7000 },
    { host: '10.7.0.10', port: 7000 },
    { host: 'fd07::10', port: 7000 },
    { host: '172.16.7.10', port: 7000 },
  ];
  const local: Endpoint[] = [
    ...Array.from({ length: 8 }, () => victim),
    { host: '127.0.0.1', port: 7000 }, // the node's own observed address: kept
    { host: '224.0.0.251', port: 7000 },
    { host: '192.168.7.10', port: 0 },
    ...ownLan,
    { host: '192.168.7.11', port: 7000 },
  ];

  it('keeps at most 4 checked ones, counts the rest, and forwards them only behind the same public address', async () => {
    const sig = await signaler(frozenClock());
    const a = await client(sig.port, { local });
    const kept = [{ host: '127.0.0.1', port: 7000 }, ...ownLan.slice(0, 3)];
    assert.deepEqual(sig.lookup(a.id.id)?.local, kept);
    assert.equal(sig.counters.get('locals_dropped.not_private'), 9);
    assert.equal(sig.counters.get('locals_dropped.bad_port'), 1);
    assert.equal(sig.counters.get('locals_dropped.too_many'), 2);

    // Same public address: all kept locals, both ways.
    const b = await client(sig.port, { local: [{ host: '192.168.7.20', port: 7000 }] });
    punch(b, a, 1);
    await waitFor(() => b.of(FrameType.PUNCH_START).length === 1 && a.of(FrameType.PUNCH_START).length === 1, 3_000, 'punch');
    const toB = decodePunchStart(b.of(FrameType.PUNCH_START)[0] as Buffer);
    const toA = decodePunchStart(a.of(FrameType.PUNCH_START)[0] as Buffer);
    assert.equal(toB.sameNat, true);
    assert.deepEqual(toB.local, kept);
    assert.deepEqual(toA.local, [{ host: '192.168.7.20', port: 7000 }]);

    // Another public address: only A's own public address, in PUNCH_START and LOOKUP_RESULT.
    const c = await client(sig.port, { localAddress: '127.0.0.2', local: [{ host: '192.168.9.20', port: 7000 }] });
    punch(c, a, 2);
    c.send(FrameType.LOOKUP, encodeLookup({ reqId: 3, target: publicKeyFromNodeId(a.id.id) }));
    await waitFor(() => c.of(FrameType.PUNCH_START).length === 1 && c.of(FrameType.LOOKUP_RESULT).length === 1 && a.of(FrameType.PUNCH_START).length === 2, 3_000, 'punch and lookup');
    const toC = decodePunchStart(c.of(FrameType.PUNCH_START)[0] as Buffer);
    assert.equal(toC.sameNat, false);
    assert.deepEqual(toC.local, [{ host: '127.0.0.1', port: 7000 }]);
    assert.deepEqual(decodeLookupResult(c.of(FrameType.LOOKUP_RESULT)[0] as Buffer).local, [{ host: '127.0.0.1', port: 7000 }]);
    assert.deepEqual(decodePunchStart(a.of(FrameType.PUNCH_START)[1] as Buffer).local, [], "C's LAN address is not told to A");
  });
});
