/**
 * CHAT_REFUSED payload (frame type 0x82, optional range): the receiver did not store one or
 * more CHAT messages and says why, so the sender neither waits forever nor retries what
 * will never be taken.
 *
 *    0        1        3                19                     3+16*count
 *    +--------+--------+----------------+-----+----------------+
 *    |  code  | count  |   msgId[0]     | ... | msgId[count-1] |
 *    |   u8   |  u16   |      16B       |     |      16B       |
 *    +--------+--------+----------------+-----+----------------+
 *
 * count is 1..MAX_REFUSED_IDS (1024); the payload is exactly 3 + 16*count bytes. Codes not
 * in {@link RefuseCode} decode as plain numbers and are treated as temporary (retry later).
 * A node that predates this frame ignores it (optional range) and keeps resending, as
 * before.
 */
import { PayloadReader, PayloadWriter, requireBytes, requireUint } from './bytes.js';
import { MSG_ID_SIZE } from './chat.js';
import { SentinelError } from '../errors.js';

/** Most message ids one CHAT_REFUSED may carry. */
export const MAX_REFUSED_IDS = 1024;

/** Why messages were refused. */
export const RefuseCode = {
  /** For good: the receiver does not take messages from this sender (policy or block). */
  REFUSED: 1,
  /** For now: the sender is over its quota of held messages; retry later. */
  QUOTA: 2,
  /** For now: the receiver's disk is full. */
  STORE_FULL: 3,
  /** For now: the sender sends too fast. */
  RATE_LIMITED: 4,
} as const;

/** Decoded CHAT_REFUSED. */
export interface ChatRefused {
  /** A {@link RefuseCode} value, or any other u8 from a newer peer. */
  code: number;
  /** 1..MAX_REFUSED_IDS message ids of 16 bytes each. */
  ids: Uint8Array[];
}

/** True when the refusal is final (the sender should stop trying). */
export function isFinalRefusal(code: number): boolean {
  return code === RefuseCode.REFUSED;
}

/** Encodes a CHAT_REFUSED payload. Throws E_PAYLOAD_MALFORMED on a bad code, count or id size. */
export function encodeChatRefused(m: ChatRefused): Buffer {
  requireUint(m.code, 0xff, 'code');
  const count = m.ids.length;
  if (count < 1 || count > MAX_REFUSED_IDS) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: CHAT_REFUSED needs 1..${MAX_REFUSED_IDS} ids, got ${count}`);
  }
  const w = new PayloadWriter(3 + count * MSG_ID_SIZE).u8(m.code).u16(count);
  for (const id of m.ids) {
    requireBytes(id, MSG_ID_SIZE, 'CHAT_REFUSED id');
    w.bytes(id);
  }
  return w.done();
}

/** Decodes a CHAT_REFUSED payload strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodeChatRefused(payload: Uint8Array): ChatRefused {
  const r = new PayloadReader(payload, 'CHAT_REFUSED');
  const code = r.u8();
  const count = r.u16();
  if (count < 1 || count > MAX_REFUSED_IDS) r.fail(`count ${count} not in 1..${MAX_REFUSED_IDS}`);
  if (r.remaining !== count * MSG_ID_SIZE) r.fail(`count ${count} but ${r.remaining} id byte(s) follow`);
  const ids: Uint8Array[] = [];
  for (let i = 0; i < count; i++) ids.push(r.bytes(MSG_ID_SIZE));
  r.end();
  return { code, ids };
}
