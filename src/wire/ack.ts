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
  return writeIdList(new PayloadWriter(idListSize(ack.ids, MAX_ACK_IDS, 'ACK')), ack.ids, 'ACK').done();
}

/** Decodes an ACK payload strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodeAck(payload: Uint8Array): Ack {
  const r = new PayloadReader(payload, 'ACK');
  const ids = readIdList(r, MAX_ACK_IDS);
  r.end();
  return { ids };
}

/**
 * An id list as ACK lays it out (and CHAT_REFUSED after its code): `count u16`, then
 * `count` message ids of 16 bytes. Bytes the list takes; throws on a count out of 1..max.
 */
export function idListSize(ids: readonly Uint8Array[], max: number, what: string): number {
  if (ids.length < 1 || ids.length > max) throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: ${what} needs 1..${max} ids, got ${ids.length}`);
  return 2 + ids.length * MSG_ID_SIZE;
}

/** Writes an id list (see {@link idListSize}, which checks the count). */
export function writeIdList(w: PayloadWriter, ids: readonly Uint8Array[], what: string): PayloadWriter {
  w.u16(ids.length);
  for (const id of ids) {
    requireBytes(id, MSG_ID_SIZE, `${what} id`);
    w.bytes(id);
  }
  return w;
}

/** Reads an id list that must fill the rest of the payload. */
export function readIdList(r: PayloadReader, max: number): Uint8Array[] {
  const count = r.u16();
  if (count < 1 || count > max) r.fail(`count ${count} not in 1..${max}`);
  if (r.remaining !== count * MSG_ID_SIZE) r.fail(`count ${count} but ${r.remaining} id byte(s) follow`);
  const ids: Uint8Array[] = [];
  for (let i = 0; i < count; i++) ids.push(r.bytes(MSG_ID_SIZE));
  return ids;
}
