/**
 * Gossip as the node runs it: keeps our own signed record current, runs a push-pull round
 * with a few random connected peers every interval, persists the book, and tells the node
 * which addresses it learned for whom. The decisions live in book.ts and exchange.ts.
 */
import type { NodeId } from '../api.js';
import type { Identity } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../core/clock.js';
import { FrameType, type Endpoint } from '../wire/index.js';
import { PeerBook } from './book.js';
import { buildPush, handlePullReplyPayload, handlePushPayload, pickPeers } from './exchange.js';
import { MAX_TRACKED_PEERS, PeerStates } from './peer-state.js';
import { TokenBucket } from '../core/rate.js';
import { Counters } from '../core/counters.js';
import { signRecord } from './records.js';

/** A push-pull round runs this often. */
export const GOSSIP_INTERVAL_MS = 5_000;
/** Partners per round. */
export const GOSSIP_FANOUT = 3;
/** Our record is valid this long and re-issued at half of it (or when our addresses change). */
export const RECORD_TTL_MS = 60 * 60 * 1000;
/** The book is written to the store at most this often (and at shutdown). */
export const BOOK_SAVE_INTERVAL_MS = 10_000;
/**
 * GOSSIP_PUSH frames one partner may send: sustained per second and burst (a partner
 * pushes once per round, every GOSSIP_INTERVAL_MS, to a few peers). More are ignored and
 * counted: each push costs us a reply.
 */
export const PUSH_RATE = { perSecond: 2 / (GOSSIP_INTERVAL_MS / 1000), burst: 3 } as const;
/** No pull reply is written to a partner whose session already has this much queued (it is not reading). */
export const GOSSIP_MAX_QUEUED_BYTES = 64 * 1024;
/**
 * Signature checks of records pushed by strangers, for the whole node: sustained per second
 * and burst (about 50 ms of CPU at most in one go). Beyond it records are refused before
 * the check (`verify_limited`) and come again in a later round; contacts' pushes are not
 * limited. A flood of strangers' records cannot block the node.
 */
export const STRANGER_VERIFY_RATE = { perSecond: 200, burst: 400 } as const;
const STORE_KEY = 'gossip-book';

export interface GossipChannel {
  readonly peerId: NodeId;
  /** Bytes queued on the session, not yet written. */
  readonly writableLength: number;
  send(type: number, payload: Uint8Array): boolean;
}

export interface GossipServiceOptions {
  identity: Identity;
  store: Store;
  clock: Clock;
  log: Logger;
  /** Our current addresses: as observed by the signaler (public) and our interfaces (local). */
  addresses(): { public: Endpoint[]; local: Endpoint[] };
  /** Flags of our record (RECORD_FLAG_*, e.g. that we are a peer relay); default none. */
  flags?: () => number;
  /** The signaler we are registered with (named in our record), or null; default none. */
  signaler?: () => Endpoint | null;
  connected(): GossipChannel[];
  /** Addresses learned for a peer from a newly accepted record. */
  onLearned(id: NodeId, endpoints: Endpoint[]): void;
  /** Records never evicted from a full book (contacts). */
  keep?: (id: NodeId) => boolean;
  /** Is this partner a contact (its records are checked without the stranger budget)? */
  trusted?: (peer: NodeId) => boolean;
  random?: () => number;
  intervalMs?: number;
}

export class GossipService {
  private book: PeerBook;
  private readonly states = new PeerStates();
  private readonly pushBuckets = new Map<NodeId, TokenBucket>();
  private readonly verifyBudget: TokenBucket;
  private readonly refused = new Counters();
  private timer: unknown;
  private ownKey = '';
  private ownIssuedAt = 0;
  private savedVersion = -1;
  private lastSave = 0;
  private seenVersion: number;

  constructor(private readonly opts: GossipServiceOptions) {
    const stored = opts.store.getMeta<Uint8Array[]>(STORE_KEY) ?? [];
    this.verifyBudget = new TokenBucket(STRANGER_VERIFY_RATE.perSecond, STRANGER_VERIFY_RATE.burst, opts.clock.now());
    const keep = (id: NodeId): boolean => id === opts.identity.id || (opts.keep?.(id) ?? false);
    this.book = PeerBook.fromStore(stored.map((b) => Buffer.from(b)), opts.clock.now(), { keep });
    this.seenVersion = this.book.version;
  }

  /** Counters of the book (accepted and every rejection reason). */
  counters(): Record<string, number> {
    const all = { ...this.book.counters.toJSON(), ...this.refused.toJSON() };
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [`gossip.${k}`, v]));
  }

  /** Peers the book holds a current record for, with their announced endpoints (candidates to dial). */
  known(): Array<{ id: NodeId; issuedAt: number; endpoints: Endpoint[] }> {
    return this.book
      .all()
      .filter((e) => e.id !== this.opts.identity.id)
      .map((e) => ({ id: e.id, issuedAt: e.record.issuedAt, endpoints: [...e.record.public, ...e.record.local] }));
  }

  get size(): number {
    return this.book.size;
  }

  /** The signaler a peer's current record names (RECORD_FLAG_SIGNALER), if the book holds one that does. */
  signalerOf(id: NodeId): Endpoint | null {
    return this.book.get(id)?.record.signaler ?? null;
  }

  start(): void {
    this.refreshOwn();
    this.timer = this.opts.clock.setInterval(() => this.round(), this.opts.intervalMs ?? GOSSIP_INTERVAL_MS);
  }

  /** Re-sign our record when our addresses changed or it is half-way to expiry. */
  refreshOwn(): void {
    const now = this.opts.clock.now();
    const addrs = this.opts.addresses();
    const flags = this.opts.flags?.() ?? 0;
    const signaler = this.opts.signaler?.() ?? null;
    const key = JSON.stringify({ addrs, flags, signaler });
    if (key === this.ownKey && now - this.ownIssuedAt < RECORD_TTL_MS / 2) return;
    // issuedAt doubles as the sequence number: it only grows, across restarts too.
    const issuedAt = Math.max(now, this.ownIssuedAt + 1);
    const bytes = signRecord(this.opts.identity, { seq: issuedAt, issuedAt, expiresAt: issuedAt + RECORD_TTL_MS, public: addrs.public.slice(0, 8), local: addrs.local.slice(0, 8), ...(flags ? { flags } : {}), ...(signaler ? { signaler } : {}) });
    const result = this.book.offer(bytes, now);
    if (result !== 'accepted') this.opts.log.warn(`own peer record refused: ${result}`);
    this.ownKey = key;
    this.ownIssuedAt = issuedAt;
    this.seenVersion = this.book.version;
  }

  private round(): void {
    const now = this.opts.clock.now();
    this.refreshOwn();
    this.book.prune(now);
    this.states.newRound();
    for (const ch of pickPeers(this.opts.connected(), GOSSIP_FANOUT, this.opts.random ?? Math.random)) {
      const payload = buildPush(this.book, this.states.get(ch.peerId));
      ch.send(FrameType.GOSSIP_PUSH, payload);
    }
    void this.maybeSave(now);
  }

  onPush(ch: GossipChannel, payload: Buffer): void {
    const now = this.opts.clock.now();
    if (!this.pushBucket(ch.peerId, now).take(now)) {
      this.refused.inc('push_rate_limited');
      return;
    }
    const r = handlePushPayload(this.book, this.states.get(ch.peerId), payload, now, this.canVerify(ch.peerId, now));
    if (ch.writableLength > GOSSIP_MAX_QUEUED_BYTES) this.refused.inc('reply_skipped_congested');
    else ch.send(FrameType.GOSSIP_PULL_REPLY, r.replyPayload);
    if (r.accepted > 0) this.learned();
  }

  /** The signature-check budget for a partner's records: none for contacts, the shared one for strangers. */
  private canVerify(peer: NodeId, now: number): (() => boolean) | undefined {
    if (this.opts.trusted?.(peer)) return undefined;
    return () => this.verifyBudget.take(now);
  }

  private pushBucket(peer: NodeId, now: number): TokenBucket {
    let b = this.pushBuckets.get(peer);
    if (!b) {
      b = new TokenBucket(PUSH_RATE.perSecond, PUSH_RATE.burst, now);
      // One per connected partner; forgotten on disconnect. The cap is a safety net.
      if (this.pushBuckets.size >= MAX_TRACKED_PEERS) this.pushBuckets.delete(this.pushBuckets.keys().next().value as NodeId);
      this.pushBuckets.set(peer, b);
    }
    return b;
  }

  onPullReply(ch: GossipChannel, payload: Buffer): void {
    const now = this.opts.clock.now();
    const r = handlePullReplyPayload(this.book, this.states.get(ch.peerId), payload, now, this.canVerify(ch.peerId, now));
    if (r.accepted > 0) this.learned();
  }

  onSessionDown(peer: NodeId): void {
    this.states.remove(peer);
    this.pushBuckets.delete(peer);
  }

  /** Report the addresses of records accepted since the last look. */
  private learned(): void {
    for (const e of this.book.inChangeOrder()) {
      if (e.change <= this.seenVersion || e.id === this.opts.identity.id) continue;
      this.opts.onLearned(e.id, [...e.record.public, ...e.record.local]);
    }
    this.seenVersion = this.book.version;
  }

  private async maybeSave(now: number, force = false): Promise<void> {
    if (this.book.version === this.savedVersion) return;
    if (!force && now - this.lastSave < BOOK_SAVE_INTERVAL_MS) return;
    this.savedVersion = this.book.version;
    this.lastSave = now;
    try {
      await this.opts.store.putMeta(STORE_KEY, this.book.toStore());
    } catch (err) {
      this.opts.log.warn(`cannot save the gossip book: ${String(err)}`);
    }
  }

  async close(): Promise<void> {
    this.opts.clock.clearInterval(this.timer);
    await this.maybeSave(this.opts.clock.now(), true);
  }
}
