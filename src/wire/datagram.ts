/**
 * The VPN's UDP datagram path (src/vpn/datagram-path.ts): the DGRAM_OFFER session frame
 * (type 0x33) and the datagram itself. Pure codecs: no sockets, no crypto (the caller
 * seals and opens the body with AES-256-GCM, see src/vpn/datagram-crypto.ts).
 *
 * DGRAM_OFFER, sent on the session only to a peer whose HELLO has HELLO_FLAG_DGRAM (0x08),
 * once per session by each side, says "send me VPN packets as datagrams":
 *
 *    0         1           3                 7            11
 *    +---------+-----------+-----------------+------------+
 *    | version | udp port  | receiver index  | epoch      |
 *    | u8 = 1  | u16, >= 1 | u32             | u32        |
 *    +---------+-----------+-----------------+------------+
 *
 * The payload is exactly 11 bytes. `udp port` is the sender's UDP port (on the session's
 * remote IP); `receiver index` is the number the sender wants in the datagrams sent to it
 * (chosen at random, unique among its peers); `epoch` names the key generation (0 in this
 * version; a rekey would announce a new one).
 *
 * Datagram (one UDP payload; big-endian):
 *
 *    0      1                5                         13                      len-16    len
 *    +------+----------------+-------------------------+-----------------------+---------+
 *    | type | receiver index | counter                 | ciphertext            | AEAD    |
 *    |  u8  | u32            | u64, per key, from 0    | (same length as the   | tag     |
 *    |      |                | +1 per datagram         |  plaintext)           | 16 B    |
 *    +------+----------------+-------------------------+-----------------------+---------+
 *
 *    type 0x01 DATA         plaintext = one whole inner IP packet (1..MTU bytes)
 *    type 0x02 PROBE        plaintext = probe id (u64)
 *    type 0x03 PROBE_REPLY  plaintext = the probe id being answered (u64)
 *
 * AEAD: AES-256-GCM, nonce = 0x00000000 || counter (12 bytes), associated data = bytes
 * 0..12 (the header). A datagram is DATAGRAM_OVERHEAD (29) bytes longer than its plaintext.
 * The counter is below 2^53 here (a sender stops using a key long before; the decoder
 * refuses larger ones), so it is a plain number.
 */
import { PayloadReader, PayloadWriter, requireUint } from './bytes.js';
import { SentinelError } from '../errors.js';

/** Datagram types (first byte). */
export const DatagramType = { DATA: 0x01, PROBE: 0x02, PROBE_REPLY: 0x03 } as const;
export type DatagramTypeValue = (typeof DatagramType)[keyof typeof DatagramType];

/** type + receiver index + counter. */
export const DATAGRAM_HEADER_SIZE = 13;
/** AES-GCM tag. */
export const DATAGRAM_TAG_SIZE = 16;
/** Bytes a datagram adds to its plaintext. */
export const DATAGRAM_OVERHEAD = DATAGRAM_HEADER_SIZE + DATAGRAM_TAG_SIZE;
/** Plaintext of a probe or probe reply: the probe id. */
export const PROBE_BODY_SIZE = 8;
/** Size of a DGRAM_OFFER payload. */
export const DGRAM_OFFER_SIZE = 11;
/** The only DGRAM_OFFER version this code speaks. */
export const DGRAM_VERSION = 1;
/** Largest counter a datagram may carry (2^53 - 1: exact as a number). */
export const MAX_DATAGRAM_COUNTER = Number.MAX_SAFE_INTEGER;

const TWO_32 = 0x1_0000_0000;

/** A decoded datagram header. */
export interface DatagramHeader {
  type: DatagramTypeValue;
  index: number;
  counter: number;
}

/** A decoded DGRAM_OFFER. */
export interface DgramOffer {
  version: number;
  port: number;
  index: number;
  epoch: number;
}

/** Writes the 13-byte header at the start of `out` (the caller sized it). */
export function writeDatagramHeader(out: Buffer, type: DatagramTypeValue, index: number, counter: number): void {
  if (!Number.isInteger(counter) || counter < 0 || counter > MAX_DATAGRAM_COUNTER) throw new RangeError(`datagram counter ${counter} out of range`);
  out[0] = type;
  out.writeUInt32BE(index >>> 0, 1);
  out.writeUInt32BE(Math.floor(counter / TWO_32), 5);
  out.writeUInt32BE(counter % TWO_32, 9);
}

/**
 * The header of a received datagram, or why it is refused: 'bad_length' (shorter than a
 * header and tag, or a DATA body outside 1..maxPlaintext, or a probe body not 8 bytes)
 * or 'bad_type'. Checks lengths only from the fields, before anything is allocated.
 * Never throws.
 */
export function readDatagramHeader(buf: Uint8Array, maxPlaintext: number): DatagramHeader | 'bad_length' | 'bad_type' {
  if (buf.length < DATAGRAM_OVERHEAD) return 'bad_length';
  const type = buf[0]!;
  const body = buf.length - DATAGRAM_OVERHEAD;
  if (type === DatagramType.DATA) {
    if (body < 1 || body > maxPlaintext) return 'bad_length';
  } else if (type === DatagramType.PROBE || type === DatagramType.PROBE_REPLY) {
    if (body !== PROBE_BODY_SIZE) return 'bad_length';
  } else {
    return 'bad_type';
  }
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const hi = b.readUInt32BE(5);
  // Above 2^53 - 1 no honest sender gets there: treat as a forgery (it cannot authenticate).
  if (hi >= 0x20_0000) return 'bad_type';
  return { type, index: b.readUInt32BE(1), counter: hi * TWO_32 + b.readUInt32BE(9) };
}

/** Encodes a DGRAM_OFFER payload. Throws E_PAYLOAD_MALFORMED on a field out of range. */
export function encodeDgramOffer(o: DgramOffer): Buffer {
  requireUint(o.version, 0xff, 'version');
  requireUint(o.port, 0xffff, 'port');
  if (o.port === 0) throw new SentinelError('E_PAYLOAD_MALFORMED', 'encode: DGRAM_OFFER port must be 1..65535');
  requireUint(o.index, 0xffff_ffff, 'index');
  requireUint(o.epoch, 0xffff_ffff, 'epoch');
  return new PayloadWriter(DGRAM_OFFER_SIZE).u8(o.version).u16(o.port).u32(o.index).u32(o.epoch).done();
}

/**
 * Decodes a DGRAM_OFFER strictly (exactly 11 bytes, port >= 1). Throws E_PAYLOAD_MALFORMED.
 * The version is returned as sent: an unknown one is the receiver's to ignore (and count).
 */
export function decodeDgramOffer(payload: Uint8Array): DgramOffer {
  const r = new PayloadReader(payload, 'DGRAM_OFFER');
  const version = r.u8();
  const port = r.u16();
  const index = r.u32();
  const epoch = r.u32();
  r.end();
  if (port === 0) r.fail('udp port 0');
  return { version, port, index, epoch };
}
