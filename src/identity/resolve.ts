import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { isNodeId, shortId } from './node-id.js';

/**
 * Resolve what a user typed into a node id: a full valid id is returned as is (known
 * or not); otherwise a unique prefix (case-insensitive) of one of `known` ids.
 * An ambiguous prefix throws E_AMBIGUOUS_ID listing the matches; no match throws E_UNKNOWN_ID.
 */
export function resolveNodeId(input: string, known: Iterable<NodeId>): NodeId {
  const text = input.trim().toLowerCase();
  if (isNodeId(text)) return text;
  if (text.length === 0) throw new SentinelError('E_UNKNOWN_ID', 'empty id');
  const matches = [...new Set([...known].filter((id) => id.startsWith(text)))];
  if (matches.length === 1) return matches[0] as NodeId;
  if (matches.length === 0) throw new SentinelError('E_UNKNOWN_ID', `no known peer matches "${input}"`);
  throw new SentinelError('E_AMBIGUOUS_ID', `"${input}" matches ${matches.map(shortId).join(', ')}`);
}
