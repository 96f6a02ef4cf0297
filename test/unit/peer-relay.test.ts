/**
 * Peer relays with fake sessions and a fake clock: the server's trust policy, bindings and
 * stranger quotas (src/relay/peer-server.ts), and the client's binding, routing and refusal
 * of circuits from relays it did not choose (src/relay/peer-client.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/api.js';
import { isSentinelError } from '../../src/errors.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { PeerRelayClient } from '../../src/relay/peer-client.js';
import { PeerRelayServer, peerRelayLimits, type RelayMode } from '../../src/relay/peer-server.js';
import { relayReachable } from '../../src/relay/service.js';
import type { Trust } from '../../src/store/types.js';
import { Counters } from '../../src/transport/index.js';
import {
  FrameType,
  HELLO_FLAG_RELAY,
  RelayCloseCode,
  SignalErrorCode,
  decodeRelayBind,
  decodeRelayBound,
  decodeRelayClose,
  decodeRelayIncoming,
  decodeRelayOpen,
  decodeSignalError,
  encodeRelayAccept,
  encodeRelayBind,
  encodeRelayBound,
  encodeRelayIncoming,
  encodeRelayOpen,
  encodeRelayOpened,
  encodeSignalError,
} from '../../src/wire/index.js';
import { FakeEnd, newId } from '../helpers/fake-end.js';
import { fakeClock } from '../helpers/fake-clock.js';

const silent = createLogger('silent', () => {});
const End = FakeEnd;
type End = FakeEnd;

function server(mode: RelayMode, trust: Map<NodeId, Trust>, rate?: number) {
  const counters = new Counters();
  const s = new PeerRelayServer({ mode, trust: (id) => trust.get(id) ?? 'stranger', clock: fakeClock(0), counters, limits: peerRelayLimits(rate) });
  return { s, counters };
}

const bind = (reqId = 1): Buffer => encodeRelayBind({ reqId });
const open = (target: NodeId, reqId = 2): Buffer => encodeRelayOpen({ reqId, target: publicKeyFromNodeId(target) });

describe('peer relay server', () => {
  it('binds contacts with the contact limits; refuses strangers in contacts mode (counted)', () => {
    const contact = new End();
    const stranger = new End();
    const { s, counters } = server('contacts', new Map([[contact.peerId, 'contact']]));
    assert.equal(s.serves(contact.peerId), true);
    assert.equal(s.serves(stranger.peerId), false);
    s.onFrame(contact, FrameType.RELAY_BIND, bind(7));
    const bound = decodeRelayBound(contact.of(FrameType.RELAY_BOUND)[0] as Buffer);
    assert.deepEqual(bound, { reqId: 7, maxCircuits: 8, bytesPerSecond: 1024 * 1024, idleTimeoutS: 300 });
    s.onFrame(stranger, FrameType.RELAY_BIND, bind(8));
    const err = decodeSignalError(stranger.of(FrameType.SIGNAL_ERROR)[0] as Buffer);
    assert.equal(err.reqId, 8);
    assert.equal(err.code, SignalErrorCode.RELAY_DISABLED);
    assert.match(err.reason, /contacts only/);
    assert.equal(counters.get('relay_refused.not_contact'), 1);
    assert.equal(s.stats().bound, 1);
  });

  it('a second RELAY_BIND on one session (bound or refused) breaks the protocol', () => {
    const contact = new End();
    const stranger = new End();
    const { s } = server('contacts', new Map([[contact.peerId, 'contact']]));
    s.onFrame(contact, FrameType.RELAY_BIND, bind());
    assert.throws(() => s.onFrame(contact, FrameType.RELAY_BIND, bind()), (e) => isSentinelError(e, 'E_PROTOCOL'));
    s.onFrame(stranger, FrameType.RELAY_BIND, bind());
    assert.throws(() => s.onFrame(stranger, FrameType.RELAY_BIND, bind()), (e) => isSentinelError(e, 'E_PROTOCOL'));
  });

  it('opens a circuit only to a bound target, and only for an opener it serves', () => {
    const a = new End();
    const b = new End();
    const unbound = new End();
    const stranger = new End();
    const trust = new Map<NodeId, Trust>([
      [a.peerId, 'contact'],
      [b.peerId, 'contact'],
      [unbound.peerId, 'contact'],
    ]);
    const { s, counters } = server('contacts', trust);
    s.onFrame(b, FrameType.RELAY_BIND, bind());
    s.onFrame(a, FrameType.RELAY_OPEN, open(unbound.peerId, 3));
    assert.equal(decodeSignalError(a.of(FrameType.SIGNAL_ERROR)[0] as Buffer).code, SignalErrorCode.NOT_FOUND);
    assert.equal(counters.get('relay_refused.not_bound'), 1);
    s.onFrame(stranger, FrameType.RELAY_OPEN, open(b.peerId, 4));
    assert.equal(decodeSignalError(stranger.of(FrameType.SIGNAL_ERROR)[0] as Buffer).code, SignalErrorCode.RELAY_DISABLED);
    assert.equal(b.of(FrameType.RELAY_INCOMING).length, 0, 'the stranger reached nobody');
    s.onFrame(a, FrameType.RELAY_OPEN, open(b.peerId, 5));
    const inc = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING)[0] as Buffer);
    assert.equal(nodeIdFromPublicKey(inc.peer), a.peerId);
    s.onFrame(b, FrameType.RELAY_ACCEPT, encodeRelayAccept({ circuit: inc.circuit }));
    assert.equal(a.of(FrameType.RELAY_OPENED).length, 1);
    assert.equal(s.stats().circuits, 1);
  });

  it('--relay=all: strangers bind with the stranger quotas; a third circuit of a stranger is refused', () => {
    const a = new End();
    const b = new End();
    const { s, counters } = server('all', new Map(), 400 * 1024);
    s.onFrame(b, FrameType.RELAY_BIND, bind());
    assert.deepEqual(decodeRelayBound(b.of(FrameType.RELAY_BOUND)[0] as Buffer), { reqId: 1, maxCircuits: 2, bytesPerSecond: 100 * 1024, idleTimeoutS: 300 });
    for (let i = 0; i < 3; i++) s.onFrame(a, FrameType.RELAY_OPEN, open(b.peerId, 10 + i));
    assert.equal(b.of(FrameType.RELAY_INCOMING).length, 2);
    assert.equal(counters.get('relay_refused.node_circuits'), 1);
    assert.equal(s.stats().boundStrangers, 1);
  });

  it('--relay=all bounds the strangers bound at once; contacts still bind', () => {
    const limits = { ...peerRelayLimits(), maxBoundStrangers: 2 };
    const contact = new End();
    const counters = new Counters();
    const s = new PeerRelayServer({ mode: 'all', trust: (id) => (id === contact.peerId ? 'contact' : 'stranger'), clock: fakeClock(0), counters, limits });
    const strangers = [new End(), new End(), new End()];
    for (const e of strangers) s.onFrame(e, FrameType.RELAY_BIND, bind());
    assert.equal(strangers.filter((e) => e.of(FrameType.RELAY_BOUND).length === 1).length, 2);
    assert.equal(counters.get('relay_refused.bind_full'), 1);
    s.onFrame(contact, FrameType.RELAY_BIND, bind());
    assert.equal(contact.of(FrameType.RELAY_BOUND).length, 1);
  });

  it('blocked peers are refused in every mode; blocking a bound node unbinds it and closes its circuits', () => {
    const a = new End();
    const b = new End();
    const trust = new Map<NodeId, Trust>([
      [a.peerId, 'contact'],
      [b.peerId, 'contact'],
    ]);
    const { s, counters } = server('all', trust);
    s.onFrame(b, FrameType.RELAY_BIND, bind());
    s.onFrame(a, FrameType.RELAY_OPEN, open(b.peerId));
    const inc = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING)[0] as Buffer);
    s.onFrame(b, FrameType.RELAY_ACCEPT, encodeRelayAccept({ circuit: inc.circuit }));
    trust.set(b.peerId, 'blocked');
    s.trustChanged(b.peerId);
    assert.equal(s.stats().bound, 0);
    assert.equal(s.stats().circuits, 0);
    assert.equal(decodeRelayClose(a.of(FrameType.RELAY_CLOSE)[0] as Buffer).code, RelayCloseCode.GONE);
    const again = new End(b.peerId);
    s.onFrame(again, FrameType.RELAY_BIND, bind());
    assert.equal(decodeSignalError(again.of(FrameType.SIGNAL_ERROR)[0] as Buffer).code, SignalErrorCode.RELAY_DISABLED);
    assert.equal(counters.get('relay_refused.blocked'), 1);
  });

  it('a binding ends with its session; a replacing session must bind again', () => {
    const b = new End();
    const { s } = server('contacts', new Map([[b.peerId, 'contact']]));
    s.onFrame(b, FrameType.RELAY_BIND, bind());
    const b2 = new End(b.peerId);
    s.sessionDown(b.peerId, b2);
    assert.equal(s.stats().bound, 0);
    s.onFrame(b2, FrameType.RELAY_BIND, bind());
    assert.equal(s.stats().bound, 1);
    s.sessionDown(b.peerId);
    assert.equal(s.stats().bound, 0);
  });

  it('frames a relay never receives are not its (returns false)', () => {
    const { s } = server('all', new Map());
    assert.equal(s.onFrame(new End(), FrameType.RELAY_BOUND, encodeRelayBound({ reqId: 1, maxCircuits: 1, bytesPerSecond: 1, idleTimeoutS: 1 })), false);
  });
});

function client(contacts: Set<NodeId>, maxBound?: number) {
  const clock = fakeClock(0);
  const counters = new Counters();
  const offered: { circuit: number; peer: NodeId }[] = [];
  const c = new PeerRelayClient({
    clock,
    counters,
    log: silent,
    isContact: (id) => contacts.has(id),
    onIncoming: (_relay, circuit, peer) => offered.push({ circuit, peer }),
    ...(maxBound !== undefined ? { maxBound } : {}),
  });
  return { c, clock, counters, offered };
}

function relaySession(rttMs: number | null = null): End {
  const e = new End();
  e.peerHello = { listenPort: 1, name: '', flags: HELLO_FLAG_RELAY };
  e.rttMs = rttMs;
  return e;
}

describe('peer relay client', () => {
  it('binds with a contact that offers relaying, not with a stranger, nor a peer without the flag', () => {
    const r = relaySession();
    const stranger = relaySession();
    const plain = new End();
    const { c } = client(new Set([r.peerId, plain.peerId]));
    c.onSessionUp(r);
    c.onSessionUp(stranger);
    c.onSessionUp(plain);
    assert.equal(r.of(FrameType.RELAY_BIND).length, 1);
    assert.equal(stranger.of(FrameType.RELAY_BIND).length, 0);
    assert.equal(plain.of(FrameType.RELAY_BIND).length, 0);
    assert.equal(c.handles(plain), false);
    assert.throws(() => c.onFrame(plain, FrameType.RELAY_OPENED, encodeRelayOpened({ reqId: 1, circuit: 1 })), (e) => isSentinelError(e, 'E_PROTOCOL'));
  });

  it('binds once the relay becomes a contact, and at most maxBound relays', () => {
    const contacts = new Set<NodeId>();
    const [r1, r2, r3] = [relaySession(), relaySession(), relaySession()];
    const { c } = client(contacts, 2);
    for (const r of [r1, r2, r3]) c.onSessionUp(r as End);
    for (const r of [r1, r2, r3]) contacts.add((r as End).peerId);
    for (const r of [r1, r2, r3]) c.trustChanged((r as End).peerId);
    const asked = [r1, r2, r3].filter((r) => (r as End).of(FrameType.RELAY_BIND).length === 1);
    assert.equal(asked.length, 2);
  });

  it('declines RELAY_INCOMING from a relay it is not bound with; passes it on once bound', async () => {
    const r = relaySession();
    const { c, counters, offered } = client(new Set([r.peerId]));
    c.onSessionUp(r);
    const peer = newId();
    c.onFrame(r, FrameType.RELAY_INCOMING, encodeRelayIncoming({ circuit: 5, peer: publicKeyFromNodeId(peer) }));
    assert.equal(offered.length, 0);
    assert.equal(decodeRelayClose(r.of(FrameType.RELAY_CLOSE)[0] as Buffer).code, RelayCloseCode.REFUSED);
    assert.equal(counters.get('relay_declined.not_bound'), 1);
    const { reqId } = decodeRelayBind(r.of(FrameType.RELAY_BIND)[0] as Buffer);
    c.onFrame(r, FrameType.RELAY_BOUND, encodeRelayBound({ reqId, maxCircuits: 8, bytesPerSecond: 1000, idleTimeoutS: 300 }));
    await Promise.resolve();
    assert.deepEqual(c.info()[0]?.bound, { maxCircuits: 8, bytesPerSecond: 1000, idleTimeoutS: 300 });
    c.onFrame(r, FrameType.RELAY_INCOMING, encodeRelayIncoming({ circuit: 6, peer: publicKeyFromNodeId(peer) }));
    assert.deepEqual(offered, [{ circuit: 6, peer }]);
  });

  it('routes through contacts by RTT (unmeasured last), never through a stranger that says it relays, nor the target itself; a refusal rejects the open with a code', async () => {
    const slow = relaySession(40);
    const fast = relaySession(3);
    const unknown = relaySession(null);
    const stranger = relaySession(1);
    const { c } = client(new Set([slow, fast, unknown].map((r) => r.peerId)));
    for (const r of [unknown, slow, fast, stranger]) c.onSessionUp(r);
    assert.deepEqual(
      c.routes(newId()).map((r) => r.label),
      [fast, slow, unknown].map((r) => `${r.peerId} at 127.0.0.1:9`),
    );
    assert.equal(c.routes(fast.peerId).length, 2);
    const target = newId();
    const opening = (c.routes(target)[0] as { open(id: NodeId): Promise<unknown> }).open(target);
    const m = decodeRelayOpen(fast.of(FrameType.RELAY_OPEN)[0] as Buffer);
    assert.equal(nodeIdFromPublicKey(m.target), target);
    c.onFrame(fast, FrameType.SIGNAL_ERROR, encodeSignalError({ reqId: m.reqId, code: SignalErrorCode.NOT_FOUND, reason: 'the target does not use this relay' }));
    await assert.rejects(opening, (e) => isSentinelError(e, 'E_UNKNOWN_ID'));
  });

  it('an open times out; a relay session going down fails its opens and drops the route', async () => {
    const r = relaySession();
    const { c, clock } = client(new Set([r.peerId]));
    c.onSessionUp(r);
    const target = newId();
    const first = assert.rejects((c.routes(target)[0] as { open(id: NodeId): Promise<unknown> }).open(target), /did not answer in time/);
    await clock.advance(8_000);
    await first;
    const second = (c.routes(target)[0] as { open(id: NodeId): Promise<unknown> }).open(target);
    c.onSessionDown(r.peerId);
    await assert.rejects(second, /session closed/);
    assert.equal(c.routes(target).length, 0);
  });
});

describe('peer relay reachability (the record flag)', () => {
  it('advertised without a signaler, or when the signaler sees one of our own addresses; otherwise says why not', () => {
    const locals = [{ host: '203.0.113.5' }, { host: '192.168.1.2' }];
    assert.equal(relayReachable(false, undefined, locals), true);
    assert.equal(relayReachable(true, { host: '203.0.113.5', port: 8443 }, locals), true);
    assert.match(String(relayReachable(true, { host: '198.51.100.7', port: 40001 }, locals)), /behind NAT \(the signaler sees 198\.51\.100\.7:40001\)/);
    assert.match(String(relayReachable(true, null, locals)), /not known yet/);
  });
});
