/**
 * What a user typed, turned into a node id. Pure.
 *
 * Anyone can grind keys until their id starts with chosen characters: about 32^n tries
 * for an n-character prefix (a million for 4, a billion for 6, far out of reach for 16).
 * So a short prefix must never silently pick a peer the user did not choose. The rules:
 *
 * 1. Input is trimmed and lowercased. Longer than {@link NODE_ID_LENGTH}, or holding a
 *    character outside the id alphabet (a-z, 2-7): E_BAD_ID.
 * 2. Exactly {@link NODE_ID_LENGTH} characters: the id itself, known or not, when its
 *    checksum holds; otherwise E_BAD_ID "checksum mismatch (typo?)".
 * 3. Shorter than {@link MIN_ID_PREFIX}: E_ID_TOO_SHORT.
 * 4. Contacts first: one contact starts with the prefix: that contact; several:
 *    E_AMBIGUOUS_ID. A stranger whose id shares the prefix cannot take a contact's place.
 * 5. No contact matches: other known peers are considered only for a prefix of at least
 *    {@link MIN_STRANGER_PREFIX} characters (else E_ID_TOO_SHORT, whether or not a
 *    stranger matches: the answer never depends on what strangers announced). Then one
 *    match: it; several: E_AMBIGUOUS_ID; none: E_UNKNOWN_ID.
 *
 * Error messages quote at most {@link MAX_ECHOED_INPUT_CHARS} characters of the input,
 * escaped, and list at most {@link MAX_LISTED_MATCHES} matches.
 */
import type { NodeId } from '../api.js';
import { safeLine } from '../core/text.js';
import { SentinelError } from '../errors.js';
import { isNodeId, NODE_ID_LENGTH } from './node-id.js';

/** Fewest characters of an id prefix that resolves to a contact. */
export const MIN_ID_PREFIX = 6;

/**
 * Fewest characters of an id prefix that resolves to a peer that is not a contact
 * (80 bits: grinding a key to match a chosen prefix this long is out of reach).
 */
export const MIN_STRANGER_PREFIX = 16;

/** Most characters of the user's input quoted back in an error message. */
export const MAX_ECHOED_INPUT_CHARS = 64;

/** Most matching ids listed in an E_AMBIGUOUS_ID message. */
export const MAX_LISTED_MATCHES = 5;

/** The peers a prefix can resolve to: the user's contacts, and every other known peer. */
export interface ResolvablePeers {
  contacts: Iterable<NodeId>;
  others: Iterable<NodeId>;
}

const ID_ALPHABET = /^[a-z2-7]*$/;

/** Resolve `input` (a full id or an id prefix) by the rules above. */
export function resolveNodeId(input: string, peers: ResolvablePeers): NodeId {
  const text = input.trim().toLowerCase();
  const quoted = `"${safeLine(input.trim(), MAX_ECHOED_INPUT_CHARS)}"`;
  if (text.length > NODE_ID_LENGTH) {
    throw new SentinelError('E_BAD_ID', `${quoted} is longer than a node id (${NODE_ID_LENGTH} characters)`);
  }
  if (!ID_ALPHABET.test(text)) throw new SentinelError('E_BAD_ID', `${quoted} has characters that no node id has (ids use a-z and 2-7)`);
  if (text.length === NODE_ID_LENGTH) {
    if (isNodeId(text)) return text;
    throw new SentinelError('E_BAD_ID', `${quoted}: checksum mismatch (typo?)`);
  }
  if (text.length < MIN_ID_PREFIX) {
    throw new SentinelError('E_ID_TOO_SHORT', `${quoted} has ${text.length} characters; an id prefix needs at least ${MIN_ID_PREFIX}`);
  }
  const contact = uniqueMatch(text, peers.contacts, quoted);
  if (contact !== undefined) return contact;
  if (text.length < MIN_STRANGER_PREFIX) {
    throw new SentinelError(
      'E_ID_TOO_SHORT',
      `no contact matches ${quoted}; a peer that is not a contact needs at least ${MIN_STRANGER_PREFIX} characters of its id, or the full id`,
    );
  }
  const other = uniqueMatch(text, peers.others, quoted);
  if (other !== undefined) return other;
  throw new SentinelError('E_UNKNOWN_ID', `no known peer matches ${quoted}`);
}

/** The one id in `ids` starting with `prefix`, undefined for none; E_AMBIGUOUS_ID for several. */
function uniqueMatch(prefix: string, ids: Iterable<NodeId>, quoted: string): NodeId | undefined {
  const matches = new Set<NodeId>();
  for (const id of ids) if (id.startsWith(prefix)) matches.add(id);
  if (matches.size <= 1) return matches.values().next().value;
  // Show enough of each id to tell them apart from the prefix typed.
  const shown = Math.min(NODE_ID_LENGTH, Math.max(12, prefix.length + 4));
  const list = [...matches].sort().slice(0, MAX_LISTED_MATCHES).map((id) => (id.length > shown ? `${id.slice(0, shown)}…` : id));
  const more = matches.size > MAX_LISTED_MATCHES ? ` and ${matches.size - MAX_LISTED_MATCHES} more` : '';
  throw new SentinelError('E_AMBIGUOUS_ID', `${quoted} matches ${list.join(', ')}${more}; type more characters`);
}
