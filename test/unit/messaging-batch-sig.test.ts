/**
 * Batch signatures (CHAT_BATCHED, frame 0x12): the Merkle tree, the codec, and two
 * messengers over fake channels that announce HELLO flag 0x04.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NodeEvent, NodeId } from '../../src/api.js';
import { isSentinelError } from '../../src/errors.js';
import { generateIdentity, verifySignature, type Identity } from '../../src/identity/index.js';
import { Messenger, type MessageChannel } from '../../src/messaging/index.js';
import { buildTree, leafHash, rootFromProof, rootSigningInput, MAX_BATCH_LEAVES } from '../../src/messaging/merkle.js';
import { BatchNodes } from '../../src/messaging/batch-nodes.js';
import { MemoryStore, openLmdbStore, type StoredMessage } from '../../src/store/index.js';
import { Counters } from '../../src/transport/index.js';
import {
  FrameType,
  HELLO_FLAG_CHAT_BATCH,
  MAX_PROOF_DEPTH,
  chatSigningInput,
  decodeChat,
  decodeChatBatched,
  decodeProof,
  encodeChatBatched,
  encodeProof,
  type ChatMessage,
} from '../../src/wire/index.js';
import { fakeClock } from '../helpers/fake-clock.js';

const tick = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};
const flip = (b: Buffer, i: number): void => {
  b[i] = (b[i] as number) ^ 1;
};
const malformed = (fn: () => unknown): void => assert.throws(fn, (e) => isSentinelError(e, 'E_PAYLOAD_MALFORMED'));

class FakeChannel implements MessageChannel {
  sent: Array<{ type: number; payload: Buffer }> = [];
  writableLength = 0;
  peerHello: { flags?: number } | null;
  constructor(
    readonly peerId: NodeId,
    batch: boolean,
  ) {
    this.peerHello = batch ? { flags: HELLO_FLAG_CHAT_BATCH } : null;
  }
  send(type: number, payload: Uint8Array): boolean {
    this.sent.push({ type, payload: Buffer.from(payload) });
    return true;
  }
  onDrain(): void {}
  take(type: number): Buffer[] {
    const out = this.sent.filter((f) => f.type === type).map((f) => f.payload);
    this.sent = this.sent.filter((f) => f.type !== type);
    return out;
  }
}

function party(identity: Identity, channels: Map<NodeId, MessageChannel>, batchSignatures?: boolean) {
  const store = new MemoryStore();
  const counters = new Counters();
  const events: NodeEvent[] = [];
  const messenger = new Messenger({ identity, store, clock: fakeClock(1_000_000), counters, channelFor: (p) => channels.get(p), emit: (e) => events.push(e), ...(batchSignatures === undefined ? {} : { batchSignatures }) });
  return { identity, store, counters, events, messenger };
}

/** Sends 'lead' then `texts` in one turn: the lead goes at once on its own, `texts` share a batch signature. */
const burst = (M: { messenger: Messenger }, to: NodeId, texts: string[]): Promise<unknown> => Promise.all([M.messenger.send(to, 'lead'), ...texts.map((t) => M.messenger.send(to, t))]);

function pair(batch = true) {
  const a = generateIdentity();
  const b = generateIdentity();
  const toB = new FakeChannel(b.id, batch);
  const toA = new FakeChannel(a.id, batch);
  const A = party(a, new Map([[b.id, toB]]));
  const B = party(b, new Map([[a.id, toA]]));
  A.messenger.onSessionUp(toB);
  B.messenger.onSessionUp(toA);
  return { a, b, A, B, toA, toB };
}

/** A signed batch of `n` messages from `id`, as a sender builds it. */
function signedBatch(id: Identity, n: number): ChatMessage[] {
  const to = generateIdentity().publicKey;
  const unsigned = Array.from({ length: n }, (_, i) => ({ id: Buffer.alloc(16, i + 1), from: id.publicKey, to, timestamp: 1_700_000_000_000 + i, text: `m${i}` }));
  const tree = buildTree(unsigned.map((u) => leafHash(chatSigningInput(u))));
  const signature = id.sign(rootSigningInput(tree.root));
  return unsigned.map((u, i) => ({ ...u, signature, proof: tree.proofs[i] as NonNullable<ChatMessage['proof']> }));
}

describe('batch tree', () => {
  it('every proof of trees of 1..17 leaves leads to the root; a tampered leaf, path or index does not', () => {
    for (let n = 1; n <= 17; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
      const { root, proofs } = buildTree(leaves);
      proofs.forEach((p, i) => {
        assert.deepEqual(rootFromProof(leaves[i] as Buffer, p), root, `n=${n} i=${i}`);
        assert.notDeepEqual(rootFromProof(leafHash(Buffer.from('other')), p), root);
        if (p.path.length > 0) {
          const path = p.path.map((h) => Buffer.from(h));
          flip(path[0] as Buffer, 0);
          assert.notDeepEqual(rootFromProof(leaves[i] as Buffer, { index: p.index, path }), root);
          assert.notDeepEqual(rootFromProof(leaves[i] as Buffer, { index: p.index ^ 1, path: p.path }), root);
        }
      });
    }
  });

  it('refuses an empty or oversized batch', () => {
    assert.throws(() => buildTree([]), RangeError);
    assert.throws(() => buildTree(Array.from({ length: MAX_BATCH_LEAVES + 1 }, () => Buffer.alloc(32))), RangeError);
  });
});

describe('batch tree memory (receiver)', () => {
  it('gives every message the root a full path gives, in any arrival order, hashing less; a tampered leaf or index still leads elsewhere', () => {
    const counters = new Counters();
    const nodes = new BatchNodes(fakeClock(0), counters);
    const from = Buffer.alloc(32, 1);
    const sig = Buffer.alloc(64, 2);
    const leaves = Array.from({ length: 37 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
    const { root, proofs } = buildTree(leaves);
    const order = leaves.map((_, i) => (i * 17) % leaves.length);
    for (const i of order) {
      const p = proofs[i] as NonNullable<ChatMessage['proof']>;
      assert.deepEqual(nodes.rootOf(from, sig, leaves[i] as Buffer, p).root, root, `leaf ${i}`);
      assert.notDeepEqual(nodes.rootOf(from, sig, leafHash(Buffer.from('forged')), p).root, root);
      assert.notDeepEqual(nodes.rootOf(from, sig, leaves[i] as Buffer, { index: p.index ^ 1, path: p.path }).root, root);
    }
    assert.ok(counters.get('chat_proof_shortcuts') > 0, 'later messages stop at a known node');
    // Another sender's tree with the same signature bytes is separate.
    assert.deepEqual(nodes.rootOf(Buffer.alloc(32, 9), sig, leaves[0] as Buffer, proofs[0] as NonNullable<ChatMessage['proof']>).root, root);
    assert.equal(nodes.size, 2);
  });

  it('learns the nodes a shortcut hashed: a full batch in order costs about one hash per message', () => {
    const nodes = new BatchNodes(fakeClock(0));
    const leaves = Array.from({ length: MAX_BATCH_LEAVES }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
    const { root, proofs } = buildTree(leaves);
    let hashes = 0;
    leaves.forEach((leaf, i) => {
      const r = nodes.rootOf(Buffer.alloc(32, 1), Buffer.alloc(64, 2), leaf, proofs[i] as NonNullable<ChatMessage['proof']>);
      assert.deepEqual(r.root, root, `leaf ${i}`);
      hashes += r.hashes;
    });
    // The first message hashes its whole path (10); each later one stops at the first node
    // an earlier one hashed: one hash for every second message, none for the others.
    assert.ok(hashes <= MAX_BATCH_LEAVES, `${hashes} hashes for ${MAX_BATCH_LEAVES} messages`);
  });

  it('keeps at most its bound of trees', () => {
    const nodes = new BatchNodes(fakeClock(0), undefined, 3);
    const leaf = leafHash(Buffer.from('x'));
    for (let i = 0; i < 10; i++) nodes.rootOf(Buffer.alloc(32, i), Buffer.alloc(64), leaf, { index: 0, path: [] });
    assert.equal(nodes.size, 3);
  });
});

describe('CHAT_BATCHED codec', () => {
  const [m] = signedBatch(generateIdentity(), 5) as [ChatMessage];

  it('round-trips, and the proof block alone round-trips', () => {
    const back = decodeChatBatched(encodeChatBatched(m));
    assert.deepEqual({ ...back, id: Buffer.from(back.id), from: Buffer.from(back.from), to: Buffer.from(back.to), signature: Buffer.from(back.signature), proof: { index: back.proof?.index, path: back.proof?.path.map((h) => Buffer.from(h)) } }, {
      ...m,
      id: Buffer.from(m.id),
      from: Buffer.from(m.from),
      to: Buffer.from(m.to),
      signature: Buffer.from(m.signature),
      proof: { index: m.proof?.index, path: m.proof?.path.map((h) => Buffer.from(h)) },
    });
    const p = decodeProof(encodeProof(m.proof as NonNullable<ChatMessage['proof']>));
    assert.equal(p.index, m.proof?.index);
    assert.equal(p.path.length, 3);
  });

  it('refuses bad input with E_PAYLOAD_MALFORMED', () => {
    const good = encodeChatBatched(m);
    const textEnd = 92 + 2; // 'm0'
    malformed(() => decodeChatBatched(good.subarray(0, good.length - 1)));
    malformed(() => decodeChatBatched(Buffer.concat([good, Buffer.alloc(1)])));
    malformed(() => decodeChatBatched(Buffer.alloc(10)));
    const deep = Buffer.from(good);
    deep[textEnd + 2] = MAX_PROOF_DEPTH + 1;
    malformed(() => decodeChatBatched(deep));
    const index = Buffer.from(good);
    index.writeUInt16BE(8, textEnd); // depth 3: index must be < 8
    malformed(() => decodeChatBatched(index));
    const shallow = Buffer.from(good);
    shallow[textEnd + 2] = 2; // says 2 hashes, carries 3
    malformed(() => decodeChatBatched(shallow));
    const longText = Buffer.from(good);
    longText.writeUInt32BE(good.length, 88);
    malformed(() => decodeChatBatched(longText));
    malformed(() => encodeChatBatched({ ...m, proof: { index: 4, path: [Buffer.alloc(32), Buffer.alloc(32)] } }));
    malformed(() => encodeChatBatched({ ...m, proof: { index: 0, path: Array.from({ length: MAX_PROOF_DEPTH + 1 }, () => Buffer.alloc(32)) } }));
    malformed(() => decodeProof(Buffer.alloc(2)));
  });
});

describe('Messenger: batch signatures', () => {
  it('one signature for the messages of one turn, one root check on the receiver, all stored with their proofs and acknowledged', async () => {
    const { a, b, A, B, toA, toB } = pair();
    // The first of the turn goes at once on its own; the four after it share one signature.
    const sends = Array.from({ length: 5 }, (_, i) => A.messenger.send(b.id, `m${i}`));
    await Promise.all(sends);
    assert.equal(A.counters.get('chat_batch_signatures'), 1);
    const first = toB.take(FrameType.CHAT);
    assert.deepEqual(first.map((f) => decodeChat(f).text), ['m0']);
    const frames = toB.take(FrameType.CHAT_BATCHED);
    assert.equal(frames.length, 4);
    assert.equal(new Set(frames.map((f) => Buffer.from(decodeChatBatched(f).signature).toString('hex'))).size, 1);
    assert.equal(A.store.outbox(b.id)[1]?.proof?.length, 3 + 2 * 32, 'stored with its proof');
    assert.equal(A.store.outbox(b.id)[0]?.proof, undefined);
    B.messenger.onChat(toA, first[0] as Buffer);
    for (const f of frames) B.messenger.onChat(toA, f, FrameType.CHAT_BATCHED);
    await tick();
    assert.deepEqual(B.store.history(a.id).map((m) => m.text), ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(B.store.history(a.id).filter((m) => m.proof !== undefined).length, 4);
    assert.equal(B.counters.get('chat_root_verified'), 1);
    assert.equal(B.counters.get('chat_root_cached'), 3);
    for (const k of toA.take(FrameType.ACK)) A.messenger.onAck(toB, k);
    await tick();
    assert.equal(A.store.outbox(b.id).length, 0);
  });

  it('while busy (the last turn batched two or more) the first message of a turn waits for the batch too; once idle again it goes at once', async () => {
    const { b, A, toB } = pair();
    await burst(A, b.id, ['m0', 'm1']);
    assert.deepEqual(toB.take(FrameType.CHAT).map((f) => decodeChat(f).text), ['lead']);
    await Promise.all([A.messenger.send(b.id, 'm2'), A.messenger.send(b.id, 'm3')]);
    assert.equal(toB.take(FrameType.CHAT).length, 0, 'busy: all batched');
    await A.messenger.send(b.id, 'm4');
    assert.equal(toB.take(FrameType.CHAT).length, 0, 'still busy for one turn');
    await A.messenger.send(b.id, 'm5');
    assert.deepEqual(toB.take(FrameType.CHAT).map((f) => decodeChat(f).text), ['m5'], 'idle: at once');
    assert.deepEqual(toB.take(FrameType.CHAT_BATCHED).map((f) => decodeChatBatched(f).text), ['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('never mixes recipients in one tree: one signature per recipient and turn', async () => {
    const a = generateIdentity();
    const [b, c] = [generateIdentity(), generateIdentity()];
    const toB = new FakeChannel(b.id, true);
    const toC = new FakeChannel(c.id, true);
    const A = party(a, new Map([[b.id, toB], [c.id, toC]]));
    A.messenger.onSessionUp(toB);
    A.messenger.onSessionUp(toC);
    await Promise.all([A.messenger.send(b.id, 'lead'), A.messenger.send(b.id, 'b1'), A.messenger.send(c.id, 'c1'), A.messenger.send(b.id, 'b2')]);
    assert.equal(A.counters.get('chat_batch_signatures'), 2);
    const forB = toB.take(FrameType.CHAT_BATCHED).map((f) => decodeChatBatched(f));
    assert.deepEqual(forB.map((m) => [m.text, m.proof?.index, m.proof?.path.length]), [['b1', 0, 1], ['b2', 1, 1]]);
    assert.equal(decodeChatBatched(toC.take(FrameType.CHAT_BATCHED)[0] as Buffer).proof?.path.length, 0);
  });

  it('a single message of a batch verifies alone (a resend after a crash)', async () => {
    const { a, b, A, toB } = pair();
    await burst(A, b.id, ['m0', 'm1', 'm2']);
    const third = toB.take(FrameType.CHAT_BATCHED)[2] as Buffer;
    const fresh = party(b, new Map());
    const back = new FakeChannel(a.id, true);
    fresh.messenger.onChat(back, third, FrameType.CHAT_BATCHED);
    await tick();
    assert.deepEqual(fresh.store.history(a.id).map((m) => m.text), ['m2']);
    assert.equal(back.take(FrameType.ACK).length, 1);
  });

  it('drops a message whose text, index or root signature was tampered with (counted bad_proof), and keeps the rest', async () => {
    const { a, b, A, B, toA, toB } = pair();
    await burst(A, b.id, ['m0', 'm1', 'm2', 'm3']);
    const frames = toB.take(FrameType.CHAT_BATCHED);
    const text = Buffer.from(frames[0] as Buffer);
    flip(text, 92); // 'm0' -> 'l0'
    const index = Buffer.from(frames[1] as Buffer);
    index.writeUInt16BE(0, 92 + 2); // claims leaf 0
    const sig = Buffer.from(frames[2] as Buffer);
    flip(sig, sig.length - 1);
    for (const f of [text, index, sig, frames[3] as Buffer]) B.messenger.onChat(toA, f, FrameType.CHAT_BATCHED);
    await tick();
    assert.equal(B.counters.get('chat_rejected.bad_proof'), 3);
    assert.deepEqual(B.store.history(a.id).map((m) => m.text), ['m3']);
  });

  it('a tampered first message does not make the genuine rest of its batch fail (shortcut roots are checked again in full)', async () => {
    const { a, b, A, B, toA, toB } = pair();
    await burst(A, b.id, Array.from({ length: 8 }, (_, i) => `m${i}`));
    const frames = toB.take(FrameType.CHAT_BATCHED);
    const bad = Buffer.from(frames[0] as Buffer);
    flip(bad, 92);
    B.messenger.onChat(toA, bad, FrameType.CHAT_BATCHED);
    for (const f of frames.slice(1)) B.messenger.onChat(toA, f, FrameType.CHAT_BATCHED);
    await tick();
    assert.equal(B.counters.get('chat_rejected.bad_proof'), 1);
    assert.deepEqual(B.store.history(a.id).map((m) => m.text), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    // Sent again untouched, the first one is taken too.
    B.messenger.onChat(toA, frames[0] as Buffer, FrameType.CHAT_BATCHED);
    await tick();
    assert.equal(B.store.history(a.id).length, 8);
  });

  it('peers without flag 0x04 get per-message CHAT; a batch-signed message is signed again when the peer no longer accepts batches', async () => {
    const { b, A, toB } = pair();
    await burst(A, b.id, ['m0', 'm1']);
    assert.equal(toB.take(FrameType.CHAT_BATCHED).length, 2);
    A.messenger.onSessionDown(b.id);
    const old = new FakeChannel(b.id, false);
    A.messenger.onSessionUp(old);
    const plain = old.take(FrameType.CHAT).map((p) => decodeChat(p));
    assert.deepEqual(plain.map((m) => m.text), ['lead', 'm0', 'm1']);
    for (const m of plain) assert.ok(verifySignature(m.from, chatSigningInput(m), m.signature));
    assert.equal(A.counters.get('chat_resigned'), 2);
    const alone = party(generateIdentity(), new Map([[b.id, old]]));
    alone.messenger.onSessionUp(old);
    await alone.messenger.send(b.id, 'plain');
    assert.equal(old.take(FrameType.CHAT_BATCHED).length, 0);
    assert.equal(alone.counters.get('chat_batch_signatures'), 0);
  });

  it('batchSignatures false: per-message CHAT even to a peer that accepts batches, and CHAT is still accepted by a batching receiver', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const toB = new FakeChannel(b.id, true);
    const toA = new FakeChannel(a.id, true);
    const A = party(a, new Map([[b.id, toB]]), false);
    const B = party(b, new Map([[a.id, toA]]));
    A.messenger.onSessionUp(toB);
    await Promise.all([A.messenger.send(b.id, 'x'), A.messenger.send(b.id, 'y')]);
    const chats = toB.take(FrameType.CHAT);
    assert.equal(chats.length, 2);
    for (const c of chats) B.messenger.onChat(toA, c);
    await tick();
    assert.deepEqual(B.store.history(a.id).map((m) => m.text), ['x', 'y']);
  });
});

describe('LmdbStore keeps the proof', () => {
  it('round-trips a batched row next to a per-message one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sentinel-proof-'));
    try {
      const store = await openLmdbStore(join(dir, 'db'));
      const id = generateIdentity();
      const [m] = signedBatch(id, 3) as [ChatMessage];
      const peer = generateIdentity().id;
      const base = { from: peer, to: id.id, timestamp: 1, text: 't', signature: new Uint8Array(64).fill(1), status: 'received' as const };
      const batched: StoredMessage = { ...base, id: 'a'.repeat(32), proof: encodeProof(m.proof as NonNullable<ChatMessage['proof']>) };
      const plain: StoredMessage = { ...base, id: 'b'.repeat(32) };
      assert.ok(await store.addMessage(peer, batched));
      assert.ok(await store.addMessage(peer, plain));
      assert.deepEqual(Buffer.from(store.getMessage(batched.id)?.proof ?? []), Buffer.from(batched.proof as Uint8Array));
      assert.equal(store.getMessage(plain.id)?.proof, undefined);
      await store.setStatus(batched.id, 'delivered');
      assert.deepEqual(Buffer.from(store.getMessage(batched.id)?.proof ?? []), Buffer.from(batched.proof as Uint8Array));
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
