/**
 * GOSSIP_PUSH (0x80) and GOSSIP_PULL_REPLY (0x81) payloads: a batch of signed peer records.
 *
 *    0        2        4                     4+len[0]
 *    +--------+--------+-----------------+--------+-----------------+-----+
 *    | count  | len[0] |    record[0]    | len[1] |    record[1]    | ... |
 *    |  u16   |  u16   | len[0] bytes    |  u16   | len[1] bytes    |     |
 *    +--------+--------+-----------------+--------+-----------------+-----+
 *
 * count is 0..MAX_RECORDS_PER_MESSAGE (32); each len is PEER_RECORD_MIN_SIZE..MAX_RECORD_BYTES
 * (122..426), checked before any copy. A push with count 0 is a pure pull. The records are
 * returned as opaque bytes: each one is decoded and verified on its own (gossip/records.ts)
 * so that one bad record is counted and dropped without losing the others.
 * A GOSSIP_PULL_REPLY answers a push with records the pusher lacks or holds in an older version.
 */
import { PayloadReader, PayloadWriter } from './bytes.js';
import { MAX_RECORD_BYTES, PEER_RECORD_MIN_SIZE } from './peer-record.js';
import { SentinelError } from '../errors.js';

/** Most records in one GOSSIP_PUSH or GOSSIP_PULL_REPLY. */
export const MAX_RECORDS_PER_MESSAGE = 32;
/** Largest gossip payload: 2 + 32 x (2 + 426) = 13,698 bytes. */
export const MAX_GOSSIP_PAYLOAD = 2 + MAX_RECORDS_PER_MESSAGE * (2 + MAX_RECORD_BYTES);

function encodeRecords(records: readonly Uint8Array[]): Buffer {
  if (records.length > MAX_RECORDS_PER_MESSAGE) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: at most ${MAX_RECORDS_PER_MESSAGE} records per message, got ${records.length}`);
  }
  let size = 2;
  for (const rec of records) {
    if (!(rec instanceof Uint8Array) || rec.length < PEER_RECORD_MIN_SIZE || rec.length > MAX_RECORD_BYTES) {
      throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: record length must be ${PEER_RECORD_MIN_SIZE}..${MAX_RECORD_BYTES}`);
    }
    size += 2 + rec.length;
  }
  const w = new PayloadWriter(size).u16(records.length);
  for (const rec of records) w.u16(rec.length).bytes(rec);
  return w.done();
}

function decodeRecords(payload: Uint8Array, what: string): Uint8Array[] {
  const r = new PayloadReader(payload, what);
  const count = r.u16();
  if (count > MAX_RECORDS_PER_MESSAGE) r.fail(`count ${count} exceeds ${MAX_RECORDS_PER_MESSAGE}`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.u16();
    if (len < PEER_RECORD_MIN_SIZE || len > MAX_RECORD_BYTES) r.fail(`record ${i} length ${len} not in ${PEER_RECORD_MIN_SIZE}..${MAX_RECORD_BYTES}`);
    out.push(r.bytes(len));
  }
  r.end();
  return out;
}

/** Encodes a GOSSIP_PUSH payload (0..32 encoded records). Throws E_PAYLOAD_MALFORMED. */
export function encodeGossipPush(records: readonly Uint8Array[]): Buffer {
  return encodeRecords(records);
}

/** Decodes a GOSSIP_PUSH payload strictly into record bytes (not yet verified). Throws E_PAYLOAD_MALFORMED. */
export function decodeGossipPush(payload: Uint8Array): Uint8Array[] {
  return decodeRecords(payload, 'GOSSIP_PUSH');
}

/** Encodes a GOSSIP_PULL_REPLY payload (0..32 encoded records). Throws E_PAYLOAD_MALFORMED. */
export function encodeGossipPullReply(records: readonly Uint8Array[]): Buffer {
  return encodeRecords(records);
}

/** Decodes a GOSSIP_PULL_REPLY payload strictly into record bytes. Throws E_PAYLOAD_MALFORMED. */
export function decodeGossipPullReply(payload: Uint8Array): Uint8Array[] {
  return decodeRecords(payload, 'GOSSIP_PULL_REPLY');
}
