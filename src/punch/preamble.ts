/**
 * Punch preamble: decides the TLS roles on a connection made by hole punching, where
 * both ends called connect() (TCP simultaneous open) or one end's listener accepted the
 * other's punch SYN. Each end writes the preamble first thing, reads the other's, and
 * the node with the smaller id becomes the TLS client.
 *
 *    0                       8                                 40
 *    +-----------------------+---------------------------------+
 *    | magic "SNTLPUN" 0x01  | sender's Ed25519 public key 32B |
 *    +-----------------------+---------------------------------+
 *
 * A listener tells a punched connection from an ordinary TLS dial by the first byte:
 * a TLS record starts with 0x16, the preamble with 'S' (0x53). The claimed key is only
 * a hint for the roles; the TLS handshake that follows must prove it (expected id).
 */
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { nodeIdFromPublicKey } from '../identity/index.js';

export const PREAMBLE_MAGIC = Buffer.from('SNTLPUN\x01', 'latin1');
export const PREAMBLE_SIZE = 40;
/** First byte of every TLS handshake record. */
export const TLS_HANDSHAKE_BYTE = 0x16;

export function encodePreamble(publicKey: Uint8Array): Buffer {
  if (publicKey.length !== 32) throw new SentinelError('E_PAYLOAD_MALFORMED', 'encode: preamble key must be 32 bytes');
  return Buffer.concat([PREAMBLE_MAGIC, publicKey]);
}

/** Decode exactly PREAMBLE_SIZE bytes into the claimed node id. */
export function decodePreamble(bytes: Uint8Array): NodeId {
  if (bytes.length !== PREAMBLE_SIZE) throw new SentinelError('E_PAYLOAD_MALFORMED', `preamble must be ${PREAMBLE_SIZE} bytes`);
  if (!PREAMBLE_MAGIC.equals(bytes.subarray(0, PREAMBLE_MAGIC.length))) throw new SentinelError('E_PAYLOAD_MALFORMED', 'bad preamble magic');
  return nodeIdFromPublicKey(bytes.subarray(PREAMBLE_MAGIC.length));
}

/** What the first byte of an inbound connection says it is. */
export function classifyFirstByte(b: number): 'tls' | 'punch' | 'garbage' {
  if (b === TLS_HANDSHAKE_BYTE) return 'tls';
  if (b === PREAMBLE_MAGIC[0]) return 'punch';
  return 'garbage';
}

/** TLS role on a punched connection: the smaller id is the client. */
export function punchRole(self: NodeId, peer: NodeId): 'client' | 'server' {
  if (self === peer) throw new SentinelError('E_SELF_DIAL', 'punched connection leads back to this node');
  return self < peer ? 'client' : 'server';
}
