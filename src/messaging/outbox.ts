/**
 * The sender's side of delivery: per connected peer, a window of messages in flight taken
 * from the outbox in order, written only while the session's queue is short (and resumed on
 * drain), resent when not acknowledged in time, paused with backoff after a temporary
 * refusal. The store's outbox stays the truth; this only decides what to write when.
 *
 * Early send: a new message may be written before the store has it (its outbox write and
 * the network round trip then overlap) only when nothing older to that peer is waiting:
 * the flow is caught up (its last pump found nothing unsent) and no message to that peer
 * that was not sent early is still being saved. So the peer sees messages in outbox order.
 */
import type { NodeId } from '../api.js';
import type { Store, StoredMessage } from '../store/types.js';
import type { Clock } from '../core/clock.js';
import { FrameType, encodeChat, type ChatMessage } from '../wire/index.js';
import { toWire } from './convert.js';
import { ACK_TIMEOUT_MS, OUTBOX_BATCH, OUTBOX_MAX_QUEUED_BYTES, OUTBOX_WINDOW, REFUSAL_RETRY_CAP_MS, REFUSAL_RETRY_MS } from './limits.js';

/** What delivery needs from a session. */
export interface MessageChannel {
  readonly peerId: NodeId;
  /** Bytes queued on the session and not yet written. */
  readonly writableLength: number;
  send(type: number, payload: Uint8Array): boolean;
  /** Calls `cb` once, the next time the queue drains. */
  onDrain(cb: () => void): void;
  /** The peer's HELLO (a Session has it): flag 0x04 means it accepts CHAT_BATCHED. */
  readonly peerHello?: { flags?: number } | null;
}

/** How a message goes on a channel: frame type and payload. */
export type ChatEncoder = (wire: ChatMessage, channel: MessageChannel) => { type: number; payload: Uint8Array };

const plainEncoder: ChatEncoder = (wire) => ({ type: FrameType.CHAT, payload: encodeChat(wire) });

/** Limits of an {@link OutboxSender}; defaults from limits.ts. */
export interface OutboxLimits {
  window: number;
  batch: number;
  maxQueuedBytes: number;
  ackTimeoutMs: number;
  retryMs: number;
  retryCapMs: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  window: OUTBOX_WINDOW,
  batch: OUTBOX_BATCH,
  maxQueuedBytes: OUTBOX_MAX_QUEUED_BYTES,
  ackTimeoutMs: ACK_TIMEOUT_MS,
  retryMs: REFUSAL_RETRY_MS,
  retryCapMs: REFUSAL_RETRY_CAP_MS,
};

interface Flow {
  channel: MessageChannel;
  /** id -> when it was (last) written; acknowledged ids stay until the store dropped them. */
  inFlight: Map<string, number>;
  /**
   * The last message written in outbox order: the next ones are read after it, so each
   * step reads only new entries. Cleared (back to the head) when something must be resent.
   */
  cursor: string | undefined;
  /** Answered (acknowledged or refused for good) but maybe still in the store's outbox: never resent. */
  answered: Set<string>;
  pausedUntil: number;
  retryMs: number;
  waitingForDrain: boolean;
  /** The last pump found nothing left to send (so a new message may go out at once). */
  caughtUp: boolean;
}

/** What {@link OutboxSender.sendEarly} did; call `saved()` once the store has the message (or failed to). */
export interface EarlyTicket {
  sent: boolean;
  saved(): void;
}

export class OutboxSender {
  private readonly flows = new Map<NodeId, Flow>();
  private readonly limits: OutboxLimits;
  /** Per peer: messages not sent early and not saved yet (a newer one must not overtake them). */
  private readonly late = new Map<NodeId, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    limits: Partial<OutboxLimits> = {},
    private readonly encode: ChatEncoder = plainEncoder,
  ) {
    this.limits = { ...DEFAULT_OUTBOX_LIMITS, ...limits };
  }

  /** A session with the peer became active: start over from the head of its outbox. */
  sessionUp(channel: MessageChannel): void {
    this.flows.set(channel.peerId, { channel, inFlight: new Map(), cursor: undefined, answered: new Set(), pausedUntil: 0, retryMs: this.limits.retryMs, waitingForDrain: false, caughtUp: false });
    this.pump(channel.peerId);
  }

  /** The session ended: nothing is in flight any more (the outbox keeps everything). */
  sessionDown(peer: NodeId): void {
    this.flows.delete(peer);
  }

  /**
   * A new message `id` (signed `wire`) is being saved: write it now if the peer's
   * flow is caught up and has room (see the file header). Either way the caller calls
   * `saved()` once the store write settled, then {@link queued}.
   */
  sendEarly(peer: NodeId, id: string, wire: ChatMessage): EarlyTicket {
    const f = this.flows.get(peer);
    const now = this.clock.now();
    const ready =
      f !== undefined &&
      f.caughtUp &&
      (this.late.get(peer) ?? 0) === 0 &&
      now >= f.pausedUntil &&
      f.inFlight.size < this.limits.window &&
      f.channel.writableLength <= this.limits.maxQueuedBytes;
    if (ready && this.#write(f.channel, wire)) {
      f.inFlight.set(id, now);
      return { sent: true, saved: () => {} };
    }
    this.late.set(peer, (this.late.get(peer) ?? 0) + 1);
    let done = false;
    return {
      sent: false,
      saved: () => {
        if (done) return;
        done = true;
        const n = (this.late.get(peer) ?? 1) - 1;
        if (n > 0) this.late.set(peer, n);
        else this.late.delete(peer);
      },
    };
  }

  /**
   * A message was added to the peer's outbox. When it is `earlyId`, written early on a flow
   * still caught up, nothing else is waiting: the cursor moves past it without a read (also
   * when its ACK came before its own save finished).
   */
  queued(peer: NodeId, earlyId?: string): void {
    const f = this.flows.get(peer);
    if (f && earlyId !== undefined && f.caughtUp && (f.inFlight.has(earlyId) || f.answered.has(earlyId))) {
      f.cursor = earlyId;
      return;
    }
    this.pump(peer);
  }

  /** Messages in flight to `peer` now. */
  inFlight(peer: NodeId): number {
    return this.flows.get(peer)?.inFlight.size ?? 0;
  }

  /**
   * The peer acknowledged these messages (or refused them for good): they leave the window
   * at once (the store drops them from the outbox a moment later; until {@link settled}
   * they are not resent), and the window is refilled once. A flow that is caught up has
   * nothing unsent (every newer message was sent early, or calls {@link queued} once it is
   * saved), so it is not pumped: no outbox read per ACK.
   */
  answered(peer: NodeId, ids: readonly string[]): void {
    const f = this.flows.get(peer);
    if (!f) return;
    for (const id of ids) {
      f.inFlight.delete(id);
      f.answered.add(id);
    }
    f.retryMs = this.limits.retryMs;
    if (!f.caughtUp) this.pump(peer);
  }

  /** True when `id` was written to `peer` on its current session and is not answered yet. */
  isInFlight(peer: NodeId, id: string): boolean {
    return this.flows.get(peer)?.inFlight.has(id) ?? false;
  }

  /** The store no longer has `id` in the outbox. */
  settled(peer: NodeId, id: string): void {
    this.flows.get(peer)?.answered.delete(id);
  }

  /** The peer refused these messages for now: pause the peer with backoff; they are resent then. */
  deferred(peer: NodeId, ids: readonly string[]): void {
    const f = this.flows.get(peer);
    if (!f) return;
    for (const id of ids) f.inFlight.delete(id);
    f.cursor = undefined;
    f.caughtUp = false;
    f.pausedUntil = this.clock.now() + f.retryMs;
    f.retryMs = Math.min(this.limits.retryCapMs, f.retryMs * 2);
  }

  /** Periodic: resend what timed out, resume paused peers whose pause is over. */
  tick(): void {
    const now = this.clock.now();
    for (const [peer, f] of this.flows) {
      let expired = false;
      for (const [id, at] of f.inFlight) {
        if (now - at < this.limits.ackTimeoutMs) continue;
        f.inFlight.delete(id);
        expired = true;
      }
      if (expired) f.cursor = undefined;
      this.pump(peer);
    }
  }

  private pump(peer: NodeId): void {
    const f = this.flows.get(peer);
    if (!f || this.clock.now() < f.pausedUntil) return;
    f.caughtUp = false;
    while (f.inFlight.size < this.limits.window) {
      if (f.channel.writableLength > this.limits.maxQueuedBytes) return this.waitForDrain(peer, f);
      const next = this.unsent(peer, f);
      if (next.length === 0) {
        f.caughtUp = true;
        return;
      }
      for (const m of next) {
        if (!this.#write(f.channel, toWire(m))) return; // session closed
        f.inFlight.set(m.id, this.clock.now());
        f.cursor = m.id;
        if (f.inFlight.size >= this.limits.window) return;
      }
    }
  }

  /**
   * The next messages to write, read a page at a time after the cursor (from the head when
   * resending), skipping pages that are all in flight. Bounded: at most a window's worth
   * of pages.
   */
  private unsent(peer: NodeId, f: Flow): StoredMessage[] {
    const pages = Math.ceil(this.limits.window / this.limits.batch) + 1;
    for (let i = 0; i < pages; i++) {
      const page = this.store.outbox(peer, this.limits.batch, f.cursor);
      if (page.length === 0) return [];
      const fresh = page.filter((m) => !f.inFlight.has(m.id) && !f.answered.has(m.id));
      if (fresh.length > 0) return fresh;
      f.cursor = (page[page.length - 1] as StoredMessage).id;
    }
    return [];
  }

  #write(channel: MessageChannel, wire: ChatMessage): boolean {
    const { type, payload } = this.encode(wire, channel);
    return channel.send(type, payload);
  }

  private waitForDrain(peer: NodeId, f: Flow): void {
    if (f.waitingForDrain) return;
    f.waitingForDrain = true;
    f.channel.onDrain(() => {
      f.waitingForDrain = false;
      if (this.flows.get(peer) === f) this.pump(peer);
    });
  }
}
