/** `--signaler host:port[#id]` parsing. */
import type { NodeId } from '../api.js';
import { isNodeId } from '../identity/index.js';
import { parseHostPort, type HostPort } from '../transport/index.js';

export interface SignalerAddress extends HostPort {
  pinned: NodeId | null;
}

/** Parse `host:port` or `host:port#<node id>`; undefined when malformed. */
export function parseSignalerAddress(text: string): SignalerAddress | undefined {
  const [addr = '', pin, ...rest] = text.split('#');
  if (rest.length > 0) return undefined;
  const hp = parseHostPort(addr);
  if (!hp) return undefined;
  if (pin !== undefined && !isNodeId(pin)) return undefined;
  return { ...hp, pinned: pin ?? null };
}
