/**
 * PING (0x02) and PONG (0x03) payload: an opaque nonce the PONG echoes back.
 *
 *    0                                       8
 *    +---------------------------------------+
 *    |                 nonce                 |
 *    |                  u64                  |
 *    +---------------------------------------+
 *
 * The nonce is a `bigint` so that the whole u64 range round-trips exactly.
 */
import { PayloadReader, PayloadWriter, U64_MAX } from './bytes.js';
import { SentinelError } from '../errors.js';

/** Size of a PING/PONG payload. */
export const PING_SIZE = 8;

/** Decoded PING or PONG. */
export interface Ping {
  /** Any value in 0..2^64-1. */
  nonce: bigint;
}

/** Encodes a PING or PONG payload. Throws E_PAYLOAD_MALFORMED if the nonce is out of range. */
export function encodePing(ping: Ping): Buffer {
  if (typeof ping.nonce !== 'bigint' || ping.nonce < 0n || ping.nonce > U64_MAX) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', 'encode: nonce must be a bigint in 0..2^64-1');
  }
  return new PayloadWriter(PING_SIZE).u64(ping.nonce).done();
}

/** Decodes a PING or PONG payload strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodePing(payload: Uint8Array): Ping {
  const r = new PayloadReader(payload, 'PING/PONG');
  if (r.remaining !== PING_SIZE) r.fail(`length ${r.remaining}, expected ${PING_SIZE}`);
  const nonce = r.u64();
  r.end();
  return { nonce };
}
