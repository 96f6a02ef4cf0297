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
import { idListSize, readIdList, writeIdList } from './ack.js';
import { PayloadReader, PayloadWriter, requireUint } from './bytes.js';

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
  const w = new PayloadWriter(1 + idListSize(m.ids, MAX_REFUSED_IDS, 'CHAT_REFUSED')).u8(m.code);
  return writeIdList(w, m.ids, 'CHAT_REFUSED').done();
}

/** Decodes a CHAT_REFUSED payload strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodeChatRefused(payload: Uint8Array): ChatRefused {
  const r = new PayloadReader(payload, 'CHAT_REFUSED');
  const code = r.u8();
  const ids = readIdList(r, MAX_REFUSED_IDS);
  r.end();
  return { code, ids };
}
