/** Messenger over an in-memory store and fake channels: no sockets, exact behaviour. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeEvent, NodeId } from '../../src/api.js';
import { isSentinelError } from '../../src/errors.js';
import { generateIdentity, type Identity } from '../../src/identity/index.js';
import { Messenger, toWire, type MessageChannel } from '../../src/messaging/index.js';
import { MemoryStore } from '../../src/store/index.js';
import { Counters, systemClock } from '../../src/transport/index.js';
import { FrameType, chatSigningInput, decodeAck, decodeChat, encodeChat, MAX_TEXT_BYTES } from '../../src/wire/index.js';

class FakeChannel implements MessageChannel {
  sent: Array<{ type: number; payload: Buffer }> = [];
  constructor(readonly peerId: NodeId) {}
  send(type: number, payload: Uint8Array): boolean {
    this.sent.push({ type, payload: Buffer.from(payload) });
    return true;
  }
  of(type: number): Buffer[] {
    return this.sent.filter((f) => f.type === type).map((f) => f.payload);
  }
}

function party(identity: Identity, channels: Map<NodeId, MessageChannel>) {
  const store = new MemoryStore();
  const counters = new Counters();
  const events: NodeEvent[] = [];
  const messenger = new Messenger({ identity, store, clock: systemClock, counters, channelFor: (p) => channels.get(p), emit: (e) => events.push(e) });
  return { identity, store, counters, events, messenger };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Messenger', () => {
  it('stores, sends, and on ACK marks delivered and empties the outbox', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const toB = new FakeChannel(b.id);
    const toA = new FakeChannel(a.id);
    const A = party(a, new Map([[b.id, toB]]));
    const B = party(b, new Map([[a.id, toA]]));
    const res = await A.messenger.send(b.id, 'hi bob');
    assert.equal(res.status, 'pending');
    assert.equal(A.store.outbox(b.id).length, 1, 'queued before delivery');
    const [chat] = toB.of(FrameType.CHAT);
    assert.ok(chat);
    B.messenger.onChat(toA, chat);
    await tick();
    await tick();
    assert.equal(B.store.history(a.id)[0]?.text, 'hi bob');
    assert.equal(B.store.history(a.id)[0]?.status, 'received');
    const [ack] = toA.of(FrameType.ACK);
    assert.ok(ack, 'receiver acknowledged after storing');
    assert.equal(Buffer.from(decodeAck(ack).ids[0] ?? []).toString('hex'), res.id);
    A.messenger.onAck(toB, ack);
    await tick();
    assert.equal(A.store.getMessage(res.id)?.status, 'delivered');
    assert.equal(A.store.outbox(b.id).length, 0);
    assert.ok(A.events.some((e) => e.type === 'delivered' && e.id === res.id));
    assert.equal(B.events.filter((e) => e.type === 'message').length, 1);
  });

  it('waits for the ACK when asked and reports delivered', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    let A: ReturnType<typeof party>;
    const B = party(b, new Map());
    const toA: MessageChannel = { peerId: a.id, send: (t, p) => (t === FrameType.ACK && setImmediate(() => A.messenger.onAck(toB, Buffer.from(p))), true) };
    const toB: MessageChannel = { peerId: b.id, send: (t, p) => (t === FrameType.CHAT && B.messenger.onChat(toA, Buffer.from(p)), true) };
    A = party(a, new Map([[b.id, toB]]));
    const res = await A.messenger.send(b.id, 'sync', 2_000);
    assert.equal(res.status, 'delivered');
  });

  it('flushes the outbox in order and the receiver stores each message exactly once', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const A = party(a, new Map());
    const toA = new FakeChannel(a.id);
    const B = party(b, new Map([[a.id, toA]]));
    for (const t of ['one', 'two', 'three']) await A.messenger.send(b.id, t);
    const toB = new FakeChannel(b.id);
    assert.equal(A.messenger.flushOutbox(toB), 3);
    assert.equal(A.messenger.flushOutbox(toB), 3, 'not acked yet: sent again');
    for (const f of toB.of(FrameType.CHAT)) B.messenger.onChat(toA, f);
    await tick();
    await tick();
    assert.deepEqual(B.store.history(a.id).map((m) => m.text), ['one', 'two', 'three']);
    assert.equal(B.events.filter((e) => e.type === 'message').length, 3);
    assert.equal(B.counters.get('chat_duplicates'), 3);
    const acked = toA.of(FrameType.ACK).flatMap((p) => decodeAck(p).ids).length;
    assert.equal(acked, 6, 'duplicates are acknowledged too, so the sender can stop');
  });

  it('rejects, counts and does not acknowledge forged, misaddressed and mis-signed messages', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const mallory = generateIdentity();
    const A = party(a, new Map());
    const toB = new FakeChannel(b.id);
    const res = await A.messenger.send(b.id, 'original');
    const good = toWire(A.store.getMessage(res.id)!);
    const B = party(b, new Map());
    const fromMallory = new FakeChannel(mallory.id);
    // 1. A's genuine message relayed by Mallory: sender is not the authenticated peer.
    B.messenger.onChat(fromMallory, encodeChat(good));
    // 2. Signed by A for someone else, delivered by A.
    const other = { ...good, to: generateIdentity().publicKey };
    B.messenger.onChat(new FakeChannel(a.id), encodeChat({ ...other, signature: a.sign(chatSigningInput(other)) }));
    // 3. Text changed after signing.
    B.messenger.onChat(new FakeChannel(a.id), encodeChat({ ...good, text: 'tampered' }));
    await tick();
    assert.equal(B.counters.get('chat_rejected.sender_mismatch'), 1);
    assert.equal(B.counters.get('chat_rejected.wrong_recipient'), 1);
    assert.equal(B.counters.get('chat_rejected.bad_signature'), 1);
    assert.equal(B.store.history(a.id).length, 0);
    assert.equal(fromMallory.sent.length + toB.sent.length, 0, 'nothing acknowledged');
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
    const { encodeAck } = await import('../../src/wire/index.js');
    A.messenger.onAck(new FakeChannel(generateIdentity().id), encodeAck({ ids: [wire.id] }));
    A.messenger.onAck(new FakeChannel(b.id), encodeAck({ ids: [new Uint8Array(16)] }));
    await tick();
    assert.equal(A.store.getMessage(res.id)?.status, 'pending');
    assert.equal(A.counters.get('acks_unknown'), 2);
  });
});
