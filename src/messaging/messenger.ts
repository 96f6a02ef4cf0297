/**
 * Durable signed messaging over sessions.
 *
 * Sender: sign -> store in history + outbox (durable) -> tell the user -> the outbox sender
 * writes it when a session is up (a window at a time, resent until acknowledged). When the
 * peer is connected and nothing older is waiting, the CHAT is written while the save runs
 * (outbox.ts, early send): `send` still returns only once the message is on disk, but the
 * local fsync and the round trip overlap. On ACK
 * (the receiver has it on disk): answer `delivered` at once (send's wait, the event), and
 * mark it delivered in the background: all the ids of one ACK frame leave the outbox in
 * one store write (`markDelivered`; no message row is rewritten). Until that mark is on disk the message is never
 * resent in this run; after a crash before it, the message is resent and the receiver,
 * which dedupes by id, acknowledges it again. On a final refusal: the same with
 * `refused`. On a temporary refusal: keep it, retry later with backoff.
 * Receiver: see intake.ts (trust, quotas, verify, store, then ACK or refuse).
 * Messages from strangers are held (counted against quotas) until the sender becomes a
 * contact (accept), is blocked (requests deleted) or the hold expires.
 */
import { randomBytes } from 'node:crypto';
import type { NodeEvent, NodeId, RequestSummary, SendResult, StrangerPolicy } from '../api.js';
import { SentinelError } from '../errors.js';
import { publicKeyFromNodeId, type Identity } from '../identity/index.js';
import { PRUNE_INTERVAL_MS } from '../peers/limits.js';
import type { Store, Trust } from '../store/types.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { FrameType, HELLO_FLAG_CHAT_BATCH, MAX_TEXT_BYTES, RefuseCode, chatSigningInput, decodeAck, encodeChat, encodeChatBatched, decodeChatRefused, isFinalRefusal, type ChatMessage, type UnsignedChat } from '../wire/index.js';
import { BatchSigner } from './batch-signer.js';
import { encodeChatBatchedFrom } from '../wire/chat.js';
import { fromWire } from './convert.js';
import { Intake } from './intake.js';
import { OUTBOX_TICK_MS, VERIFY_MAX_PENDING, VERIFY_WORKERS } from './limits.js';
import { OutboxSender, type ChatEncoder, type MessageChannel, type OutboxLimits } from './outbox.js';
import { HeldQuota, type HeldLimits } from './quota.js';
import { InlineVerifier, VerifyPool, type SignatureVerifier } from './verify-pool.js';

export type { MessageChannel } from './outbox.js';

export interface MessengerDeps {
  identity: Identity;
  store: Store;
  clock: Clock;
  counters: Counters;
  channelFor(peer: NodeId): MessageChannel | undefined;
  emit(e: NodeEvent): void;
  /** What the user decided about a peer (default: everyone is a contact). */
  trust?(peer: NodeId): Trust;
  /** What to do with messages from strangers (default `requests`). */
  policy?(): StrangerPolicy;
  limits?: { outbox?: Partial<OutboxLimits>; held?: Partial<HeldLimits> };
  /**
   * Worker threads for CHAT signature checks (default 0: on the event loop, as tests want;
   * a node passes VERIFY_WORKERS). The pool is stopped by {@link Messenger.stop}.
   */
  verifyWorkers?: number;
  /**
   * Write a new message to a connected, caught-up peer while it is being saved (default
   * true): `send` still returns only once it is on disk, but the save and the round trip
   * overlap. False: write it only after the save (the older behaviour).
   */
  earlySend?: boolean;
  /**
   * Sign the messages of one turn to a peer that accepts CHAT_BATCHED (HELLO flag 0x04)
   * with one signature over their Merkle root (default true). False: one signature per
   * message and plain CHAT frames (the older behaviour); received CHAT_BATCHED are still
   * accepted either way. Default: true unless the environment has SENTINEL_CHAT_BATCH=off
   * (the benchmark's per-message row).
   */
  batchSignatures?: boolean;
}

/** True when the channel's peer announced CHAT_BATCHED (HELLO flag 0x04). */
export const acceptsBatch = (channel: MessageChannel | undefined): boolean => ((channel?.peerHello?.flags ?? 0) & HELLO_FLAG_CHAT_BATCH) !== 0;

export { VERIFY_WORKERS };

/** Random message ids, drawn 256 at a time (one call into the CSPRNG per 256 sends). */
const ID_POOL_IDS = 256;
let idPool = Buffer.alloc(0);
let idPoolAt = 0;
function newMessageId(): Buffer {
  if (idPoolAt + 16 > idPool.length) {
    // A fresh pool each time: ids handed out earlier (views into the old one) never change.
    idPool = randomBytes(16 * ID_POOL_IDS);
    idPoolAt = 0;
  }
  idPoolAt += 16;
  return idPool.subarray(idPoolAt - 16, idPoolAt);
}

const REFUSE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RefuseCode).map(([k, v]) => [v, k.toLowerCase()]));

export class Messenger {
  readonly quota: HeldQuota;
  private readonly outbox: OutboxSender;
  private readonly intake: Intake;
  private readonly waiters = new Map<string, (status: 'delivered' | 'refused') => void>();
  /** Answered (ACK or final refusal) and not yet marked in the store. */
  private readonly settling = new Set<string>();
  /** Sent early and not saved yet: the peer may answer before the store has them. */
  private readonly unsaved = new Map<string, { peer: NodeId; saved: Promise<unknown> }>();
  private readonly verifier: SignatureVerifier;
  private readonly signer: BatchSigner;
  private readonly batching: boolean;
  private timers: unknown[] = [];

  constructor(private readonly deps: MessengerDeps) {
    this.quota = new HeldQuota(deps.store.heldMessages(), deps.limits?.held);
    this.batching = deps.batchSignatures ?? process.env.SENTINEL_CHAT_BATCH !== 'off';
    this.signer = new BatchSigner((data) => deps.identity.sign(data), deps.counters);
    this.outbox = new OutboxSender(deps.store, deps.clock, deps.limits?.outbox, this.encoder);
    const workers = deps.verifyWorkers ?? 0;
    this.verifier = workers > 0 ? new VerifyPool({ workers, maxPending: VERIFY_MAX_PENDING, counters: deps.counters }) : new InlineVerifier();
    this.intake = new Intake({
      verifier: this.verifier,
      identity: deps.identity,
      store: deps.store,
      clock: deps.clock,
      counters: deps.counters,
      quota: this.quota,
      trust: (p) => deps.trust?.(p) ?? 'contact',
      policy: () => deps.policy?.() ?? 'requests',
      emit: deps.emit,
    });
  }

  /** Starts the resend/expiry timers. */
  start(): void {
    this.timers.push(this.deps.clock.setInterval(() => this.outbox.tick(), OUTBOX_TICK_MS));
    this.timers.push(this.deps.clock.setInterval(() => void this.expire().catch(() => {}), PRUNE_INTERVAL_MS));
    void this.expire().catch(() => {});
  }

  /** Stops the timers and the verification workers (messages in verification are still checked). */
  stop(): void {
    for (const t of this.timers) this.deps.clock.clearInterval(t);
    this.timers = [];
    void this.verifier.close();
  }

  /**
   * Store durably and send (now, or later from the outbox). When the peer is connected
   * and `waitMs` > 0, wait up to that long for its answer so the result can say
   * `delivered` (or `refused`).
   */
  async send(to: NodeId, text: string, waitMs = 0): Promise<SendResult> {
    const { identity, store, clock } = this.deps;
    if (to === identity.id) throw new SentinelError('E_SELF_DIAL', 'cannot message ourselves');
    if (text.length === 0) throw new SentinelError('E_BAD_REQUEST', 'empty message');
    if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) throw new SentinelError('E_TEXT_TOO_LONG', `at most ${MAX_TEXT_BYTES} bytes`);
    const unsigned: UnsignedChat = { id: newMessageId(), from: identity.publicKey, to: publicKeyFromNodeId(to), timestamp: clock.now(), text };
    const batched = this.batching && acceptsBatch(this.deps.channelFor(to));
    const signing = this.signer.signed(unsigned, batched);
    const wire: ChatMessage = signing instanceof Promise ? await signing : signing;
    const msg = fromWire(wire, 'pending', { from: identity.id, to }, this.signer.parts(wire)?.proofBlock);
    const saved = store.addMessage(to, msg, { outbox: true });
    // Not while the disk is full: a send refused for that must not have reached the peer.
    const early = this.deps.earlySend !== false && !store.health().full ? this.outbox.sendEarly(to, msg.id, wire) : undefined;
    if (early?.sent) this.unsaved.set(msg.id, { peer: to, saved });
    const connected = this.deps.channelFor(to) !== undefined;
    const answer = connected && waitMs > 0 ? this.waitAnswer(msg.id, waitMs) : undefined;
    try {
      await saved;
    } finally {
      this.unsaved.delete(msg.id);
      early?.saved();
    }
    this.outbox.queued(to, early?.sent ? msg.id : undefined);
    this.deps.counters.inc('chat_sent');
    const status = answer ? await answer : undefined;
    return { id: msg.id, to, status: status ?? 'pending' };
  }

  /** A session with the peer became active: deliver its outbox. */
  onSessionUp(channel: MessageChannel): void {
    this.outbox.sessionUp(channel);
  }

  onSessionDown(peer: NodeId): void {
    this.outbox.sessionDown(peer);
  }

  /** Messages in flight (sent, not yet answered) to `peer`. */
  inFlight(peer: NodeId): number {
    return this.outbox.inFlight(peer);
  }

  /** A CHAT (0x10) or CHAT_BATCHED (0x12) frame. */
  onChat(channel: MessageChannel, payload: Buffer, type: number = FrameType.CHAT): void {
    this.intake.onChat(channel, payload, type === FrameType.CHAT_BATCHED);
  }

  /** An ACK frame: mark each of our pending messages to this peer delivered. */
  onAck(channel: MessageChannel, payload: Buffer): void {
    const ids = decodeAck(payload).ids.map((raw) => Buffer.from(raw).toString('hex')).filter((id) => this.ours(channel, id));
    this.finish(channel.peerId, ids, 'delivered');
  }

  /** A CHAT_REFUSED frame: give up on final refusals, retry the others later. */
  onRefused(channel: MessageChannel, payload: Buffer): void {
    const m = decodeChatRefused(payload);
    const name = REFUSE_NAMES[m.code] ?? `code_${m.code}`;
    this.deps.counters.inc(`chat_refused_by_peer.${name}`, m.ids.length);
    const ids = m.ids.map((raw) => Buffer.from(raw).toString('hex')).filter((id) => this.ours(channel, id));
    if (isFinalRefusal(m.code)) this.finish(channel.peerId, ids, 'refused');
    else this.outbox.deferred(channel.peerId, ids);
  }

  /** Message requests waiting, one summary per stranger, oldest first. */
  requests(): RequestSummary[] {
    const by = new Map<NodeId, RequestSummary>();
    for (const h of this.quota.list()) {
      if (!h.request) continue;
      const s = by.get(h.peer) ?? { peer: h.peer, count: 0, bytes: 0, first: h.at, last: h.at, preview: '' };
      s.count++;
      s.bytes += h.bytes;
      s.last = Math.max(s.last, h.at);
      if (!s.preview) s.preview = this.deps.store.getMessage(h.id)?.text.slice(0, 80) ?? '';
      by.set(h.peer, s);
    }
    return [...by.values()];
  }

  /** The sender became a contact: its requests become ordinary messages and stop counting. */
  async acceptFrom(peer: NodeId): Promise<number> {
    return this.endHold(peer, 'accept');
  }

  /** The sender was blocked: its requests are deleted. */
  async dropFrom(peer: NodeId): Promise<number> {
    return this.endHold(peer, 'delete');
  }

  /** Ends holds that expired: unanswered requests are deleted, accepted-policy holds released. */
  async expire(): Promise<void> {
    const { remove, release } = this.quota.expired(this.deps.clock.now());
    if (remove.length > 0) {
      await this.deps.store.releaseHeld(remove, 'delete');
      this.quota.forget(remove);
      this.deps.counters.inc('requests_expired', remove.length);
    }
    if (release.length > 0) {
      await this.deps.store.releaseHeld(release, 'release');
      this.quota.forget(release);
    }
  }

  private async endHold(peer: NodeId, action: 'accept' | 'delete'): Promise<number> {
    const held = this.quota.list(peer);
    const requests = held.filter((h) => h.request).map((h) => h.id);
    const others = held.filter((h) => !h.request).map((h) => h.id);
    const n = await this.deps.store.releaseHeld(requests, action);
    await this.deps.store.releaseHeld(others, 'release');
    this.quota.forget([...requests, ...others]);
    return n;
  }

  /** True when `id` is our pending message to the channel's peer. */
  private ours(channel: MessageChannel, id: string): boolean {
    if (this.settling.has(id)) return false; // answered twice before the first mark landed: harmless
    const unsaved = this.unsaved.get(id);
    if (unsaved) return unsaved.peer === channel.peerId;
    // Written on this session and unanswered: ours, pending (no store read needed).
    if (this.outbox.isInFlight(channel.peerId, id)) return true;
    const msg = this.deps.store.getMessage(id);
    if (!msg || msg.to !== channel.peerId || msg.from !== this.deps.identity.id) {
      this.deps.counters.inc('acks_unknown');
      return false;
    }
    return msg.status === 'pending'; // answered twice (a resend crossed the first answer): harmless
  }

  /**
   * The peer answered these messages for good: tell the waiting `send` calls and the user
   * now (the receiver's answer is what they wait for), then mark them in the store, all in
   * one batch of writes issued in this turn (one transaction, one fsync).
   */
  private finish(peer: NodeId, ids: readonly string[], status: 'delivered' | 'refused'): void {
    if (ids.length === 0) return;
    for (const id of ids) this.settling.add(id);
    this.outbox.answered(peer, ids);
    this.deps.counters.inc(status === 'delivered' ? 'chat_delivered' : 'chat_refused_final', ids.length);
    for (const id of ids) {
      this.waiters.get(id)?.(status);
      this.deps.emit(status === 'delivered' ? { type: 'delivered', id, to: peer } : { type: 'refused', id, to: peer });
    }
    // Answered before our own save finished (early send): marked once those saves are done.
    const saves = new Set<Promise<unknown>>();
    for (const id of ids) {
      const unsaved = this.unsaved.get(id);
      if (unsaved) saves.add(unsaved.saved);
    }
    const { store } = this.deps;
    const mark = (): Promise<unknown> => (status === 'delivered' ? store.markDelivered(ids) : Promise.all(ids.map((id) => store.setStatus(id, status))));
    const marked = saves.size === 0 ? mark() : Promise.allSettled(saves).then(mark);
    marked.then(
      () => {
        for (const id of ids) {
          this.settling.delete(id);
          this.outbox.settled(peer, id);
        }
      },
      () => {
        // Still in the outbox on disk: resent on the next session and acknowledged again.
        for (const id of ids) this.settling.delete(id);
        this.deps.counters.inc('ack_store_failed', ids.length);
      },
    );
  }

  /**
   * CHAT_BATCHED to a peer that accepts it; else a plain CHAT, signed again on its own when
   * it was batch-signed (a peer that stopped announcing the flag, e.g. downgraded).
   */
  private readonly encoder: ChatEncoder = (wire, channel) => {
    if (!wire.proof) return { type: FrameType.CHAT, payload: encodeChat(wire) };
    if (acceptsBatch(channel)) {
      // Signed in this run: built from the bytes the signer already encoded.
      const parts = this.signer.parts(wire);
      return { type: FrameType.CHAT_BATCHED, payload: parts ? encodeChatBatchedFrom(parts.input, parts.proofBlock, wire.signature) : encodeChatBatched(wire) };
    }
    this.deps.counters.inc('chat_resigned');
    const { proof: _proof, signature: _sig, ...unsigned } = wire;
    return { type: FrameType.CHAT, payload: encodeChat({ ...unsigned, signature: this.deps.identity.sign(chatSigningInput(unsigned)) }) };
  };

  private waitAnswer(id: string, ms: number): Promise<'delivered' | 'refused' | undefined> {
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimeout(() => {
        this.waiters.delete(id);
        resolve(undefined);
      }, ms);
      this.waiters.set(id, (status) => {
        this.deps.clock.clearTimeout(timer);
        this.waiters.delete(id);
        resolve(status);
      });
    });
  }
}
