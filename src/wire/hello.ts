/**
 * HELLO payload (frame type 0x01): the first frame each side sends on a session.
 *
 *    0            2         3                         3+nameLen
 *    +------------+---------+-------------------------+-----------------+
 *    | listenPort | nameLen | name (nameLen bytes)    | flags           |
 *    |    u16     |   u8    | UTF-8, <= 64 bytes      | u8, optional    |
 *    +------------+---------+-------------------------+-----------------+
 *
 * listenPort 0 means "not listening". An empty name means "no name". `flags` is present
 * only when not zero, and a zero flags byte is refused (so a HELLO without flags is byte-identical to the first version):
 * bit 0 (HELLO_FLAG_RELAY) = the sender offers relaying to this peer (`--relay`); bit 1
 * (HELLO_FLAG_GSO) = the sender takes PACKETS_GSO frames (packets.ts); bit 2
 * (HELLO_FLAG_CHAT_BATCH) = the sender accepts CHAT_BATCHED (0x12); bit 3
 * (HELLO_FLAG_DGRAM) = the sender takes DGRAM_OFFER (0x33, datagram.ts); other bits are
 * reserved, sent as 0 and ignored.
 */
import { PayloadReader, PayloadWriter, requireUint } from './bytes.js';
import { utf8Length } from './utf8.js';
import { SentinelError } from '../errors.js';

/** Longest node name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64;
/** HELLO flags bit 0: the sender is a peer relay for this peer (RELAY_BIND may follow). */
export const HELLO_FLAG_RELAY = 0x01;
/** HELLO flags bit 1: the sender takes PACKETS_GSO frames (TCP super-segments with their GSO metadata). */
export const HELLO_FLAG_GSO = 0x02;
/** HELLO flags bit 2: the sender accepts CHAT_BATCHED (0x12, one signature per batch). */
export const HELLO_FLAG_CHAT_BATCH = 0x04;
/** HELLO flags bit 3: the sender takes DGRAM_OFFER (0x33): VPN packets may go as UDP datagrams. */
export const HELLO_FLAG_DGRAM = 0x08;

/** Decoded HELLO. */
export interface Hello {
  /** TCP port the sender accepts sessions on; 0 when it does not listen. */
  listenPort: number;
  /** Name the sender announces for itself; `''` when it has none. */
  name: string;
  /** HELLO_FLAG_* bits; absent or 0 when none. */
  flags?: number;
}

/** Encodes a HELLO payload. Throws E_PAYLOAD_MALFORMED on an invalid field. */
export function encodeHello(hello: Hello): Buffer {
  requireUint(hello.listenPort, 0xffff, 'listenPort');
  const nameLen = utf8Length(hello.name, 'name');
  if (nameLen > MAX_NAME_BYTES) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: name is ${nameLen} bytes, max ${MAX_NAME_BYTES}`);
  }
  const flags = hello.flags ?? 0;
  requireUint(flags, 0xff, 'flags');
  const w = new PayloadWriter(3 + nameLen + (flags ? 1 : 0)).u16(hello.listenPort).u8(nameLen).utf8(hello.name);
  if (flags) w.u8(flags);
  return w.done();
}

/** Decodes a HELLO payload strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodeHello(payload: Uint8Array): Hello {
  const r = new PayloadReader(payload, 'HELLO');
  const listenPort = r.u16();
  const nameLen = r.u8();
  if (nameLen > MAX_NAME_BYTES) r.fail(`nameLen ${nameLen} exceeds ${MAX_NAME_BYTES}`);
  if (nameLen !== r.remaining && nameLen + 1 !== r.remaining) r.fail(`nameLen ${nameLen} but ${r.remaining} byte(s) follow`);
  const name = r.utf8(nameLen, 'name');
  if (r.remaining === 0) return { listenPort, name };
  const flags = r.u8();
  // Canonical: a zero flags byte is never sent.
  if (flags === 0) r.fail('flags byte 0 (absent when zero)');
  r.end();
  return { listenPort, name, flags };
}
