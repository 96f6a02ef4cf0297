import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateIdentity, type Identity } from '../../src/identity/index.js';
import {
  MAX_INBOUND_PER_PEER_ROUND,
  PeerBook,
  PeerStates,
  buildPush,
  handlePullReplyPayload,
  handlePushPayload,
  onPush,
  pickPeers,
  recordsToPush,
  signRecord,
} from '../../src/gossip/index.js';
import { MAX_RECORDS_PER_MESSAGE, decodeGossipPush, decodePeerRecord } from '../../src/wire/index.js';
import { seededRandom as prng } from '../helpers/seeded-random.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

function record(who: Identity, seq = 1): Buffer {
  return signRecord(who, { seq, issuedAt: NOW, expiresAt: NOW + HOUR, public: [{ host: '203.0.113.1', port: 4000 + seq }], local: [] });
}


const seqOf = (bytes: Uint8Array): number => decodePeerRecord(bytes).seq;
const ids = Array.from({ length: 40 }, () => generateIdentity());

describe('pickPeers', () => {
  it('picks at most fanout distinct partners using the injected randomness', () => {
    const peers = ['a', 'b', 'c', 'd', 'e'];
    const picked = pickPeers(peers, 3, prng(1));
    assert.equal(picked.length, 3);
    assert.equal(new Set(picked).size, 3);
    assert.ok(picked.every((p) => peers.includes(p)));
    assert.deepEqual(pickPeers(peers, 3, prng(1)), picked);
    assert.deepEqual(pickPeers(peers, 3, () => 0), ['a', 'b', 'c']);
    assert.deepEqual(pickPeers(peers, 9, prng(2)).sort(), peers);
    assert.deepEqual(pickPeers([], 3, prng(3)), []);
    assert.deepEqual(peers, ['a', 'b', 'c', 'd', 'e']);
  });
});

describe('recordsToPush', () => {
  it('sends news newest first, at most one message, then nothing until something changes', () => {
    const book = new PeerBook();
    for (const id of ids) book.offer(record(id), NOW);
    const state = new PeerStates().get('p');
    const first = recordsToPush(book, state);
    assert.equal(first.length, MAX_RECORDS_PER_MESSAGE);
    assert.deepEqual(first[0], book.get((ids[39] as Identity).id)?.bytes); // newest change first
    const rest = recordsToPush(book, state);
    assert.equal(rest.length, ids.length - MAX_RECORDS_PER_MESSAGE); // backlog, oldest first
    assert.deepEqual(rest[0], book.get((ids[0] as Identity).id)?.bytes);
    assert.deepEqual(recordsToPush(book, state), []);
    book.offer(record(ids[5] as Identity, 2), NOW);
    const news = recordsToPush(book, state);
    assert.deepEqual(news.map(seqOf), [2]);
    assert.deepEqual(recordsToPush(book, state), []);
  });

  it('puts fresh news ahead of an old backlog and still delivers every record', () => {
    const book = new PeerBook();
    for (const id of ids.slice(0, 35)) book.offer(record(id), NOW);
    const state = new PeerStates().get('p');
    const seen = new Set<string>();
    const take = (): Uint8Array[] => {
      const out = recordsToPush(book, state);
      for (const b of out) seen.add(Buffer.from(b).toString('hex'));
      return out;
    };
    take();
    book.offer(record(ids[36] as Identity), NOW);
    const second = take();
    assert.deepEqual(second[0], book.get((ids[36] as Identity).id)?.bytes);
    while (take().length > 0);
    assert.equal(seen.size, book.size);
  });

  it('keeps an unsent backlog when news overflow a message again', () => {
    const book = new PeerBook();
    const state = new PeerStates().get('p');
    const sent = new Set<Uint8Array>();
    const push = (max: number): number => recordsToPush(book, state, max).map((b) => sent.add(b)).length;
    for (const id of ids.slice(0, 3)) book.offer(record(id), NOW);
    push(1);
    for (const id of ids.slice(3, 6)) book.offer(record(id), NOW);
    push(1);
    while (push(1) > 0);
    assert.equal(sent.size, 6);
  });

  it('eventually delivers the latest version of every record, whatever the interleaving (property)', () => {
    const signed = ids.slice(0, 12).map((id) => [1, 2, 3].map((seq) => record(id, seq)));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('offer' as const), who: fc.nat({ max: 11 }), seq: fc.nat({ max: 2 }) }),
      fc.record({ kind: fc.constant('push' as const), max: fc.integer({ min: 1, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const book = new PeerBook();
        const state = new PeerStates().get('p');
        const received = new Map<string, number>();
        const push = (max: number): number => {
          const out = recordsToPush(book, state, max);
          for (const b of out) {
            const r = decodePeerRecord(b);
            const key = Buffer.from(r.publicKey).toString('hex');
            received.set(key, Math.max(received.get(key) ?? 0, r.seq));
          }
          return out.length;
        };
        for (const o of ops) {
          if (o.kind === 'offer') book.offer(signed[o.who]?.[o.seq] as Uint8Array, NOW);
          else push(o.max);
        }
        let guard = 0;
        while (push(5) > 0) assert.ok(++guard < 50, 'drain does not end');
        const expected = new Map(book.all().map((e) => [Buffer.from(e.record.publicKey).toString('hex'), e.record.seq]));
        assert.deepEqual(received, expected);
      }),
      { numRuns: 200 },
    );
  });

  it('never sends a record back to the partner it came from', () => {
    const book = new PeerBook();
    book.offer(record(ids[0] as Identity), NOW, 'p');
    book.offer(record(ids[1] as Identity), NOW, 'q');
    const states = new PeerStates();
    assert.deepEqual(recordsToPush(book, states.get('p')).map((b) => decodePeerRecord(b).public), [[{ host: '203.0.113.1', port: 4001 }]]);
    assert.equal(recordsToPush(book, states.get('p')).length, 0);
    assert.equal(recordsToPush(book, states.get('q')).length, 1);
  });
});

describe('onPush', () => {
  it('stores news, and answers an older record with the newer one', () => {
    const a = ids[0] as Identity;
    const b = ids[1] as Identity;
    const mine = new PeerBook();
    mine.offer(record(a, 5), NOW);
    const states = new PeerStates();
    states.markSynced('pusher', mine);
    const out = onPush(mine, states.get('pusher'), [record(a, 3), record(b, 1)], NOW);
    assert.equal(out.accepted, 1);
    assert.deepEqual(out.rejected, { replayed: 1 });
    assert.deepEqual(out.reply.map(seqOf), [5]);
    assert.equal(mine.get(b.id)?.from, 'pusher');
  });

  it('limits the records taken from one partner per round', () => {
    const book = new PeerBook();
    const states = new PeerStates();
    const state = states.get('flooder');
    const batch = ids.slice(0, MAX_RECORDS_PER_MESSAGE).map((id) => record(id));
    let limited = 0;
    for (let i = 0; i < MAX_INBOUND_PER_PEER_ROUND / MAX_RECORDS_PER_MESSAGE + 2; i++) limited += onPush(book, state, batch, NOW).rejected.rate_limited ?? 0;
    assert.equal(limited, 2 * MAX_RECORDS_PER_MESSAGE);
    states.newRound();
    assert.equal(onPush(book, state, batch, NOW).rejected.rate_limited, undefined);
  });

  it('bounds the partner table', () => {
    const states = new PeerStates(3);
    for (const p of ['a', 'b', 'c', 'd']) states.get(p);
    assert.equal(states.size, 3);
  });
});

describe('push-pull over an in-memory network of 20 nodes', () => {
  it('converges from own records only, then spreads a new seq to every node', () => {
    const n = 20;
    const rand = prng(42);
    const nodes = ids.slice(0, n).map((identity, i) => ({
      identity,
      book: PeerBook.fromStore([record(identity)], NOW),
      peers: new PeerStates(),
      // ring plus two chords: connected, degree 4
      partners: [i + 1, i - 1, i + 5, i - 5].map((j) => (ids[(j + n) % n] as Identity).id),
    }));
    const byId = new Map(nodes.map((x) => [x.identity.id, x]));
    const round = (): void => {
      for (const x of nodes) x.peers.newRound();
      const pushes = nodes.flatMap((from) => pickPeers(from.partners, 2, rand).map((to) => ({ from, to, payload: buildPush(from.book, from.peers.get(to)) })));
      for (const { from, to, payload } of pushes) {
        const peer = byId.get(to);
        assert.ok(peer);
        assert.ok(decodeGossipPush(payload).length <= MAX_RECORDS_PER_MESSAGE);
        const { replyPayload } = handlePushPayload(peer.book, peer.peers.get(from.identity.id), payload, NOW);
        handlePullReplyPayload(from.book, from.peers.get(to), replyPayload, NOW);
      }
    };
    let rounds = 0;
    while (nodes.some((x) => x.book.size < n) && rounds < 30) (round(), rounds++);
    assert.ok(rounds < 30, `not converged after ${rounds} rounds`);
    const digest = nodes[0]?.book.digest();
    for (const x of nodes) assert.deepEqual(x.book.digest(), digest);

    const issuer = nodes[7];
    assert.ok(issuer);
    assert.equal(issuer.book.offer(record(issuer.identity, 2), NOW), 'accepted');
    rounds = 0;
    while (nodes.some((x) => x.book.get(issuer.identity.id)?.record.seq !== 2) && rounds < 30) (round(), rounds++);
    assert.ok(rounds <= Math.log2(n) + 3, `took ${rounds} rounds`);
    for (const x of nodes) assert.equal(x.book.counters.get('bad_signature'), 0);
  });
});
