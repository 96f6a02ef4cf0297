/**
 * The sender's signatures. While the sender is idle (the last turn batched fewer than two
 * messages), the first message of an event-loop turn is signed at once on its own (a plain
 * CHAT), so a lone message (a chat at human pace, a paced stream) waits for nothing; while
 * it is busy, every message waits for its turn's batch. The messages that follow it in the
 * same turn to a peer that accepts
 * CHAT_BATCHED (HELLO flag 0x04) wait for the end of the turn; then those to the same
 * recipient share one Ed25519 signature over the root of their Merkle tree (merkle.ts), up
 * to MAX_BATCH_LEAVES per signature, each getting its own proof (a tree never mixes
 * recipients: a proof shows nothing about messages to others). Messages to other peers are signed one by one (at once when
 * nothing is waiting, else in the flush, so results always come back in call order).
 */
import { chatSigningInput, encodeProof, type ChatMessage, type UnsignedChat } from '../wire/index.js';
import type { Counters } from '../core/counters.js';
import { buildTree, leafHash, MAX_BATCH_LEAVES, rootSigningInput } from './merkle.js';

interface Waiting {
  unsigned: UnsignedChat;
  batched: boolean;
  done: (m: ChatMessage) => void;
  fail: (e: unknown) => void;
}

/** What the signer already encoded for a batch-signed message: its signing input and proof block. */
export interface PreparedParts {
  input: Buffer;
  proofBlock: Uint8Array;
}

/** Where a batch-signed message carries its {@link PreparedParts} (a symbol: never on the wire, never stored). */
const PARTS = Symbol('batch-signer parts');
type WithParts = ChatMessage & { [PARTS]?: PreparedParts };

/**
 * The signed message, field by field: an object spread of `unsigned` costs about a
 * microsecond here (measured, Node 20), this a few nanoseconds, once per message sent.
 */
function withSignature(u: UnsignedChat, signature: Uint8Array, proof?: ChatMessage['proof']): ChatMessage {
  const m: ChatMessage = { id: u.id, from: u.from, to: u.to, timestamp: u.timestamp, text: u.text, signature };
  if (proof) m.proof = proof;
  return m;
}

export class BatchSigner {
  #queue: Waiting[] = [];
  #scheduled = false;
  /** A message was signed at once in this turn (cleared by the flush). */
  #turnStarted = false;
  /** The last flush batched at least two messages: hold the first of a turn too. */
  #busy = false;

  constructor(
    private readonly sign: (data: Uint8Array) => Uint8Array,
    private readonly counters?: Counters,
  ) {}

  /** Signs `unsigned`: alone (`batched` false) or in this turn's batch. */
  signed(unsigned: UnsignedChat, batched: boolean): ChatMessage | Promise<ChatMessage> {
    if (this.#queue.length === 0 && (!batched || (!this.#turnStarted && !this.#busy))) {
      if (batched) {
        this.#turnStarted = true;
        this.#schedule();
      }
      return this.#single(unsigned);
    }
    return new Promise((done, fail) => {
      this.#queue.push({ unsigned, batched, done, fail });
      this.#schedule();
    });
  }

  /**
   * The signing input and proof block of a message this signer signed in a tree, so the
   * frame (wire/chat.ts encodeChatBatchedFrom) and the stored row need not encode them again.
   */
  parts(m: ChatMessage): PreparedParts | undefined {
    return (m as WithParts)[PARTS];
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #single(unsigned: UnsignedChat): ChatMessage {
    return withSignature(unsigned, this.sign(chatSigningInput(unsigned)));
  }

  #flush(): void {
    this.#scheduled = false;
    this.#turnStarted = false;
    const queue = this.#queue;
    this.#queue = [];
    const results = new Map<Waiting, ChatMessage | { error: unknown }>();
    const byRecipient = new Map<string, Waiting[]>();
    for (const w of queue) {
      if (!w.batched) continue;
      const key = Buffer.from(w.unsigned.to).toString('latin1');
      const list = byRecipient.get(key);
      if (list) list.push(w);
      else byRecipient.set(key, [w]);
    }
    let count = 0;
    for (const batched of byRecipient.values()) {
      count += batched.length;
      this.#signTrees(batched, results);
    }
    this.#busy = count >= 2;
    for (const w of queue) {
      let r = results.get(w);
      if (!r) {
        try {
          r = this.#single(w.unsigned);
        } catch (error) {
          r = { error };
        }
      }
      if ('error' in r) w.fail(r.error);
      else w.done(r);
    }
  }

  /** One tree and one signature per MAX_BATCH_LEAVES messages (all to one recipient). */
  #signTrees(batched: Waiting[], results: Map<Waiting, ChatMessage | { error: unknown }>): void {
    for (let i = 0; i < batched.length; i += MAX_BATCH_LEAVES) {
      const part = batched.slice(i, i + MAX_BATCH_LEAVES);
      try {
        const inputs = part.map((w) => chatSigningInput(w.unsigned));
        const tree = buildTree(inputs.map((input) => leafHash(input)));
        const signature = this.sign(rootSigningInput(tree.root));
        this.counters?.inc('chat_batch_signatures');
        part.forEach((w, j) => {
          const proof = tree.proofs[j] as NonNullable<ChatMessage['proof']>;
          const m: WithParts = withSignature(w.unsigned, signature, proof);
          // A property, not a WeakMap entry: no ephemeron per message for the GC to trace.
          m[PARTS] = { input: inputs[j] as Buffer, proofBlock: encodeProof(proof) };
          results.set(w, m);
        });
      } catch (error) {
        for (const w of part) results.set(w, { error });
      }
    }
  }
}
