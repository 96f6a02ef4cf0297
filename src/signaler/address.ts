/** `--signaler host:port[#id][,host:port[#id]...]` parsing. */
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { isNodeId } from '../identity/index.js';
import { formatHostPort, parseHostPort, type HostPort } from '../transport/index.js';

export interface SignalerAddress extends HostPort {
  pinned: NodeId | null;
}

/**
 * Most entries in a `--signaler` list. The node keeps a small status row per entry and
 * tries them in turn; a longer list would only make a whole round (and `status`) longer.
 */
export const MAX_SIGNALERS = 16;

/** Parse `host:port` or `host:port#<node id>`; undefined when malformed. */
export function parseSignalerAddress(text: string): SignalerAddress | undefined {
  const [addr = '', pin, ...rest] = text.split('#');
  if (rest.length > 0) return undefined;
  const hp = parseHostPort(addr);
  if (!hp) return undefined;
  if (pin !== undefined && !isNodeId(pin)) return undefined;
  return { ...hp, pinned: pin ?? null };
}

/** `host:port` of an address (the key its trust-on-first-use id is stored under). */
export function signalerKey(a: HostPort): string {
  return formatHostPort(a.host, a.port);
}

/**
 * Parse a comma-separated list of signaler addresses, in the order to try them. A single
 * address (today's form) is a list of one. Throws E_USAGE naming the bad entry: an empty
 * or malformed entry, one listed twice (same host:port), or more than MAX_SIGNALERS.
 */
export function parseSignalerList(text: string): SignalerAddress[] {
  const entries = text.split(',');
  if (entries.length > MAX_SIGNALERS) throw new SentinelError('E_USAGE', `at most ${MAX_SIGNALERS} signalers, got ${entries.length}`);
  const out: SignalerAddress[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of entries.entries()) {
    const entry = raw.trim();
    const a = parseSignalerAddress(entry);
    if (!a) throw new SentinelError('E_USAGE', `signaler entry ${i + 1} "${entry}" is not host:port or host:port#<signaler id>`);
    const key = signalerKey(a);
    if (seen.has(key)) throw new SentinelError('E_USAGE', `signaler entry ${i + 1} "${entry}" lists ${key} twice`);
    seen.add(key);
    out.push(a);
  }
  return out;
}
