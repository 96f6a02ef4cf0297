/**
 * One push-pull exchange, as pure functions over a {@link PeerBook} and a partner's
 * {@link PeerSyncState}; randomness and time are injected.
 *
 *   each round, every node:  pick `fanout` connected partners at random
 *   A -> B  GOSSIP_PUSH        news for B (changed since A's last push to B, newest first),
 *                              then backlog (oldest first); at most 32 records
 *   B                          offers each record to its book
 *   B -> A  GOSSIP_PULL_REPLY  records where B holds a newer seq than A sent, then B's
 *                              news for A; at most 32 records
 *
 * Records never go back to the partner they came from. Inbound records per partner per
 * round are capped (MAX_INBOUND_PER_PEER_ROUND); the book itself is capped.
 */
import { MAX_RECORDS_PER_MESSAGE, decodeGossipPullReply, decodeGossipPush, encodeGossipPullReply, encodeGossipPush } from '../wire/index.js';
import type { BookEntry, OfferRejection, PeerBook } from './book.js';
import { MAX_INBOUND_PER_PEER_ROUND, type PeerSyncState } from './peer-state.js';
import { recordKey } from './records.js';

/** Why an inbound record was not stored: a book rejection, or over the partner's budget. */
export type InboundRejection = OfferRejection | 'rate_limited';

/** What happened to the records of one inbound message. */
export interface ReceiveResult {
  accepted: number;
  rejected: Partial<Record<InboundRejection, number>>;
}

/** {@link onPush} result: the counts and the records to answer with. */
export interface PushOutcome extends ReceiveResult {
  reply: Uint8Array[];
}

/** Up to `fanout` distinct partners chosen uniformly (partial Fisher-Yates); `random()` in [0, 1). */
export function pickPeers<T>(connected: readonly T[], fanout: number, random: () => number): T[] {
  const pool = [...connected];
  const n = Math.min(Math.max(0, Math.floor(fanout)), pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, n);
}

/**
 * The records to send `state.peer` now, at most `max`: news newest first, then backlog
 * oldest first. Advances the partner's state as if they were sent.
 */
export function recordsToPush(book: PeerBook, state: PeerSyncState, max = MAX_RECORDS_PER_MESSAGE): Uint8Array[] {
  const limit = Math.max(0, Math.min(max, MAX_RECORDS_PER_MESSAGE));
  const news: BookEntry[] = [];
  const backlog: BookEntry[] = [];
  let backlogCut = false;
  for (const e of book.inChangeOrder()) {
    if (e.change <= state.sweep || e.from === state.peer) continue;
    if (e.change > state.hot) news.push(e);
    else if (e.change >= state.gapEnd) continue;
    else if (backlog.length < limit) backlog.push(e);
    else backlogCut = true;
  }
  const sentNews = news.slice(Math.max(0, news.length - limit)).reverse();
  const sentBacklog = backlog.slice(0, limit - sentNews.length);
  advance(state, book.version, {
    allNews: sentNews.length === news.length,
    allBacklog: !backlogCut && sentBacklog.length === backlog.length,
    lastBacklog: sentBacklog[sentBacklog.length - 1]?.change,
    lowestNews: sentNews[sentNews.length - 1]?.change,
  });
  return [...sentNews, ...sentBacklog].map((e) => e.bytes);
}

/**
 * Moves the partner's window after a push. Unsent records are always inside
 * (sweep, gapEnd) or above hot; when news overflowed while a backlog remained, the
 * already-sent span between the two is swept again (a bounded duplicate, never a loss).
 */
function advance(state: PeerSyncState, head: number, sent: { allNews: boolean; allBacklog: boolean; lastBacklog?: number; lowestNews?: number }): void {
  const sweep = sent.allBacklog ? state.gapEnd - 1 : (sent.lastBacklog ?? state.sweep);
  if (sent.allNews) {
    if (sent.allBacklog) [state.sweep, state.gapEnd] = [head, head + 1];
    else state.sweep = sweep;
  } else {
    state.sweep = sent.allBacklog ? state.hot : sweep;
    state.gapEnd = sent.lowestNews ?? state.hot + 1;
  }
  state.hot = head;
}

function offerAll(book: PeerBook, state: PeerSyncState, records: readonly Uint8Array[], now: number, canVerify: (() => boolean) | undefined, stale?: Uint8Array[]): ReceiveResult {
  const result: ReceiveResult = { accepted: 0, rejected: {} };
  const reject = (r: InboundRejection): void => {
    result.rejected[r] = (result.rejected[r] ?? 0) + 1;
  };
  for (const bytes of records.slice(0, MAX_RECORDS_PER_MESSAGE)) {
    if (state.inbound >= MAX_INBOUND_PER_PEER_ROUND) {
      reject('rate_limited');
      continue;
    }
    state.inbound++;
    const r = book.offer(bytes, now, state.peer, canVerify);
    if (r === 'accepted') result.accepted++;
    else reject(r);
    if (r === 'replayed' && stale) {
      const key = recordKey(bytes);
      const held = key && book.get(key.id);
      if (held && key && held.record.seq > key.seq && held.from !== state.peer) stale.push(held.bytes);
    }
  }
  return result;
}

/**
 * Handles the records of a partner's push: offers each to the book, and returns the reply
 * records (ours where the partner sent an older seq, then our news for it; at most 32).
 */
export function onPush(book: PeerBook, state: PeerSyncState, records: readonly Uint8Array[], now: number, canVerify?: () => boolean): PushOutcome {
  const stale: Uint8Array[] = [];
  const result = offerAll(book, state, records, now, canVerify, stale);
  const reply = stale.slice(0, MAX_RECORDS_PER_MESSAGE);
  if (reply.length < MAX_RECORDS_PER_MESSAGE) {
    const seen = new Set(reply);
    for (const b of recordsToPush(book, state, MAX_RECORDS_PER_MESSAGE - reply.length)) if (!seen.has(b)) reply.push(b);
  }
  return { ...result, reply };
}

/** Handles the records of a partner's pull reply. */
export function onPullReply(book: PeerBook, state: PeerSyncState, records: readonly Uint8Array[], now: number, canVerify?: () => boolean): ReceiveResult {
  return offerAll(book, state, records, now, canVerify);
}

/** A GOSSIP_PUSH payload for `state.peer` (possibly empty: a pure pull). */
export function buildPush(book: PeerBook, state: PeerSyncState): Buffer {
  return encodeGossipPush(recordsToPush(book, state));
}

/**
 * Handles a GOSSIP_PUSH payload and returns the counts and the GOSSIP_PULL_REPLY payload.
 * Throws E_PAYLOAD_MALFORMED when the message itself is malformed (a protocol violation).
 */
export function handlePushPayload(book: PeerBook, state: PeerSyncState, payload: Uint8Array, now: number, canVerify?: () => boolean): ReceiveResult & { replyPayload: Buffer } {
  const { reply, ...counts } = onPush(book, state, decodeGossipPush(payload), now, canVerify);
  return { ...counts, replyPayload: encodeGossipPullReply(reply) };
}

/** Handles a GOSSIP_PULL_REPLY payload. Throws E_PAYLOAD_MALFORMED when malformed. */
export function handlePullReplyPayload(book: PeerBook, state: PeerSyncState, payload: Uint8Array, now: number, canVerify?: () => boolean): ReceiveResult {
  return onPullReply(book, state, decodeGossipPullReply(payload), now, canVerify);
}
