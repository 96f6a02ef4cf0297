/**
 * GOAWAY payload (frame type 0x04): the sender is closing the session and says why.
 *
 *    0        2           4
 *    +--------+-----------+---------------------------+
 *    |  code  | reasonLen | reason (reasonLen bytes)  |
 *    |  u16   |    u16    | UTF-8, <= 256 bytes       |
 *    +--------+-----------+---------------------------+
 *
 * Codes not in {@link GoawayCode} are accepted and decoded as plain numbers, so that a
 * newer peer can add codes; a receiver treats an unknown code as "unspecified" (it closes
 * the session either way) and may log the number.
 */
import { PayloadReader, PayloadWriter, requireUint } from './bytes.js';
import { utf8Length } from './utf8.js';
import { SentinelError } from '../errors.js';

/** Longest GOAWAY reason, in UTF-8 bytes. */
export const MAX_REASON_BYTES = 256;

/** Named GOAWAY codes. Any other u16 is valid on the wire. */
export const GoawayCode = {
  NORMAL: 1,
  DUPLICATE: 2,
  PROTOCOL_ERROR: 3,
  TIMEOUT: 4,
  SHUTDOWN: 5,
  /** No session slot is free for the sender now (strangers' slots are full); try later. */
  BUSY: 6,
  /** The receiver does not take sessions from the sender (blocked). */
  REFUSED: 7,
} as const;

/** Name of a known GOAWAY code. */
export type GoawayCodeName = keyof typeof GoawayCode;

/** Decoded GOAWAY. */
export interface Goaway {
  /** A {@link GoawayCode} value, or any other u16 sent by a newer peer. */
  code: number;
  /** Human-readable detail; may be `''`. */
  reason: string;
}

/** Name of `code` if it is a known GOAWAY code, else undefined. */
export function goawayCodeName(code: number): GoawayCodeName | undefined {
  return (Object.keys(GoawayCode) as GoawayCodeName[]).find((name) => GoawayCode[name] === code);
}

/** Encodes a GOAWAY payload. Throws E_PAYLOAD_MALFORMED on an invalid field. */
export function encodeGoaway(goaway: Goaway): Buffer {
  requireUint(goaway.code, 0xffff, 'code');
  const reasonLen = utf8Length(goaway.reason, 'reason');
  if (reasonLen > MAX_REASON_BYTES) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: reason is ${reasonLen} bytes, max ${MAX_REASON_BYTES}`);
  }
  return new PayloadWriter(4 + reasonLen).u16(goaway.code).u16(reasonLen).utf8(goaway.reason).done();
}

/** Decodes a GOAWAY payload strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodeGoaway(payload: Uint8Array): Goaway {
  const r = new PayloadReader(payload, 'GOAWAY');
  const code = r.u16();
  const reasonLen = r.u16();
  if (reasonLen > MAX_REASON_BYTES) r.fail(`reasonLen ${reasonLen} exceeds ${MAX_REASON_BYTES}`);
  if (reasonLen !== r.remaining) r.fail(`reasonLen ${reasonLen} but ${r.remaining} byte(s) follow`);
  const reason = r.utf8(reasonLen, 'reason');
  r.end();
  return { code, reason };
}
