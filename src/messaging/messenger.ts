/**
 * Durable signed messaging over sessions.
 *
 * Sender: sign -> store in history + outbox (durable) -> tell the user -> send if a
 * session is up. Receiver: check the sender is the authenticated peer and the recipient
 * is us, verify the signature, store (durable, deduplicated by message id), then ACK.
 * Sender on ACK: mark delivered (durable), drop from the outbox. On every session-up the
 * outbox for that peer is sent again in order; the receiver's dedupe makes redelivery
 * invisible to the user.
 */
import { randomBytes } from 'node:crypto';
import type { NodeEvent, NodeId, SendResult } from '../api.js';
import { SentinelError } from '../errors.js';
import { publicKeyFromNodeId, verifySignature, type Identity } from '../identity/index.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../transport/clock.js';
import type { Counters } from '../transport/counters.js';
import {
  FrameType,
  MAX_ACK_IDS,
  MAX_TEXT_BYTES,
  chatSigningInput,
  decodeAck,
  decodeChat,
  encodeAck,
  encodeChat,
  type ChatMessage,
  type UnsignedChat,
} from '../wire/index.js';
import { fromWire, toHistoryEntry, toWire } from './convert.js';

/** What the messenger needs from a session. */
export interface MessageChannel {
  readonly peerId: NodeId;
  send(type: number, payload: Uint8Array): boolean;
}

export interface MessengerDeps {
  identity: Identity;
  store: Store;
  clock: Clock;
  counters: Counters;
  channelFor(peer: NodeId): MessageChannel | undefined;
  emit(e: NodeEvent): void;
}

export class Messenger {
  private readonly pendingAcks = new Map<MessageChannel, Buffer[]>();
  private ackFlushScheduled = false;
  private readonly waiters = new Map<string, () => void>();

  constructor(private readonly deps: MessengerDeps) {}

  /**
   * Store durably and send (now, or later from the outbox). When the peer is connected
   * and `waitMs` > 0, wait up to that long for its ACK so the result can say `delivered`.
   */
  async send(to: NodeId, text: string, waitMs = 0): Promise<SendResult> {
    const { identity, store, clock } = this.deps;
    if (to === identity.id) throw new SentinelError('E_SELF_DIAL', 'cannot message ourselves');
    if (text.length === 0) throw new SentinelError('E_BAD_REQUEST', 'empty message');
    if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) throw new SentinelError('E_TEXT_TOO_LONG', `at most ${MAX_TEXT_BYTES} bytes`);
    const unsigned: UnsignedChat = { id: randomBytes(16), from: identity.publicKey, to: publicKeyFromNodeId(to), timestamp: clock.now(), text };
    const wire: ChatMessage = { ...unsigned, signature: identity.sign(chatSigningInput(unsigned)) };
    const msg = fromWire(wire, 'pending');
    await store.addMessage(to, msg, { outbox: true });
    const sent = this.deps.channelFor(to)?.send(FrameType.CHAT, encodeChat(wire)) ?? false;
    const delivered = sent && waitMs > 0 && (await this.waitDelivered(msg.id, waitMs));
    return { id: msg.id, to, status: delivered ? 'delivered' : 'pending' };
  }

  private waitDelivered(id: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimeout(() => {
        this.waiters.delete(id);
        resolve(false);
      }, ms);
      this.waiters.set(id, () => {
        this.deps.clock.clearTimeout(timer);
        this.waiters.delete(id);
        resolve(true);
      });
    });
  }

  /** Send the whole outbox for `peer` on `channel`, in order. */
  flushOutbox(channel: MessageChannel): number {
    const queued = this.deps.store.outbox(channel.peerId);
    for (const m of queued) channel.send(FrameType.CHAT, encodeChat(toWire(m)));
    return queued.length;
  }

  /** A CHAT frame from `channel`. Invalid messages are dropped, counted and not acknowledged. */
  onChat(channel: MessageChannel, payload: Buffer): void {
    const { identity, store, counters } = this.deps;
    const wire = decodeChat(payload); // malformed payload: the session treats it as a protocol violation
    const msg = fromWire(wire, 'received');
    if (msg.from !== channel.peerId) return this.reject('sender_mismatch');
    if (msg.to !== identity.id) return this.reject('wrong_recipient');
    if (!verifySignature(wire.from, chatSigningInput(wire), wire.signature)) return this.reject('bad_signature');
    if (store.hasMessage(msg.id)) {
      counters.inc('chat_duplicates');
      return this.queueAck(channel, wire.id);
    }
    store.addMessage(msg.from, msg).then(
      (added) => {
        if (added) this.deps.emit({ type: 'message', message: toHistoryEntry(msg) });
        else counters.inc('chat_duplicates');
        this.queueAck(channel, wire.id);
      },
      () => counters.inc('chat_store_failed'), // not acknowledged: the sender keeps it queued
    );
  }

  /** An ACK frame: mark each of our pending messages to this peer delivered. */
  onAck(channel: MessageChannel, payload: Buffer): void {
    for (const raw of decodeAck(payload).ids) {
      const id = Buffer.from(raw).toString('hex');
      const msg = this.deps.store.getMessage(id);
      if (!msg || msg.to !== channel.peerId || msg.from !== this.deps.identity.id) {
        this.deps.counters.inc('acks_unknown');
        continue;
      }
      if (msg.status === 'delivered') continue;
      this.deps.store.setStatus(id, 'delivered').then(
        () => {
          this.waiters.get(id)?.();
          this.deps.emit({ type: 'delivered', id, to: msg.to });
        },
        () => this.deps.counters.inc('ack_store_failed'),
      );
    }
  }

  private reject(reason: string): void {
    this.deps.counters.inc(`chat_rejected.${reason}`);
  }

  private queueAck(channel: MessageChannel, id: Uint8Array): void {
    let list = this.pendingAcks.get(channel);
    if (!list) this.pendingAcks.set(channel, (list = []));
    list.push(Buffer.from(id));
    if (this.ackFlushScheduled) return;
    this.ackFlushScheduled = true;
    // Acks for messages committed in the same store batch go out in one frame.
    setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    this.ackFlushScheduled = false;
    for (const [channel, ids] of this.pendingAcks) {
      for (let i = 0; i < ids.length; i += MAX_ACK_IDS) channel.send(FrameType.ACK, encodeAck({ ids: ids.slice(i, i + MAX_ACK_IDS) }));
    }
    this.pendingAcks.clear();
  }
}
