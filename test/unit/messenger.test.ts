/** Messenger over an in-memory store, fake channels and a fake clock: no sockets, exact behaviour. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeEvent, NodeId, StrangerPolicy } from '../../src/api.js';
import { isSentinelError, SentinelError } from '../../src/errors.js';
import { generateIdentity, type Identity } from '../../src/identity/index.js';
import { Messenger, toWire, type MessageChannel } from '../../src/messaging/index.js';
import { MemoryStore, type Trust } from '../../src/store/index.js';
import { Counters } from '../../src/transport/index.js';
import {
  FrameType,
  MAX_TEXT_BYTES,
  RefuseCode,
  chatSigningInput,
  decodeAck,
  decodeChat,
  decodeChatRefused,
  encodeAck,
  encodeChat,
  encodeChatRefused,
} from '../../src/wire/index.js';
import { fakeClock, type FakeClock } from '../helpers/fake-clock.js';

class FakeChannel implements MessageChannel {
  sent: Array<{ type: number; payload: Buffer }> = [];
  writableLength = 0;
  private drains: Array<() => void> = [];
  closed = false;
  constructor(readonly peerId: NodeId) {}
  send(type: number, payload: Uint8Array): boolean {
    if (this.closed) return false;
    this.sent.push({ type, payload: Buffer.from(payload) });
    return true;
  }
  onDrain(cb: () => void): void {
    this.drains.push(cb);
  }
  drain(): void {
    this.writableLength = 0;
    const d = this.drains;
    this.drains = [];
    for (const cb of d) cb();
  }
  of(type: number): Buffer[] {
    return this.sent.filter((f) => f.type === type).map((f) => f.payload);
  }
  take(type: number): Buffer[] {
    const out = this.of(type);
    this.sent = this.sent.filter((f) => f.type !== type);
    return out;
  }
}

interface PartyOpts {
  trust?: (peer: NodeId) => Trust;
  policy?: StrangerPolicy;
  clock?: FakeClock;
  held?: Partial<{ perStranger: number; bytesPerStranger: number; total: number; bytesTotal: number; requestTtlMs: number; acceptedHoldMs: number }>;
  outbox?: Partial<{ window: number; batch: number; maxQueuedBytes: number; ackTimeoutMs: number; retryMs: number; retryCapMs: number }>;
}

function party(identity: Identity, channels: Map<NodeId, MessageChannel>, o: PartyOpts = {}) {
  const store = new MemoryStore();
  const counters = new Counters();
  const events: NodeEvent[] = [];
  const clock = o.clock ?? fakeClock(1_000_000);
  const messenger = new Messenger({
    identity,
    store,
    clock,
    counters,
    channelFor: (p) => channels.get(p),
    emit: (e) => events.push(e),
    trust: o.trust ?? (() => 'contact'),
    policy: () => o.policy ?? 'requests',
    limits: { ...(o.held ? { held: o.held } : {}), ...(o.outbox ? { outbox: o.outbox } : {}) },
  });
  return { identity, store, counters, events, messenger, clock };
}

const tick = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Two parties with live fake channels, the session up on both sides. */
function pair(oa: PartyOpts = {}, ob: PartyOpts = {}) {
  const a = generateIdentity();
  const b = generateIdentity();
  const toB = new FakeChannel(b.id);
  const toA = new FakeChannel(a.id);
  const A = party(a, new Map([[b.id, toB]]), oa);
  const B = party(b, new Map([[a.id, toA]]), ob);
  A.messenger.onSessionUp(toB);
  B.messenger.onSessionUp(toA);
  /** Delivers everything in flight both ways until quiet. */
  const pump = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      const chats = toB.take(FrameType.CHAT);
      const acks = toA.take(FrameType.ACK);
      const refusals = toA.take(FrameType.CHAT_REFUSED);
      for (const c of chats) B.messenger.onChat(toA, c);
      for (const k of acks) A.messenger.onAck(toB, k);
      for (const r of refusals) A.messenger.onRefused(toB, r);
      await tick();
      if (chats.length + acks.length + refusals.length === 0 && toB.of(FrameType.CHAT).length + toA.of(FrameType.ACK).length + toA.of(FrameType.CHAT_REFUSED).length === 0) return;
    }
  };
  return { a, b, A, B, toA, toB, pump };
}

describe('Messenger: delivery', () => {
  it('stores, sends, and on ACK marks delivered and empties the outbox', async () => {
    const { a, b, A, B, toA, toB } = pair();
    const res = await A.messenger.send(b.id, 'hi bob');
    assert.equal(res.status, 'pending');
    assert.equal(A.store.outbox(b.id).length, 1, 'queued before delivery');
    const [chat] = toB.of(FrameType.CHAT);
    assert.ok(chat);
    B.messenger.onChat(toA, chat);
    await tick();
    assert.equal(B.store.history(a.id)[0]?.text, 'hi bob');
    assert.equal(B.store.history(a.id)[0]?.status, 'received');
    const [ack] = toA.of(FrameType.ACK);
    assert.ok(ack, 'receiver acknowledged after storing');
    assert.equal(hex(decodeAck(ack).ids[0] ?? new Uint8Array()), res.id);
    A.messenger.onAck(toB, ack);
    await tick();
    assert.equal(A.store.getMessage(res.id)?.status, 'delivered');
    assert.equal(A.store.outbox(b.id).length, 0);
    assert.ok(A.events.some((e) => e.type === 'delivered' && e.id === res.id));
    assert.equal(A.messenger.inFlight(b.id), 0);
  });

  it('waits for the ACK when asked and reports delivered', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    let A: ReturnType<typeof party> | undefined;
    const B = party(b, new Map());
    const toA = Object.assign(new FakeChannel(a.id), {
      send: (t: number, p: Uint8Array) => (t === FrameType.ACK && setImmediate(() => A?.messenger.onAck(toB, Buffer.from(p))), true),
    });
    const toB = Object.assign(new FakeChannel(b.id), {
      send: (t: number, p: Uint8Array) => (t === FrameType.CHAT && B.messenger.onChat(toA, Buffer.from(p)), true),
    });
    A = party(a, new Map([[b.id, toB]]));
    A.messenger.onSessionUp(toB);
    const res = await A.messenger.send(b.id, 'sync', 2_000);
    assert.equal(res.status, 'delivered');
  });

  it('keeps at most `window` messages in flight, in order, and sends more as ACKs come', async () => {
    const { b, A, B, toB, pump } = pair({ outbox: { window: 4, batch: 2 } });
    for (let i = 0; i < 10; i++) await A.messenger.send(b.id, `m${i}`);
    assert.deepEqual(toB.of(FrameType.CHAT).map((p) => decodeChat(p).text), ['m0', 'm1', 'm2', 'm3']);
    await pump();
    assert.deepEqual(B.store.history(A.identity.id).map((m) => m.text), Array.from({ length: 10 }, (_, i) => `m${i}`));
    assert.equal(A.store.outbox(b.id).length, 0);
  });

  it('stops writing while the session queue is long and resumes on drain (a big outbox never overflows the session)', async () => {
    const { b, A, toB } = pair({ outbox: { maxQueuedBytes: 1000 } });
    toB.writableLength = 5000;
    await A.messenger.send(b.id, 'waits');
    assert.equal(toB.of(FrameType.CHAT).length, 0);
    toB.drain();
    assert.equal(toB.of(FrameType.CHAT).length, 1);
  });

  it('sends the outbox again on a new session, and resends unacknowledged messages after the timeout', async () => {
    const clock = fakeClock(0);
    const a = generateIdentity();
    const b = generateIdentity();
    const A = party(a, new Map(), { clock, outbox: { ackTimeoutMs: 30_000 } });
    for (const t of ['one', 'two']) await A.messenger.send(b.id, t);
    const s1 = new FakeChannel(b.id);
    A.messenger.onSessionUp(s1);
    assert.equal(s1.of(FrameType.CHAT).length, 2);
    A.messenger.start();
    await clock.advance(29_000);
    assert.equal(s1.of(FrameType.CHAT).length, 2, 'not yet');
    await clock.advance(6_000);
    assert.equal(s1.of(FrameType.CHAT).length, 4, 'resent after the ack timeout');
    A.messenger.onSessionDown(b.id);
    const s2 = new FakeChannel(b.id);
    A.messenger.onSessionUp(s2);
    assert.deepEqual(s2.of(FrameType.CHAT).map((p) => decodeChat(p).text), ['one', 'two']);
    A.messenger.stop();
  });

  it('the receiver stores each message once and acknowledges duplicates', async () => {
    const { a, B, toA, A, b, toB } = pair();
    await A.messenger.send(b.id, 'once');
    const [chat] = toB.of(FrameType.CHAT);
    B.messenger.onChat(toA, chat as Buffer);
    B.messenger.onChat(toA, chat as Buffer);
    await tick();
    B.messenger.onChat(toA, chat as Buffer);
    await tick();
    assert.equal(B.store.history(a.id).length, 1);
    assert.equal(B.events.filter((e) => e.type === 'message').length, 1);
    assert.equal(toA.of(FrameType.ACK).flatMap((p) => decodeAck(p).ids).length, 3);
  });

  it('rejects, counts and does not answer forged, misaddressed and mis-signed messages', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const mallory = generateIdentity();
    const A = party(a, new Map());
    const res = await A.messenger.send(b.id, 'original');
    const good = toWire(A.store.getMessage(res.id)!);
    const B = party(b, new Map());
    const fromMallory = new FakeChannel(mallory.id);
    const fromA = new FakeChannel(a.id);
    B.messenger.onChat(fromMallory, encodeChat(good));
    const other = { ...good, to: generateIdentity().publicKey };
    B.messenger.onChat(fromA, encodeChat({ ...other, signature: a.sign(chatSigningInput(other)) }));
    B.messenger.onChat(fromA, encodeChat({ ...good, text: 'tampered' }));
    await tick();
    assert.equal(B.counters.get('chat_rejected.sender_mismatch'), 1);
    assert.equal(B.counters.get('chat_rejected.wrong_recipient'), 1);
    assert.equal(B.counters.get('chat_rejected.bad_signature'), 1);
    assert.equal(B.store.history(a.id).length, 0);
    assert.equal(fromMallory.sent.length + fromA.sent.length, 0, 'nothing answered');
  });

  it('refuses empty, oversized and self-addressed messages locally', async () => {
    const a = generateIdentity();
    const A = party(a, new Map());
    const b = generateIdentity().id;
    await assert.rejects(A.messenger.send(b, ''), (e) => isSentinelError(e, 'E_BAD_REQUEST'));
    await assert.rejects(A.messenger.send(b, 'x'.repeat(MAX_TEXT_BYTES + 1)), (e) => isSentinelError(e, 'E_TEXT_TOO_LONG'));
    await assert.rejects(A.messenger.send(a.id, 'me'), (e) => isSentinelError(e, 'E_SELF_DIAL'));
    assert.equal(A.store.allHistory().length, 0);
  });

  it('ignores ACKs for unknown ids or for messages to another peer', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const A = party(a, new Map());
    const res = await A.messenger.send(b.id, 'to b');
    const wire = decodeChat(encodeChat(toWire(A.store.getMessage(res.id)!)));
    A.messenger.onAck(new FakeChannel(generateIdentity().id), encodeAck({ ids: [wire.id] }));
    A.messenger.onAck(new FakeChannel(b.id), encodeAck({ ids: [new Uint8Array(16)] }));
    await tick();
    assert.equal(A.store.getMessage(res.id)?.status, 'pending');
    assert.equal(A.counters.get('acks_unknown'), 2);
  });

  it('does not acknowledge when the store fails, and refuses for now when the disk is full', async () => {
    const { a, b, A, B, toA, toB } = pair();
    const add = B.store.addMessage.bind(B.store);
    let failure: Error = new SentinelError('E_STORE', 'broken');
    B.store.addMessage = () => Promise.reject(failure);
    await A.messenger.send(b.id, 'x');
    B.messenger.onChat(toA, toB.take(FrameType.CHAT)[0] as Buffer);
    await tick();
    assert.equal(toA.sent.length, 0, 'no answer: the sender resends later');
    assert.equal(B.counters.get('chat_store_failed'), 1);
    failure = new SentinelError('E_STORE_FULL', 'disk full');
    await A.messenger.send(b.id, 'y');
    B.messenger.onChat(toA, toB.take(FrameType.CHAT)[0] as Buffer);
    await tick();
    const [refusal] = toA.of(FrameType.CHAT_REFUSED);
    assert.equal(decodeChatRefused(refusal as Buffer).code, RefuseCode.STORE_FULL);
    B.store.addMessage = add;
    void a;
  });
});

describe('Messenger: strangers', () => {
  it('keeps a stranger\'s messages as requests (held), acknowledged, and emits them as requests', async () => {
    const { a, A, B, b, pump } = pair({}, { trust: () => 'stranger' });
    await A.messenger.send(b.id, 'hello, we have not met');
    await pump();
    const [m] = B.store.history(a.id);
    assert.equal(m?.status, 'request');
    assert.equal(A.store.outbox(b.id).length, 0, 'a stored request is acknowledged');
    const ev = B.events.find((e) => e.type === 'message');
    assert.ok(ev && ev.type === 'message' && ev.message.request === true);
    assert.deepEqual(B.messenger.requests().map((r) => [r.peer, r.count, r.preview]), [[a.id, 1, 'hello, we have not met']]);
    assert.equal(B.messenger.quota.usage(a.id).count, 1);
  });

  it('accept turns requests into messages and frees the quota; drop (block) deletes them', async () => {
    const { a, A, B, b, pump } = pair({}, { trust: () => 'stranger' });
    await A.messenger.send(b.id, 'r1');
    await A.messenger.send(b.id, 'r2');
    await pump();
    assert.equal(await B.messenger.acceptFrom(a.id), 2);
    assert.deepEqual(B.store.history(a.id).map((m) => m.status), ['received', 'received']);
    assert.deepEqual(B.messenger.quota.usage(), { count: 0, bytes: 0 });
    assert.deepEqual(B.messenger.requests(), []);

    const c = pair({}, { trust: () => 'stranger' });
    await c.A.messenger.send(c.b.id, 'spam');
    await c.pump();
    assert.equal(await c.B.messenger.dropFrom(c.a.id), 1);
    assert.deepEqual(c.B.store.history(c.a.id), []);
  });

  it('refuses for now beyond a stranger\'s quota; the sender keeps the message and retries later', async () => {
    const { a, A, B, b, pump, toB } = pair({ outbox: { retryMs: 30_000 } }, { trust: () => 'stranger', held: { perStranger: 2 } });
    for (const t of ['1', '2', '3']) await A.messenger.send(b.id, t);
    await pump();
    assert.deepEqual(B.store.history(a.id).map((m) => m.text), ['1', '2']);
    assert.equal(B.counters.get('chat_refused.quota.per_stranger'), 1);
    assert.equal(A.counters.get('chat_refused_by_peer.quota'), 1);
    assert.equal(A.store.outbox(b.id).length, 1, 'the refused message is still queued');
    assert.equal(A.store.getMessage(A.store.outbox(b.id)[0]?.id ?? '')?.status, 'pending');
    // After B accepts A (quota freed) and the retry delay, the message goes through.
    await B.messenger.acceptFrom(a.id);
    A.messenger.start();
    await A.clock.advance(35_000);
    assert.equal(toB.of(FrameType.CHAT).length, 1, 'resent after the retry delay');
    await pump();
    assert.deepEqual(B.store.history(a.id).map((m) => m.text), ['1', '2', '3']);
    A.messenger.stop();
  });

  it('refuses for good under --strangers refuse: the sender marks it refused and stops', async () => {
    const { a, A, B, b, pump } = pair({}, { trust: () => 'stranger', policy: 'refuse' });
    const res = await A.messenger.send(b.id, 'no thanks');
    await pump();
    assert.deepEqual(B.store.history(a.id), []);
    assert.equal(A.store.getMessage(res.id)?.status, 'refused');
    assert.equal(A.store.outbox(b.id).length, 0);
    assert.ok(A.events.some((e) => e.type === 'refused' && e.id === res.id));
    assert.equal(B.counters.get('chat_refused.policy'), 1);
  });

  it('blocked peers are refused for good; contacts are never held', async () => {
    const blocked = pair({}, { trust: () => 'blocked' });
    const res = await blocked.A.messenger.send(blocked.b.id, 'let me in');
    await blocked.pump();
    assert.equal(blocked.A.store.getMessage(res.id)?.status, 'refused');
    const contact = pair({}, { trust: () => 'contact', held: { perStranger: 0 } });
    await contact.A.messenger.send(contact.b.id, 'fine');
    await contact.pump();
    assert.equal(contact.B.store.history(contact.a.id)[0]?.status, 'received');
    assert.deepEqual(contact.B.messenger.quota.usage(), { count: 0, bytes: 0 });
  });

  it('--strangers accept stores ordinary messages that still count against the quotas for a day', async () => {
    const { a, A, B, b, pump } = pair({}, { trust: () => 'stranger', policy: 'accept', held: { perStranger: 1, acceptedHoldMs: 1000 } });
    await A.messenger.send(b.id, 'first');
    await A.messenger.send(b.id, 'second');
    await pump();
    assert.deepEqual(B.store.history(a.id).map((m) => [m.text, m.status]), [['first', 'received']]);
    await B.clock.advance(1000);
    await B.messenger.expire();
    assert.deepEqual(B.messenger.quota.usage(), { count: 0, bytes: 0 }, 'released after the hold');
    assert.equal(B.store.history(a.id).length, 1, 'the message stays');
  });

  it('a stranger sending faster than its CHAT rate is refused for now before any verification', async () => {
    const { A, B, b, toA, toB } = pair({}, { trust: () => 'stranger' });
    for (let i = 0; i < 60; i++) await A.messenger.send(b.id, `flood ${i}`);
    for (const c of toB.take(FrameType.CHAT)) B.messenger.onChat(toA, c);
    await tick();
    assert.ok(B.counters.get('chat_refused.rate') > 0);
    assert.ok(B.store.allHistory().length <= 40);
    const refused = toA.of(FrameType.CHAT_REFUSED).map((p) => decodeChatRefused(p));
    assert.ok(refused.every((r) => r.code === RefuseCode.RATE_LIMITED || r.code === RefuseCode.QUOTA));
  });

  it('requests expire after their TTL and are deleted', async () => {
    const { a, A, B, b, pump } = pair({}, { trust: () => 'stranger', held: { requestTtlMs: 10_000 } });
    await A.messenger.send(b.id, 'old');
    await pump();
    await B.clock.advance(10_000);
    await B.messenger.expire();
    assert.deepEqual(B.store.history(a.id), []);
    assert.equal(B.counters.get('requests_expired'), 1);
  });

  it('a refusal for messages that are not ours to that peer is ignored', async () => {
    const { A, b, toB } = pair();
    const res = await A.messenger.send(b.id, 'mine');
    const id = decodeChat(toB.of(FrameType.CHAT)[0] as Buffer).id;
    A.messenger.onRefused(new FakeChannel(generateIdentity().id), encodeChatRefused({ code: RefuseCode.REFUSED, ids: [id] }));
    await tick();
    assert.equal(A.store.getMessage(res.id)?.status, 'pending');
  });
});
