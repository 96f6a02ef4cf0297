/**
 * The receiver's side of messaging: which CHAT messages are stored, and how the sender is
 * answered. Checks run cheapest first, so a stranger cannot make us verify or store much:
 *
 *   trust of the session's peer -> blocked: refuse (final)
 *   stranger and --strangers refuse -> refuse (final)
 *   stranger over its CHAT rate -> refuse (temporary)
 *   sender / recipient fields -> drop, counted (a forgery: no answer)
 *   already stored -> ACK again
 *   stranger over its held quota -> refuse (temporary)
 *   verifier queue full -> refuse (temporary)
 *   signature -> drop, counted
 *   store (durable) -> ACK; disk full -> refuse (temporary); other failure -> no answer
 *
 * Signatures are checked by a {@link SignatureVerifier} (a worker pool in a node, inline in
 * tests). Messages leave verification in the order they arrived (a FIFO: a verified
 * message waits for the ones before it), so history keeps arrival order, and all the
 * messages verified in one turn are handed to the store together: they share one
 * transaction and one fsync, and their ACKs go out in one frame.
 *
 * A stranger's message is stored as a message request (`--strangers requests`, the
 * default) or as an ordinary message (`accept`), and in both cases counts against the
 * stranger quotas (held index) until the sender becomes a contact or the hold expires.
 */
import type { NodeEvent, NodeId, StrangerPolicy } from '../api.js';
import { isSentinelError } from '../errors.js';
import { publicKeyFromNodeId } from '../identity/index.js';
import { MAX_TRACKED_CHAT_RATES, STRANGER_CHAT_RATE } from '../peers/limits.js';
import { TokenBucket } from '../core/rate.js';
import type { Store, Trust } from '../store/types.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { FrameType, MAX_ACK_IDS, MAX_REFUSED_IDS, RefuseCode, decodeChat, decodeChatBatched, encodeAck, encodeChatRefused, type ChatProof } from '../wire/index.js';
import { chatProofBlock, payloadSigningInput } from '../wire/chat.js';
import { leafHashOfPayload, rootFromProof } from './merkle.js';
import { BatchNodes } from './batch-nodes.js';
import { RootVerdicts } from './root-verdicts.js';
import { fromWire, toHistoryEntry } from './convert.js';
import type { MessageChannel } from './outbox.js';
import type { HeldQuota } from './quota.js';
import { InlineVerifier, type SignatureVerifier } from './verify-pool.js';
import type { StoredMessage } from '../store/types.js';
import { VERIFY_MAX_QUEUED } from './limits.js';

export interface IntakeDeps {
  identity: { id: NodeId };
  store: Store;
  clock: Clock;
  counters: Counters;
  quota: HeldQuota;
  trust(peer: NodeId): Trust;
  policy(): StrangerPolicy;
  emit(e: NodeEvent): void;
  /** Default: verify inline. */
  verifier?: SignatureVerifier;
  /** Messages in the verification FIFO at most (default VERIFY_MAX_QUEUED); more are refused for now. */
  maxQueued?: number;
}

/** A message past the cheap checks, waiting for its signature check (and for those before it). */
interface Verifying {
  channel: MessageChannel;
  wireId: Uint8Array;
  msg: StoredMessage;
  stranger: boolean;
  bytes: number;
  at: number;
  /** undefined while the check runs. */
  ok: boolean | undefined;
}

type Reply = { kind: 'ack' } | { kind: 'refuse'; code: number };

export class Intake {
  private readonly rates = new Map<NodeId, TokenBucket>();
  /** Answers gathered this turn, per channel: one ACK frame and one refusal frame per code. */
  private readonly replies = new Map<MessageChannel, Map<string, Buffer[]>>();
  private flushScheduled = false;
  /** Messages in signature verification, in arrival order. */
  private readonly verifying: Verifying[] = [];
  private readonly verifier: SignatureVerifier;
  private readonly maxQueued: number;
  private readonly roots: RootVerdicts;
  private readonly trees: BatchNodes;
  /** Our public key, and that of the last peer a CHAT came from (messages come in runs from one peer). */
  private readonly ownKey: Buffer;
  private lastPeer: { id: NodeId; key: Buffer } | undefined;

  constructor(private readonly deps: IntakeDeps) {
    this.verifier = deps.verifier ?? new InlineVerifier();
    this.roots = new RootVerdicts(this.verifier, deps.clock, deps.counters);
    this.trees = new BatchNodes(deps.clock, deps.counters);
    this.maxQueued = deps.maxQueued ?? VERIFY_MAX_QUEUED;
    this.ownKey = publicKeyFromNodeId(deps.identity.id);
  }

  private peerKey(peer: NodeId): Buffer {
    if (this.lastPeer?.id !== peer) this.lastPeer = { id: peer, key: publicKeyFromNodeId(peer) };
    return this.lastPeer.key;
  }

  /** Messages waiting for their signature check. */
  get inVerification(): number {
    return this.verifying.length;
  }

  /**
   * A CHAT frame (CHAT_BATCHED when `batched`) from `channel`. A malformed payload throws
   * (the session treats it as a protocol violation).
   */
  onChat(channel: MessageChannel, payload: Buffer, batched = false): void {
    const { identity, store, counters, clock } = this.deps;
    const peer = channel.peerId;
    const wire = batched ? decodeChatBatched(payload) : decodeChat(payload);
    const trust = this.deps.trust(peer);
    if (trust === 'blocked') return this.refuse(channel, wire.id, RefuseCode.REFUSED, 'blocked');
    const stranger = trust === 'stranger';
    const policy = this.deps.policy();
    if (stranger && policy === 'refuse') return this.refuse(channel, wire.id, RefuseCode.REFUSED, 'policy');
    if (stranger && !this.rateFor(peer).take(clock.now())) return this.refuse(channel, wire.id, RefuseCode.RATE_LIMITED, 'rate');
    if (!this.peerKey(peer).equals(wire.from)) return this.drop('sender_mismatch');
    if (!this.ownKey.equals(wire.to)) return this.drop('wrong_recipient');
    const msg = fromWire(wire, stranger && policy === 'requests' ? 'request' : 'received', { from: peer, to: identity.id }, batched ? chatProofBlock(payload) : undefined);
    if (store.hasMessage(msg.id)) {
      counters.inc('chat_duplicates');
      return this.reply(channel, wire.id, { kind: 'ack' });
    }
    const bytes = Buffer.byteLength(msg.text, 'utf8');
    const at = clock.now();
    if (stranger) {
      const over = this.deps.quota.reserve(peer, bytes);
      if (over) return this.refuse(channel, wire.id, RefuseCode.QUOTA, `quota.${over}`);
    }
    const entry: Verifying = { channel, wireId: wire.id, msg, stranger, bytes, at, ok: undefined };
    if (this.verifying.length >= this.maxQueued) {
      this.releaseQuota(entry);
      return this.refuse(channel, wire.id, RefuseCode.RATE_LIMITED, 'verify_busy');
    }
    this.verifying.push(entry);
    const done = (ok: boolean): void => {
      entry.ok = ok;
      this.release();
    };
    // The signed bytes are taken from the payload itself, not encoded again (wire/chat.ts chatSignedBody).
    const queued = wire.proof
      ? this.checkBatched(wire.from, wire.signature, leafHashOfPayload(payload), wire.proof, done)
      : this.verifier.verify({ publicKey: wire.from, data: payloadSigningInput(payload), signature: wire.signature }, done);
    if (!queued) {
      // Only a pool refuses, and never synchronously after answering: the entry is the last.
      this.verifying.splice(this.verifying.indexOf(entry), 1);
      this.releaseQuota(entry);
      return this.refuse(channel, wire.id, RefuseCode.RATE_LIMITED, 'verify_busy');
    }
  }

  /**
   * A batched message: its leaf and path give the root (batch-nodes.ts stops early at a
   * node already seen in the batch), whose one signature is checked once per batch. A
   * root reached by a shortcut that fails is not the end: the message's own full path
   * is checked (if that second check is refused for a full queue, the message is dropped
   * unanswered and the sender resends it after its ACK timeout).
   */
  private checkBatched(from: Uint8Array, signature: Uint8Array, leaf: Uint8Array, proof: ChatProof, done: (ok: boolean) => void): boolean {
    const { root, shortcut } = this.trees.rootOf(from, signature, leaf, proof);
    if (!shortcut) return this.roots.check(from, root, signature, done);
    return this.roots.check(from, root, signature, (ok) => {
      if (ok) return done(true);
      const full = rootFromProof(leaf, proof);
      if (full.equals(root) || !this.roots.check(from, full, signature, done)) done(false);
    });
  }

  /** Hands the verified messages at the head of the FIFO to the store, in arrival order. */
  private release(): void {
    while (this.verifying.length > 0 && (this.verifying[0] as Verifying).ok !== undefined) {
      const e = this.verifying.shift() as Verifying;
      if (e.ok) this.store(e);
      else {
        this.releaseQuota(e);
        // Batched: the leaf and path do not lead to a root this sender signed.
        this.drop(e.msg.proof ? 'bad_proof' : 'bad_signature');
      }
    }
  }

  private releaseQuota(e: Verifying): void {
    if (e.stranger) this.deps.quota.cancel(e.channel.peerId, e.bytes);
  }

  private store(e: Verifying): void {
    const { store, counters } = this.deps;
    const { channel, msg, stranger, bytes, at } = e;
    const peer = channel.peerId;
    store.addMessage(peer, msg, stranger ? { held: { bytes, at } } : {}).then(
      (added) => {
        if (!added) {
          this.releaseQuota(e);
          counters.inc('chat_duplicates');
        } else {
          if (stranger) this.deps.quota.confirm({ peer, id: msg.id, bytes, at, request: msg.status === 'request' });
          counters.inc(msg.status === 'request' ? 'chat_requests_stored' : 'chat_stored');
          this.deps.emit({ type: 'message', message: toHistoryEntry(msg) });
        }
        this.reply(channel, e.wireId, { kind: 'ack' });
      },
      (err: unknown) => {
        this.releaseQuota(e);
        // Not acknowledged: the sender keeps it and sends it again later.
        if (isSentinelError(err, 'E_STORE_FULL')) this.refuse(channel, e.wireId, RefuseCode.STORE_FULL, 'store_full');
        else counters.inc('chat_store_failed');
      },
    );
  }

  private rateFor(peer: NodeId): TokenBucket {
    let b = this.rates.get(peer);
    if (b) this.rates.delete(peer);
    else {
      b = new TokenBucket(STRANGER_CHAT_RATE.perSecond, STRANGER_CHAT_RATE.burst, this.deps.clock.now());
      if (this.rates.size >= MAX_TRACKED_CHAT_RATES) this.rates.delete(this.rates.keys().next().value as NodeId);
    }
    this.rates.set(peer, b);
    return b;
  }

  private drop(reason: string): void {
    this.deps.counters.inc(`chat_rejected.${reason}`);
  }

  private refuse(channel: MessageChannel, id: Uint8Array, code: number, reason: string): void {
    this.deps.counters.inc(`chat_refused.${reason}`);
    this.reply(channel, id, { kind: 'refuse', code });
  }

  private reply(channel: MessageChannel, id: Uint8Array, r: Reply): void {
    let byKind = this.replies.get(channel);
    if (!byKind) this.replies.set(channel, (byKind = new Map()));
    const key = r.kind === 'ack' ? 'ack' : String(r.code);
    let ids = byKind.get(key);
    if (!ids) byKind.set(key, (ids = []));
    ids.push(Buffer.from(id));
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Answers for messages committed in the same store batch go out in one frame.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [channel, byKind] of this.replies) {
      for (const [key, ids] of byKind) {
        const max = key === 'ack' ? MAX_ACK_IDS : MAX_REFUSED_IDS;
        for (let i = 0; i < ids.length; i += max) {
          const chunk = ids.slice(i, i + max);
          if (key === 'ack') channel.send(FrameType.ACK, encodeAck({ ids: chunk }));
          else channel.send(FrameType.CHAT_REFUSED, encodeChatRefused({ code: Number(key), ids: chunk }));
        }
      }
    }
    this.replies.clear();
  }
}
