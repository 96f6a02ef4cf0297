/**
 * The cluster's pure parts: presence and bus codecs (hex vectors, rejections), and two
 * relay bridges (src/cluster/relay-bridge.ts) joined by an in-memory bus around real
 * RelayHubs with fake sessions and a manual clock: ids rewritten both ways, limits at the
 * proxy side, and the failure paths (target left, instance gone).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/api.js';
import { BusKind, decodeBus, decodePresence, encodeBus, encodePresence, type BusMessage, type RelayHop } from '../../src/cluster/codec.js';
import { PROXY_CIRCUIT_BASE, RelayBridge } from '../../src/cluster/relay-bridge.js';
import { publicKeyFromNodeId } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { RelayHub } from '../../src/relay/hub.js';
import { RELAY_MAX_CIRCUITS_PER_NODE } from '../../src/signaler/limits.js';
import { Counters } from '../../src/transport/index.js';
import { FrameType, RelayCloseCode, SignalErrorCode, decodeRelayClose, decodeRelayIncoming, decodeRelayOpened, decodeSignalError, encodeRelayAccept, encodeRelayClose, encodeRelayData } from '../../src/wire/index.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { FakeEnd } from '../helpers/fake-end.js';

describe('cluster codecs', () => {
  const presence = { instance: '0102030405060708', listenPort: 7000, rttMs: 12, registeredAt: 1_700_000_000_000, observed: { host: '203.0.113.5', port: 40000 }, local: [{ host: '10.0.0.2', port: 7000 }] };

  it('presence matches its hex vector and round-trips', () => {
    const hex = '0102030405060708' + '1b58' + '000c' + '0000018bcfe56800' + '04cb0071059c40' + '01' + '040a0000021b58';
    assert.equal(encodePresence(presence).toString('hex'), hex);
    assert.deepEqual(decodePresence(Buffer.from(hex, 'hex')), presence);
  });

  it('presence rejects truncation and trailing bytes', () => {
    const b = encodePresence(presence);
    assert.throws(() => decodePresence(b.subarray(0, b.length - 1)), { code: 'E_PAYLOAD_MALFORMED' });
    assert.throws(() => decodePresence(Buffer.concat([b, Buffer.from([0])])), { code: 'E_PAYLOAD_MALFORMED' });
  });

  it('bus messages match their hex vector and round-trip, every kind', () => {
    const node = Buffer.alloc(32, 0xab);
    assert.equal(encodeBus('0102030405060708', { kind: BusKind.EVICT, node }).toString('hex'), '05' + '0102030405060708' + 'ab'.repeat(32));
    const msgs = [
      { kind: BusKind.PUNCH_ASK, corr: 9, requester: Buffer.alloc(32, 1), target: Buffer.alloc(32, 2), listenPort: 7001, rttMs: 40, hasV6: true, observed: { host: '2001:db8::1', port: 7001 }, local: [] },
      { kind: BusKind.PUNCH_ANSWER, corr: 9, status: 0, delayMs: 80, listenPort: 7002, public: { host: '198.51.100.7', port: 5555 }, local: [{ host: '192.168.1.4', port: 7002 }] },
      { kind: BusKind.RELAY_DOWN, node, frameType: FrameType.RELAY_DATA, payload: encodeRelayData({ circuit: 3, data: Buffer.from('hi') }) },
      { kind: BusKind.RELAY_UP, node, frameType: FrameType.RELAY_CLOSE, payload: encodeRelayClose({ circuit: 3, code: 1, reason: '' }) },
      { kind: BusKind.EVICT, node },
    ] as BusMessage[];
    for (const m of msgs) {
      const env = decodeBus(encodeBus('a1a2a3a4a5a6a7a8', m));
      assert.equal(env.from, 'a1a2a3a4a5a6a7a8');
      assert.deepEqual({ ...env.msg }, { ...m }, `kind ${m.kind}`);
    }
  });

  it('bus decoding rejects unknown kinds, short relay payloads and trailing bytes', () => {
    const inst = Buffer.from('0102030405060708', 'hex');
    assert.throws(() => decodeBus(Buffer.concat([Buffer.from([9]), inst])), { code: 'E_PAYLOAD_MALFORMED' });
    assert.throws(() => decodeBus(Buffer.concat([Buffer.from([BusKind.RELAY_UP]), inst, Buffer.alloc(32), Buffer.from([0x29, 0, 0])])), { code: 'E_PAYLOAD_MALFORMED' });
    assert.throws(() => decodeBus(Buffer.concat([Buffer.from([BusKind.EVICT]), inst, Buffer.alloc(33)])), { code: 'E_PAYLOAD_MALFORMED' });
  });
});

describe('cluster codecs under random input', () => {
  const only = (f: () => unknown): void => {
    try {
      f();
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'E_PAYLOAD_MALFORMED', String(err));
    }
  };
  it('decodeBus and decodePresence throw nothing but E_PAYLOAD_MALFORMED (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 6 }), (bytes, kind) => {
        only(() => decodePresence(bytes));
        only(() => decodeBus(bytes));
        // With a valid kind and instance in front, the body parsers are reached too.
        only(() => decodeBus(Buffer.concat([Buffer.from([kind]), Buffer.alloc(8, 1), bytes])));
      }),
      { numRuns: 2_000 },
    );
  });
});

/** Two instances A and B, each a hub + bridge, joined by a synchronous in-memory bus. */
function twoInstances() {
  const clock = fakeClock(0);
  const log = createLogger('silent', () => {});
  const locals = { A: new Map<NodeId, FakeEnd>(), B: new Map<NodeId, FakeEnd>() };
  const alive = new Set(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
  const bridges = new Map<string, RelayBridge>();
  const make = (name: 'A' | 'B', instance: string) => {
    const counters = new Counters();
    const hub = new RelayHub({ clock, counters });
    const bridge = new RelayBridge({
      hub,
      counters,
      log,
      local: (id) => locals[name].get(id),
      alive: (i) => alive.has(i),
      send: (to: string, hop: RelayHop) => {
        const dest = bridges.get(to);
        if (!dest || !alive.has(to)) return;
        if (hop.kind === BusKind.RELAY_DOWN) dest.downFrom(instance, hop);
        else dest.up(instance, hop);
      },
    });
    bridges.set(instance, bridge);
    return { hub, bridge, counters };
  };
  const A = make('A', 'aaaaaaaaaaaaaaaa');
  const B = make('B', 'bbbbbbbbbbbbbbbb');
  const x = new FakeEnd();
  const y = new FakeEnd();
  locals.A.set(x.peerId, x);
  locals.B.set(y.peerId, y);
  /** X (at A) opens to Y (at B); Y accepts. */
  const open = (reqId = 1): { owner: number; proxy: number } => {
    A.bridge.open(x, reqId, y.peerId, 'bbbbbbbbbbbbbbbb');
    const inc = decodeRelayIncoming(y.of(FrameType.RELAY_INCOMING).at(-1)!);
    B.bridge.fromLocal(y, FrameType.RELAY_ACCEPT, encodeRelayAccept({ circuit: inc.circuit }));
    const opened = decodeRelayOpened(x.of(FrameType.RELAY_OPENED).at(-1)!);
    return { owner: opened.circuit, proxy: inc.circuit };
  };
  return { A, B, x, y, open, alive, locals };
}

describe('relay bridge between two instances', () => {
  it('opens, forwards data both ways with each side seeing its own circuit id, and closes', () => {
    const { A, B, x, y, open } = twoInstances();
    const { owner, proxy } = open(7);
    assert.ok(proxy >= PROXY_CIRCUIT_BASE && owner < PROXY_CIRCUIT_BASE);
    assert.deepEqual(Buffer.from(decodeRelayIncoming(y.of(FrameType.RELAY_INCOMING)[0]!).peer), Buffer.from(publicKeyFromNodeId(x.peerId)));
    A.hub.data(x, encodeRelayData({ circuit: owner, data: Buffer.from('to y') }));
    B.bridge.fromLocal(y, FrameType.RELAY_DATA, encodeRelayData({ circuit: proxy, data: Buffer.from('to x') }));
    assert.equal(y.of(FrameType.RELAY_DATA)[0]!.readUInt32BE(0), proxy);
    assert.equal(y.of(FrameType.RELAY_DATA)[0]!.subarray(4).toString(), 'to y');
    assert.equal(x.of(FrameType.RELAY_DATA)[0]!.readUInt32BE(0), owner);
    assert.equal(x.of(FrameType.RELAY_DATA)[0]!.subarray(4).toString(), 'to x');
    assert.equal(A.hub.stats().bytes, 8, 'the owner hub counts (and rate-limits) both directions');
    A.hub.close(x, encodeRelayClose({ circuit: owner, code: RelayCloseCode.NORMAL, reason: '' }));
    assert.equal(decodeRelayClose(y.of(FrameType.RELAY_CLOSE)[0]!).circuit, proxy);
    assert.deepEqual(A.bridge.size, { owned: 0, proxied: 0 });
    assert.deepEqual(B.bridge.size, { owned: 0, proxied: 0 });
  });

  it('the target declining reaches the requester as SIGNAL_ERROR REFUSED', () => {
    const { A, B, x, y } = twoInstances();
    A.bridge.open(x, 3, y.peerId, 'bbbbbbbbbbbbbbbb');
    const inc = decodeRelayIncoming(y.of(FrameType.RELAY_INCOMING)[0]!);
    B.bridge.fromLocal(y, FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: inc.circuit, code: RelayCloseCode.REFUSED, reason: 'no' }));
    const err = decodeSignalError(x.of(FrameType.SIGNAL_ERROR)[0]!);
    assert.deepEqual([err.reqId, err.code], [3, SignalErrorCode.REFUSED]);
    assert.equal(A.hub.stats().pending, 0);
  });

  it('a target no longer registered at its instance: the open fails', () => {
    const { A, x, y, locals } = twoInstances();
    locals.B.delete(y.peerId);
    A.bridge.open(x, 4, y.peerId, 'bbbbbbbbbbbbbbbb');
    assert.equal(decodeSignalError(x.of(FrameType.SIGNAL_ERROR)[0]!).reqId, 4);
  });

  it('the proxy side bounds the circuits per local node', () => {
    const { A, B, x, y } = twoInstances();
    // Raise the owner's own limits out of the way: only B's proxy limit is tested.
    for (let i = 0; i < RELAY_MAX_CIRCUITS_PER_NODE + 1; i++) {
      const inc = { kind: BusKind.RELAY_DOWN, node: publicKeyFromNodeId(y.peerId), frameType: FrameType.RELAY_INCOMING, payload: Buffer.concat([Buffer.from([0, 0, 0, i + 1]), publicKeyFromNodeId(x.peerId)]) } as const;
      B.bridge.downFrom('aaaaaaaaaaaaaaaa', inc);
    }
    assert.equal(y.of(FrameType.RELAY_INCOMING).length, RELAY_MAX_CIRCUITS_PER_NODE);
    assert.equal(B.counters.get('relay_refused.proxy_limit'), 1);
    void A;
  });

  it('a frame from another local node on a proxy id is refused and not forwarded', () => {
    const { B, x, open, locals } = twoInstances();
    const { proxy } = open();
    const z = new FakeEnd();
    locals.B.set(z.peerId, z);
    B.bridge.fromLocal(z, FrameType.RELAY_DATA, encodeRelayData({ circuit: proxy, data: Buffer.from('evil') }));
    assert.equal(decodeRelayClose(z.of(FrameType.RELAY_CLOSE)[0]!).code, RelayCloseCode.PROTOCOL);
    assert.equal(x.of(FrameType.RELAY_DATA).length, 0);
  });

  it('the target leaving, or its instance dying, closes the circuit at the requester', () => {
    const t1 = twoInstances();
    const c1 = t1.open();
    t1.B.bridge.sessionDown(t1.y.peerId);
    assert.equal(decodeRelayClose(t1.x.of(FrameType.RELAY_CLOSE)[0]!).circuit, c1.owner);
    const t2 = twoInstances();
    const c2 = t2.open();
    t2.alive.delete('bbbbbbbbbbbbbbbb');
    t2.A.bridge.instancesGone((i) => i === 'bbbbbbbbbbbbbbbb');
    const close = decodeRelayClose(t2.x.of(FrameType.RELAY_CLOSE)[0]!);
    assert.deepEqual([close.circuit, close.code], [c2.owner, RelayCloseCode.GONE]);
    // An open still waiting when the target's instance dies: NOT_FOUND, not "declined".
    const t3 = twoInstances();
    t3.A.bridge.open(t3.x, 9, t3.y.peerId, 'bbbbbbbbbbbbbbbb');
    t3.alive.delete('bbbbbbbbbbbbbbbb');
    t3.A.bridge.instancesGone((i) => i === 'bbbbbbbbbbbbbbbb');
    const err = decodeSignalError(t3.x.of(FrameType.SIGNAL_ERROR)[0]!);
    assert.deepEqual([err.reqId, err.code], [9, SignalErrorCode.NOT_FOUND]);
    // And the proxy side, when the owner dies.
    t2.B.bridge.instancesGone((i) => i === 'aaaaaaaaaaaaaaaa');
    assert.equal(decodeRelayClose(t2.y.of(FrameType.RELAY_CLOSE)[0]!).circuit, c2.proxy);
    assert.deepEqual(t2.B.bridge.size, { owned: 0, proxied: 0 });
  });
});
