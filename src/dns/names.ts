/**
 * Which node a name under `.sentinel` means. Pure: built from a snapshot of the peer
 * directory and this node's own id and name.
 *
 * A name is matched in lower case, and only names that are valid host names are served
 * (labels of a-z, 0-9, "-" or "_", 1-63 characters each). Sources, strongest first; a name
 * held by a stronger source is never taken by a weaker one, and a name two nodes hold at
 * the same strength (say the aliases "Bob" and "bob") is served for neither:
 *
 *   1. the user's aliases (`sentinel alias`), of any peer not blocked;
 *   2. this node: its `--name`, and its full id;
 *   3. contacts' full ids;
 *   4. the names contacts announce in their HELLO.
 *
 * Strangers' announced names are never served: anyone can make a key and announce
 * "bob", so only peers the user chose may hold a name. Failing all of these, an id prefix
 * of at least MIN_ID_PREFIX characters names the one contact (or this node) it starts.
 */
import type { NodeId } from '../api.js';
import { MIN_ID_PREFIX, NODE_ID_LENGTH } from '../identity/index.js';
import type { PeerRecord } from '../store/types.js';

/** Longest name (without `.sentinel`) we look up; 63 would already do for any alias or id. */
export const MAX_NAME_KEY_BYTES = 200;
const LABEL = /^[a-z0-9_-]{1,63}$/;
const ID_PREFIX = /^[a-z2-7]+$/;

/** The lower-case lookup key for `text`, or null if it is not a valid host name. */
export function nameKey(text: string): string | null {
  const key = text.trim().toLowerCase();
  if (key.length === 0 || key.length > MAX_NAME_KEY_BYTES) return null;
  return key.split('.').every((label) => LABEL.test(label)) ? key : null;
}

/** What the table is built from. */
export interface NameSources {
  self: { id: NodeId; name: string | null };
  peers: ReadonlyArray<Pick<PeerRecord, 'id' | 'alias' | 'name' | 'trust'>>;
}

/** A name two nodes hold at the same strength: served for neither. */
const AMBIGUOUS = null;

/** Name -> node id, by the rules above. Immutable once built. */
export class NameTable {
  private constructor(
    private readonly exact: ReadonlyMap<string, NodeId | typeof AMBIGUOUS>,
    /** This node's and the contacts' ids, sorted, without duplicates. */
    private readonly prefixable: readonly NodeId[],
  ) {}

  /** Builds the table from `src` (strongest source first; see the module comment). */
  static build(src: NameSources): NameTable {
    const live = src.peers.filter((p) => p.trust !== 'blocked');
    const contacts = live.filter((p) => p.trust === 'contact');
    const tiers: Array<Array<[string | null, NodeId]>> = [
      live.filter((p) => p.alias !== null).map((p) => [nameKey(p.alias as string), p.id]),
      [
        [src.self.name === null ? null : nameKey(src.self.name), src.self.id],
        [src.self.id, src.self.id],
      ],
      contacts.map((p) => [p.id, p.id]),
      contacts.filter((p) => p.name !== null).map((p) => [nameKey(p.name as string), p.id]),
    ];
    const exact = new Map<string, NodeId | typeof AMBIGUOUS>();
    for (const tier of tiers) {
      const here = new Map<string, NodeId | typeof AMBIGUOUS>();
      for (const [key, id] of tier) {
        if (key === null) continue;
        const held = here.get(key);
        here.set(key, held === undefined || held === id ? id : AMBIGUOUS);
      }
      for (const [key, id] of here) if (!exact.has(key)) exact.set(key, id);
    }
    return new NameTable(exact, [...new Set([src.self.id, ...contacts.map((p) => p.id)])].sort());
  }

  /** The node `key` (from {@link nameKey}) names, if exactly one. */
  lookup(key: string): NodeId | undefined {
    const hit = this.exact.get(key);
    if (hit !== undefined) return hit ?? undefined;
    if (key.length < MIN_ID_PREFIX || key.length >= NODE_ID_LENGTH || !ID_PREFIX.test(key)) return undefined;
    // Sorted ids: those starting with `key` are consecutive from the first one >= key.
    const ids = this.prefixable;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ids[mid] as string) < key) lo = mid + 1;
      else hi = mid;
    }
    const found = ids[lo];
    if (found === undefined || !found.startsWith(key)) return undefined;
    return ids[lo + 1]?.startsWith(key) ? undefined : found;
  }

  /** How many names are served exactly (prefixes not counted). */
  get size(): number {
    let n = 0;
    for (const v of this.exact.values()) if (v !== AMBIGUOUS) n++;
    return n;
  }
}
