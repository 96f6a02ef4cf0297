/**
 * ACK payload (frame type 0x11): acknowledges one or more received CHAT messages.
 *
 *    0        2                18                     2+16*count
 *    +--------+----------------+-----+----------------+
 *    | count  |   msgId[0]     | ... | msgId[count-1] |
 *    |  u16   |      16B       |     |      16B       |
 *    +--------+----------------+-----+----------------+
 *
 * count is 1..MAX_ACK_IDS (1024); the payload is exactly 2 + 16*count bytes.
 * Duplicate ids are legal on the wire (acknowledging twice is harmless).
 */
import { PayloadReader, PayloadWriter, requireBytes } from './bytes.js';
import { MSG_ID_SIZE } from './chat.js';
import { SentinelError } from '../errors.js';

/** Most message ids one ACK may carry. */
export const MAX_ACK_IDS = 1024;

/** Decoded ACK. */
export interface Ack {
  /** 1..MAX_ACK_IDS message ids of 16 bytes each. */
  ids: Uint8Array[];
}

/** Encodes an ACK payload. Throws E_PAYLOAD_MALFORMED on a bad count or id size. */
export function encodeAck(ack: Ack): Buffer {
  const count = ack.ids.length;
  if (count < 1 || count > MAX_ACK_IDS) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: ACK needs 1..${MAX_ACK_IDS} ids, got ${count}`);
  }
  const w = new PayloadWriter(2 + count * MSG_ID_SIZE).u16(count);
  for (const id of ack.ids) {
    requireBytes(id, MSG_ID_SIZE, 'ACK id');
    w.bytes(id);
  }
  return w.done();
}

/** Decodes an ACK payload strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodeAck(payload: Uint8Array): Ack {
  const r = new PayloadReader(payload, 'ACK');
  const count = r.u16();
  if (count < 1 || count > MAX_ACK_IDS) r.fail(`count ${count} not in 1..${MAX_ACK_IDS}`);
  if (r.remaining !== count * MSG_ID_SIZE) r.fail(`count ${count} but ${r.remaining} id byte(s) follow`);
  const ids: Uint8Array[] = [];
  for (let i = 0; i < count; i++) ids.push(r.bytes(MSG_ID_SIZE));
  r.end();
  return { ids };
}
