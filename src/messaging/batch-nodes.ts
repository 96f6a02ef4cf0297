/**
 * The receiver's memory of batch trees, so that the messages of one batch do not each
 * hash their whole path: per (from, signature) it keeps the root the first message led to
 * and every tree node seen on a path that led to that root (the siblings and the hashes
 * computed). A later message of the batch hashes up from its leaf only until its running
 * hash equals a node already known at that position; the known chain from there to the
 * root was hashed before, so the message leads to the same root (its index bits above
 * that level are the node's position), and the nodes it hashed on the way are learnt too.
 * A path that leads elsewhere is hashed in full and learns nothing. The caller still checks the root's signature (root-verdicts.ts), and
 * when a root reached by a shortcut fails it, checks the message's own full path: a first
 * message with a bad leaf but genuine siblings makes its (from, signature) remember a root
 * nobody signed, and a genuine message that meets one of those siblings must not be
 * judged by it.
 *
 * Bounded: at most BATCH_TREES_MAX trees (oldest out first), each with at most
 * 2^(MAX_PROOF_DEPTH+1) nodes; a tree is forgotten after ROOT_VERDICT_TTL_MS.
 */
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import type { ChatProof } from '../wire/index.js';
import { BATCH_TREES_MAX, ROOT_VERDICT_TTL_MS } from './limits.js';
import { nodeHash } from './merkle.js';

interface Tree {
  at: number;
  depth: number;
  root: Buffer;
  /** (level << 11 | position) -> hash. */
  nodes: Map<number, Uint8Array>;
}

const pos = (level: number, index: number): number => (level << 11) | index;

export class BatchNodes {
  readonly #trees = new Map<string, Tree>();

  constructor(
    private readonly clock: Clock,
    private readonly counters?: Counters,
    private readonly max = BATCH_TREES_MAX,
  ) {}

  get size(): number {
    return this.#trees.size;
  }

  /**
   * A root `leaf` leads to: by its own path (the same as merkle.rootFromProof), or, when
   * `shortcut`, through nodes seen before under the same (from, signature).
   */
  rootOf(from: Uint8Array, signature: Uint8Array, leaf: Uint8Array, proof: ChatProof): { root: Buffer; shortcut: boolean; hashes: number } {
    const key = Buffer.concat([from, signature]).toString('latin1');
    const now = this.clock.now();
    let tree = this.#trees.get(key);
    if (tree && now - tree.at >= ROOT_VERDICT_TTL_MS) {
      this.#trees.delete(key);
      tree = undefined;
    }
    const depth = proof.path.length;
    const known = tree && tree.depth === depth ? tree : undefined;
    const seen: Array<[number, Uint8Array]> = [];
    let h: Uint8Array = leaf;
    let i = proof.index;
    for (let level = 0; level < depth; level++, i >>= 1) {
      const node = known?.nodes.get(pos(level, i));
      if (node && Buffer.from(node.buffer, node.byteOffset, node.byteLength).equals(h)) {
        this.counters?.inc('chat_proof_shortcuts');
        // The nodes hashed on the way are the children of a known node (the hash is
        // collision resistant): they belong to the same tree, so the next messages of the
        // batch meet them sooner (about one hash per message instead of log2(batch)).
        const tree = known as Tree;
        for (const [p, n] of seen) tree.nodes.set(p, n);
        return { root: Buffer.from(tree.root), shortcut: true, hashes: level };
      }
      const sibling = proof.path[level] as Uint8Array;
      seen.push([pos(level, i), h], [pos(level, i ^ 1), sibling]);
      h = i & 1 ? nodeHash(sibling, h) : nodeHash(h, sibling);
    }
    const root = Buffer.from(h);
    if (!tree) {
      tree = { at: now, depth, root, nodes: new Map() };
      this.#trees.set(key, tree);
      while (this.#trees.size > this.max) this.#trees.delete(this.#trees.keys().next().value as string);
    }
    // Only a path that led to the tree's root teaches it anything.
    if (tree.depth === depth && tree.root.equals(root)) for (const [p, n] of seen) tree.nodes.set(p, n);
    return { root, shortcut: false, hashes: depth };
  }
}
