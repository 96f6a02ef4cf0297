/**
 * The batched messaging paths, exactly (in-memory store, fake channels, a verifier the test
 * answers by hand): arrival order through out-of-order verification, one ACK frame for a
 * turn's messages, the bounded verification queue, and the sender answering `delivered`
 * on the ACK while its own mark is written in the background (one batch per ACK frame).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeEvent, NodeId } from '../../src/api.js';
import { generateIdentity, type Identity } from '../../src/identity/index.js';
import { Messenger, HeldQuota, type MessageChannel, type SignatureVerifier, type VerifyJob } from '../../src/messaging/index.js';
import { Intake } from '../../src/messaging/intake.js';
import { MemoryStore } from '../../src/store/index.js';
import type { MessageStatus } from '../../src/api.js';
import { Counters } from '../../src/transport/index.js';
import { FrameType, RefuseCode, chatSigningInput, decodeAck, decodeChat, decodeChatRefused, encodeAck, encodeChat, type UnsignedChat } from '../../src/wire/index.js';
import { fakeClock } from '../helpers/fake-clock.js';

class FakeChannel implements MessageChannel {
  sent: Array<{ type: number; payload: Buffer }> = [];
  writableLength = 0;
  constructor(readonly peerId: NodeId) {}
  send(type: number, payload: Uint8Array): boolean {
    this.sent.push({ type, payload: Buffer.from(payload) });
    return true;
  }
  onDrain(): void {}
  of(type: number): Buffer[] {
    return this.sent.filter((f) => f.type === type).map((f) => f.payload);
  }
}

/** Holds every job until the test answers it. */
class ManualVerifier implements SignatureVerifier {
  jobs: Array<{ job: VerifyJob; done: (ok: boolean) => void }> = [];
  capacity = Infinity;
  get pending(): number {
    return this.jobs.length;
  }
  verify(job: VerifyJob, done: (ok: boolean) => void): boolean {
    if (this.jobs.length >= this.capacity) return false;
    this.jobs.push({ job, done });
    return true;
  }
  /** Answers job `i` (in submission order) with `ok`. */
  answer(i: number, ok = true): void {
    this.jobs[i]?.done(ok);
  }
  async close(): Promise<void> {}
}

const tick = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function chat(from: Identity, to: Identity, text: string): { payload: Buffer; id: string } {
  const unsigned: UnsignedChat = { id: Buffer.from(crypto.getRandomValues(new Uint8Array(16))), from: from.publicKey, to: to.publicKey, timestamp: 1, text };
  return { payload: encodeChat({ ...unsigned, signature: from.sign(chatSigningInput(unsigned)) }), id: hex(unsigned.id) };
}

function receiver(opts: { maxQueued?: number; trust?: 'contact' | 'stranger' } = {}) {
  const me = generateIdentity();
  const sender = generateIdentity();
  const store = new MemoryStore();
  const counters = new Counters();
  const verifier = new ManualVerifier();
  const quota = new HeldQuota();
  const events: NodeEvent[] = [];
  const intake = new Intake({
    identity: me,
    store,
    clock: fakeClock(1000),
    counters,
    quota,
    trust: () => opts.trust ?? 'contact',
    policy: () => 'requests',
    emit: (e) => events.push(e),
    verifier,
    ...(opts.maxQueued === undefined ? {} : { maxQueued: opts.maxQueued }),
  });
  const channel = new FakeChannel(sender.id);
  return { me, sender, store, counters, verifier, quota, intake, channel, events };
}

describe('Intake: verification off the event loop', () => {
  it('stores in arrival order although signatures are answered out of order, and drops the bad one', async () => {
    const r = receiver();
    const sent = ['one', 'two', 'three', 'four'].map((t) => chat(r.sender, r.me, t));
    for (const m of sent) r.intake.onChat(r.channel, m.payload);
    assert.equal(r.verifier.jobs.length, 4);
    r.verifier.answer(3);
    r.verifier.answer(1, false);
    r.verifier.answer(2);
    await tick();
    assert.equal(r.store.history(r.sender.id).length, 0, 'nothing stored before the first message is verified');
    assert.equal(r.intake.inVerification, 4);
    r.verifier.answer(0);
    await tick();
    assert.deepEqual(r.store.history(r.sender.id).map((m) => m.text), ['one', 'three', 'four']);
    assert.equal(r.counters.get('chat_rejected.bad_signature'), 1);
    assert.equal(r.intake.inVerification, 0);
    // The three stored in one turn are acknowledged in one frame.
    const acks = r.channel.of(FrameType.ACK);
    assert.equal(acks.length, 1);
    assert.deepEqual(decodeAck(acks[0]!).ids.map(hex).sort(), [sent[0]!.id, sent[2]!.id, sent[3]!.id].sort());
  });

  it('refuses for now (RATE_LIMITED) when the verifier is full, counts it, and releases the stranger quota', async () => {
    const r = receiver({ trust: 'stranger' });
    r.verifier.capacity = 1;
    const [m1, m2] = [chat(r.sender, r.me, 'a'), chat(r.sender, r.me, 'b')];
    r.intake.onChat(r.channel, m1.payload);
    r.intake.onChat(r.channel, m2.payload);
    assert.equal(r.counters.get('chat_refused.verify_busy'), 1);
    assert.equal(r.quota.usage(r.sender.id).count, 1, 'only the queued message holds quota');
    await tick();
    const refused = r.channel.of(FrameType.CHAT_REFUSED).map((p) => decodeChatRefused(p));
    assert.deepEqual(refused.map((x) => [x.code, x.ids.map(hex)]), [[RefuseCode.RATE_LIMITED, [m2.id]]]);
    r.verifier.answer(0);
    await tick();
    assert.deepEqual(r.store.history(r.sender.id).map((m) => m.text), ['a']);
  });

  it('bounds the queue of verified messages waiting for an earlier one', async () => {
    const r = receiver({ maxQueued: 2 });
    const sent = [0, 1, 2].map((i) => chat(r.sender, r.me, `m${i}`));
    for (const m of sent) r.intake.onChat(r.channel, m.payload);
    assert.equal(r.intake.inVerification, 2);
    assert.equal(r.counters.get('chat_refused.verify_busy'), 1);
  });
});

/** Wire ids as sorted hex. */
const results0 = (ids: Uint8Array[]): string[] => ids.map((id) => Buffer.from(id).toString('hex')).sort();

/** A MemoryStore whose status writes (and delivered marks) wait until the test releases them. */
class SlowMarks extends MemoryStore {
  marks: Array<{ ids: readonly string[]; status: MessageStatus; release: () => void }> = [];
  override setStatus(id: string, status: MessageStatus): Promise<boolean> {
    return new Promise((resolve) => this.marks.push({ ids: [id], status, release: () => void super.setStatus(id, status).then(resolve) }));
  }
  override markDelivered(ids: readonly string[]): Promise<number> {
    return new Promise((resolve) => this.marks.push({ ids, status: 'delivered', release: () => void super.markDelivered(ids).then(resolve) }));
  }
}

describe('Messenger: the ACK path', () => {
  it('answers delivered on the ACK, before its own mark is on disk; all marks of one ACK are one store write', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const store = new SlowMarks();
    const counters = new Counters();
    const events: NodeEvent[] = [];
    const toB = new FakeChannel(b.id);
    const clock = fakeClock(0);
    const A = new Messenger({ identity: a, store, clock, counters, channelFor: () => toB, emit: (e) => events.push(e) });
    A.onSessionUp(toB);
    const sends = [A.send(b.id, 'x', 1000), A.send(b.id, 'y', 1000), A.send(b.id, 'z', 1000)];
    await tick();
    const ids = toB.of(FrameType.CHAT).map((p) => p.subarray(0, 16));
    assert.equal(ids.length, 3);
    const ack = encodeAck({ ids });
    A.onAck(toB, ack);
    assert.equal(store.marks.length, 1, 'one store write for the whole ACK');
    assert.deepEqual([...store.marks[0]!.ids].sort(), results0(ids));
    const results = await Promise.all(sends);
    assert.deepEqual(results.map((r) => r.status), ['delivered', 'delivered', 'delivered']);
    assert.equal(events.filter((e) => e.type === 'delivered').length, 3);
    assert.equal(store.outbox(b.id).length, 3, 'still in the outbox until the mark lands');
    // A second ACK for the same ids while the marks are pending: no second event, not "unknown".
    A.onAck(toB, ack);
    assert.equal(events.filter((e) => e.type === 'delivered').length, 3);
    assert.equal(counters.get('acks_unknown'), 0);
    assert.equal(store.marks.length, 1);
    // Nothing is resent meanwhile, even after the ack timeout.
    A.start();
    await clock.advance(60_000);
    assert.equal(toB.of(FrameType.CHAT).length, 3);
    A.stop();
    for (const m of store.marks) m.release();
    await tick();
    assert.equal(store.outbox(b.id).length, 0);
    assert.deepEqual(results.map((r) => store.getMessage(r.id)?.status), ['delivered', 'delivered', 'delivered']);
    assert.equal(toB.of(FrameType.CHAT).length, 3);
  });
});

/** A MemoryStore whose message inserts wait until the test releases them (or fails them). */
class SlowSaves extends MemoryStore {
  saves: Array<{ text: string; release: () => void; fail: () => void }> = [];
  full = false;
  override addMessage(...args: Parameters<MemoryStore['addMessage']>): Promise<boolean> {
    return new Promise((resolve, reject) =>
      this.saves.push({ text: args[1].text, release: () => void super.addMessage(...args).then(resolve), fail: () => reject(new Error('disk trouble')) }),
    );
  }
  override health(): ReturnType<MemoryStore['health']> {
    return { ...super.health(), full: this.full };
  }
}

function sender(window = 1024) {
  const a = generateIdentity();
  const b = generateIdentity();
  const store = new SlowSaves();
  const counters = new Counters();
  const toB = new FakeChannel(b.id);
  const A = new Messenger({ identity: a, store, clock: fakeClock(0), counters, channelFor: () => toB, emit: () => {}, limits: { outbox: { window } } });
  A.onSessionUp(toB);
  const texts = (): string[] => toB.of(FrameType.CHAT).map((p) => decodeChat(p).text);
  return { a, b, store, counters, toB, A, texts };
}

describe('Messenger: early send', () => {
  it('writes the CHAT while the save runs; send returns only once saved, delivered if the ACK came first', async () => {
    const { b, store, toB, A, texts } = sender();
    let settled = false;
    const p = A.send(b.id, 'early', 1000).then((r) => ((settled = true), r));
    assert.deepEqual(texts(), ['early'], 'on the wire before the store has it');
    A.onAck(toB, encodeAck({ ids: [toB.of(FrameType.CHAT)[0]!.subarray(0, 16)] }));
    await tick();
    assert.equal(settled, false, 'not answered before it is on disk');
    store.saves[0]!.release();
    const r = await p;
    assert.equal(r.status, 'delivered');
    await tick();
    assert.equal(store.getMessage(r.id)?.status, 'delivered', 'the mark was written after the save');
    assert.equal(store.outbox(b.id).length, 0);
  });

  it('never lets a new message overtake one that waits (window full, or not saved yet)', async () => {
    const { b, store, toB, A, texts } = sender(2);
    const sends = ['m0', 'm1', 'm2', 'm3'].map((t) => A.send(b.id, t));
    assert.deepEqual(texts(), ['m0', 'm1'], 'the window is full after two');
    // m2 and m3 wait; an ACK frees the window before they are saved: nothing jumps ahead.
    A.onAck(toB, encodeAck({ ids: toB.of(FrameType.CHAT).map((p) => p.subarray(0, 16)) }));
    const m4 = A.send(b.id, 'm4');
    assert.deepEqual(texts(), ['m0', 'm1'], 'm4 is not sent before m2 and m3');
    for (const s of store.saves) s.release();
    await Promise.all([...sends, m4]);
    await tick();
    assert.deepEqual(texts(), ['m0', 'm1', 'm2', 'm3'], 'the backlog goes first, in order (window 2)');
  });

  it('does not send early while the store is full, and a failed save is not resent', async () => {
    const { b, store, A, texts } = sender();
    store.full = true;
    const p1 = A.send(b.id, 'while full');
    assert.deepEqual(texts(), []);
    store.saves[0]!.fail();
    await assert.rejects(p1);
    store.full = false;
    await tick();
    const p2 = A.send(b.id, 'later');
    assert.deepEqual(texts(), ['later']);
    store.saves[1]!.release();
    await p2;
    await tick();
    assert.deepEqual(texts(), ['later']);
  });
});
