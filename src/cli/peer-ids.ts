/**
 * The id a peer table shows: the shortest prefix that every command taking an id resolves
 * back to that peer (identity/resolve.ts), so it can be copied from `/peers` and pasted
 * into `/msg`, `sentinel allow`, ... It is never shortened with an ellipsis: what is
 * shown is what is typed. Pure.
 *
 * A contact's prefix only has to be unique among contacts (they are matched first), and
 * at least {@link MIN_SHOWN_PREFIX} characters. Any other peer (stranger or blocked)
 * needs {@link MIN_STRANGER_PREFIX} characters, matching no other known peer at all:
 * a contact sharing it would win the match. Aliases are matched before prefixes, so a
 * prefix is never one that spells an alias.
 */
import type { NodeId, PeerInfo } from '../api.js';
import { MIN_ID_PREFIX, MIN_STRANGER_PREFIX } from '../identity/index.js';

/** Fewest characters shown of an id: easy to read, and far above {@link MIN_ID_PREFIX}. */
export const MIN_SHOWN_PREFIX = Math.max(8, MIN_ID_PREFIX);

/**
 * For each peer, the prefix of its id the table shows (the full id when nothing shorter is
 * unique). Sorted ids: the longest prefix an id shares with any other is the one it shares
 * with a neighbour, so a table of n peers costs O(n log n).
 */
export function uniqueIdPrefixes(peers: readonly (Pick<PeerInfo, 'id' | 'trust'> & { alias?: string | null })[]): Map<NodeId, string> {
  const contacts = neighbourOverlap(peers.filter((p) => p.trust === 'contact').map((p) => p.id));
  const all = neighbourOverlap(peers.map((p) => p.id));
  // An alias is matched before any prefix: a prefix that spells someone's alias grows by one.
  const aliases = new Set(peers.map((p) => p.alias).filter((a): a is string => typeof a === 'string'));
  const out = new Map<NodeId, string>();
  for (const p of peers) {
    const contact = p.trust === 'contact';
    const shared = (contact ? contacts : all).get(p.id) ?? 0;
    let length = Math.max(contact ? MIN_SHOWN_PREFIX : MIN_STRANGER_PREFIX, shared + 1);
    while (length < p.id.length && aliases.has(p.id.slice(0, length))) length++;
    out.set(p.id, p.id.slice(0, length));
  }
  return out;
}

/** For each id, the length of the longest prefix it shares with another id of the list. */
function neighbourOverlap(ids: readonly NodeId[]): Map<NodeId, number> {
  const sorted = [...new Set(ids)].sort();
  const out = new Map<NodeId, number>();
  for (const [i, id] of sorted.entries()) {
    const before = i > 0 ? commonPrefixLength(id, sorted[i - 1] as NodeId) : 0;
    const after = i + 1 < sorted.length ? commonPrefixLength(id, sorted[i + 1] as NodeId) : 0;
    out.set(id, Math.max(before, after));
  }
  return out;
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
