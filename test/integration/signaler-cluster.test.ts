/**
 * A signaler cluster on a real redis-server (test/helpers/redis.ts): two and three
 * in-process instances over real TLS on loopback, raw clients registered at different
 * instances. Cross-instance lookup, punch and relay; punch and register limits that hold
 * for the whole cluster; eviction of a second registration; Redis restarted; Redis down.
 * Killing an instance with SIGKILL is in signaler-cluster-kill.test.ts (real processes).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateIdentity, publicKeyFromNodeId } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { SignalerServer } from '../../src/signaler/index.js';
import { RedisBackend } from '../../src/cluster/redis-backend.js';
import { PROXY_CIRCUIT_BASE } from '../../src/cluster/relay-bridge.js';
import {
  FrameType,
  RelayCloseCode,
  SignalErrorCode,
  decodeLookupResult,
  decodePunchStart,
  decodeRelayClose,
  decodeRelayIncoming,
  decodeRelayOpened,
  encodeFrame,
  encodeRelayAccept,
  encodeRelayClose,
  encodeRelayCredit,
  encodeRelayData,
} from '../../src/wire/index.js';
import { TestRedis, redisSkipReason } from '../helpers/redis.js';
import { destroyRawClients, rawClient, type RawClient } from '../helpers/signal-client.js';
import { waitFor } from '../helpers/testnet.js';

const skip = redisSkipReason();
const silent = createLogger('silent', () => {});
let redis: TestRedis;
const servers: SignalerServer[] = [];

before(async () => {
  if (!skip) redis = await TestRedis.start();
});
after(async () => {
  destroyRawClients();
  await Promise.allSettled(servers.map((s) => s.close()));
  await redis?.stop();
});

/** `n` instances sharing a fresh key prefix. */
async function cluster(n: number): Promise<SignalerServer[]> {
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const out: SignalerServer[] = [];
  for (let i = 0; i < n; i++) {
    const s = new SignalerServer({ identity: generateIdentity(), log: silent, cluster: new RedisBackend(redis.url, prefix) });
    await s.listen(0, '127.0.0.1');
    servers.push(s);
    out.push(s);
  }
  // Every instance has seen every other one's heartbeat.
  await waitFor(() => out.every((s) => s.clustered?.link.instances.length === n), 5_000, 'heartbeats');
  return out;
}

const lastError = (c: RawClient, reqId: number): number | undefined => c.errors(reqId).at(-1);

describe('signaler cluster on Redis', { skip }, () => {
  it('a node registered at one instance is looked up, punched to and told from another', async () => {
    const [s1, s2] = await cluster(2);
    const a = await rawClient(s1!.port, { listenPort: 7001 });
    const b = await rawClient(s2!.port, { listenPort: 7002, local: [{ host: '10.0.0.2', port: 7002 }] });
    a.lookup(1, b.id.id);
    await waitFor(() => a.of(FrameType.LOOKUP_RESULT).length === 1, 3_000, 'LOOKUP_RESULT');
    const r = decodeLookupResult(a.of(FrameType.LOOKUP_RESULT)[0]!);
    assert.equal(r.public.host, '127.0.0.1');
    assert.equal(r.public.port, b.sock.localPort, "b's observed address, as s2 saw it");
    assert.deepEqual(r.local, [{ host: '10.0.0.2', port: 7002 }], 'same public address: the private endpoint is told');
    a.punch(2, b.id.id);
    await waitFor(() => a.of(FrameType.PUNCH_START).length === 1 && b.of(FrameType.PUNCH_START).length === 1, 3_000, 'both PUNCH_STARTs');
    const toA = decodePunchStart(a.of(FrameType.PUNCH_START)[0]!);
    const toB = decodePunchStart(b.of(FrameType.PUNCH_START)[0]!);
    assert.equal(toA.reqId, 2);
    assert.equal(toB.reqId, 0, 'unsolicited at the target');
    assert.deepEqual(Buffer.from(toA.peer), Buffer.from(publicKeyFromNodeId(b.id.id)));
    assert.deepEqual(Buffer.from(toB.peer), Buffer.from(publicKeyFromNodeId(a.id.id)));
    assert.deepEqual([toA.listenPort, toB.listenPort], [7002, 7001]);
    assert.equal(toB.public.port, a.sock.localPort);
    assert.equal(s1!.counters.get('cluster.punches_remote'), 1);
    assert.equal(s2!.counters.get('cluster.punches_coordinated'), 1);
    // An id nobody registered.
    a.lookup(3, generateIdentity().id);
    await waitFor(() => lastError(a, 3) !== undefined, 3_000, 'NOT_FOUND');
    assert.equal(lastError(a, 3), SignalErrorCode.NOT_FOUND);
  });

  it('relays between nodes at different instances, byte-exact both ways, and closes end to end', async () => {
    const [s1, s2] = await cluster(2);
    const a = await rawClient(s1!.port);
    const b = await rawClient(s2!.port);
    a.relayOpen(5, b.id.id);
    await waitFor(() => b.of(FrameType.RELAY_INCOMING).length === 1, 3_000, 'RELAY_INCOMING');
    const inc = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING)[0]!);
    assert.ok(inc.circuit >= PROXY_CIRCUIT_BASE, 'the target sees a proxy id of its own instance');
    assert.deepEqual(Buffer.from(inc.peer), Buffer.from(publicKeyFromNodeId(a.id.id)));
    b.send(FrameType.RELAY_ACCEPT, encodeRelayAccept({ circuit: inc.circuit }));
    await waitFor(() => a.of(FrameType.RELAY_OPENED).length === 1, 3_000, 'RELAY_OPENED');
    const { reqId, circuit } = decodeRelayOpened(a.of(FrameType.RELAY_OPENED)[0]!);
    assert.equal(reqId, 5);
    const toB = [randomBytes(16 * 1024), randomBytes(1), randomBytes(3000)];
    const toA = [randomBytes(700), randomBytes(16 * 1024)];
    for (const d of toB) a.send(FrameType.RELAY_DATA, encodeRelayData({ circuit, data: d }));
    for (const d of toA) b.send(FrameType.RELAY_DATA, encodeRelayData({ circuit: inc.circuit, data: d }));
    const got = (c: RawClient, id: number): Buffer => Buffer.concat(c.of(FrameType.RELAY_DATA).filter((p) => p.readUInt32BE(0) === id).map((p) => p.subarray(4)));
    const sum = (l: Buffer[]): number => l.reduce((n, d) => n + d.length, 0);
    await waitFor(() => got(b, inc.circuit).length === sum(toB) && got(a, circuit).length === sum(toA), 5_000, 'data both ways');
    assert.deepEqual(got(b, inc.circuit), Buffer.concat(toB));
    assert.deepEqual(got(a, circuit), Buffer.concat(toA));
    b.send(FrameType.RELAY_CREDIT, encodeRelayCredit({ circuit: inc.circuit, bytes: sum(toB) }));
    await waitFor(() => a.of(FrameType.RELAY_CREDIT).length === 1, 3_000, 'credit');
    assert.deepEqual(a.of(FrameType.RELAY_CREDIT)[0], encodeRelayCredit({ circuit, bytes: sum(toB) }), 'credit reaches the requester with its own circuit id');
    assert.equal(s1!.relayStats().circuits, 1, 'the circuit is owned (and limited) by the requester instance');
    // The target closes: the requester hears it with its own id; both instances forget the circuit.
    b.send(FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: inc.circuit, code: RelayCloseCode.NORMAL, reason: 'bye' }));
    await waitFor(() => a.of(FrameType.RELAY_CLOSE).length === 1, 3_000, 'RELAY_CLOSE');
    assert.equal(decodeRelayClose(a.of(FrameType.RELAY_CLOSE)[0]!).circuit, circuit);
    await waitFor(() => s1!.relayStats().circuits === 0 && s2!.clustered!.bridge.size.proxied === 0, 3_000, 'forgotten');
  });

  it('a third node at the target instance cannot use a proxy id', async () => {
    const [s1, s2] = await cluster(2);
    const a = await rawClient(s1!.port);
    const b = await rawClient(s2!.port);
    const c = await rawClient(s2!.port);
    a.relayOpen(1, b.id.id);
    await waitFor(() => b.of(FrameType.RELAY_INCOMING).length === 1, 3_000, 'RELAY_INCOMING');
    const inc = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING)[0]!);
    c.send(FrameType.RELAY_DATA, encodeRelayData({ circuit: inc.circuit, data: Buffer.from('evil') }));
    await waitFor(() => c.of(FrameType.RELAY_CLOSE).length === 1, 3_000, 'refused');
    assert.equal(decodeRelayClose(c.of(FrameType.RELAY_CLOSE)[0]!).code, RelayCloseCode.PROTOCOL);
    assert.equal(s2!.counters.get('relay_refused.not_member'), 1);
    assert.equal(a.of(FrameType.RELAY_DATA).length, 0);
  });

  it('punch limits hold for the whole cluster: the target instance decides, whichever instance the requester uses', async () => {
    const [s1, s2, s3] = await cluster(3);
    const t = await rawClient(s3!.port);
    const r = await rawClient(s1!.port);
    r.punch(1, t.id.id);
    await waitFor(() => r.of(FrameType.PUNCH_START).length === 1, 3_000, 'first punch');
    // The requester moves to s2 (same key) and asks again at once: the pair limit still holds.
    const r2 = await rawClient(s2!.port, { identity: r.id });
    await waitFor(() => r.isClosed(), 3_000, 'the old registration is evicted');
    assert.equal(s1!.counters.get('cluster.evicted'), 1);
    r2.punch(2, t.id.id);
    await waitFor(() => lastError(r2, 2) !== undefined, 3_000, 'refused');
    assert.equal(lastError(r2, 2), SignalErrorCode.RATE_LIMITED);
    assert.equal(s3!.counters.get('cluster.punch_refused.pair'), 1);
    // Many requesters from one address, spread over two instances, share one per-address budget at the target.
    const many = await Promise.all(Array.from({ length: 12 }, (_, i) => rawClient((i % 2 ? s1 : s2)!.port)));
    many.forEach((c, i) => c.punch(10 + i, t.id.id));
    await waitFor(() => many.every((c, i) => c.of(FrameType.PUNCH_START).length + c.errors(10 + i).length === 1), 5_000, 'all answered');
    const ok = many.filter((c) => c.of(FrameType.PUNCH_START).length === 1).length;
    // Burst 8 per address per target (PUNCH_TARGET_IP_RATE) minus the two punches of r, plus refill.
    assert.ok(ok >= 5 && ok <= 8, `${ok} of 12 punches passed`);
    assert.ok(s3!.counters.get('cluster.punch_refused.target_ip') >= 4);
  });

  it('the register rate is per node id across instances', async () => {
    const [s1, s2, s3] = await cluster(3);
    const id = generateIdentity();
    // One session of the id at each instance, each sending REGISTER twice at once: six
    // attempts meet the id's one bucket (burst 3, 1/s), whatever instance each one asks.
    const sessions = await Promise.all([s1, s2, s3].map((s) => rawClient(s!.port, { identity: id, register: false })));
    const register = Buffer.from([0x1b, 0x58, 0x00]);
    for (const c of sessions) c.sock.write(Buffer.concat([encodeFrame(FrameType.REGISTER, register), encodeFrame(FrameType.REGISTER, register)]));
    const sum = (name: string): number => [s1, s2, s3].reduce((n, s) => n + s!.counters.get(name), 0);
    await waitFor(() => sum('rate_limited.register_cluster') >= 2, 5_000, 'two of six refused');
    // (A session evicted by a later registration may be closed before its own attempt is decided.)
    assert.ok(sum('registrations') <= 4, `${sum('registrations')} of 6 registered`);
  });

  it('a node that moved from another instance gets one request at once, not a fresh burst', async () => {
    const [s1, s2] = await cluster(2);
    const other = await rawClient(s1!.port);
    const r = await rawClient(s1!.port);
    const r2 = await rawClient(s2!.port, { identity: r.id });
    for (let i = 1; i <= 4; i++) r2.lookup(i, other.id.id);
    await waitFor(() => r2.of(FrameType.LOOKUP_RESULT).length + r2.of(FrameType.SIGNAL_ERROR).length >= 4, 3_000, 'four answers');
    assert.ok(r2.of(FrameType.LOOKUP_RESULT).length <= 2, 'one token (plus what refilled meanwhile), not a burst of 10');
    assert.ok(s2!.counters.get('rate_limited.request') >= 2);
  });

  it('after a Redis restart the instances write presence again and find each other', async () => {
    const [s1, s2] = await cluster(2);
    const a = await rawClient(s1!.port);
    const b = await rawClient(s2!.port);
    await redis.restart();
    // While it restarts or right after, a request about a remote node is answered (UNAVAILABLE or found), never dropped.
    let req = 100;
    await waitFor(
      () => {
        const found = a.of(FrameType.LOOKUP_RESULT).some((p) => decodeLookupResult(p).reqId === req);
        if (found) return true;
        if (a.errors(req).length > 0 || req === 100) a.lookup(++req, b.id.id);
        return false;
      },
      15_000,
      'b found again',
    );
    assert.ok(s2!.counters.get('cluster.store_down') >= 1);
  });

  it('with Redis down, nodes of the same instance are still served and remote requests get UNAVAILABLE', async () => {
    const [s1, s2] = await cluster(2);
    const a = await rawClient(s1!.port);
    const a2 = await rawClient(s1!.port);
    const b = await rawClient(s2!.port);
    await redis.kill();
    try {
      await waitFor(() => !s1!.clustered!.link.alive(s1!.clustered!.link.instance), 5_000, 'store down seen');
      a.lookup(1, b.id.id);
      a.lookup(2, a2.id.id);
      await waitFor(() => a.errors(1).length === 1 && a.of(FrameType.LOOKUP_RESULT).length === 1, 3_000, 'answers');
      assert.equal(lastError(a, 1), SignalErrorCode.UNAVAILABLE);
      assert.equal(decodeLookupResult(a.of(FrameType.LOOKUP_RESULT)[0]!).reqId, 2);
    } finally {
      await redis.restart();
    }
  });
});
