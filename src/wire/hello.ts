/**
 * HELLO payload (frame type 0x01): the first frame each side sends on a session.
 *
 *    0            2         3
 *    +------------+---------+-------------------------+
 *    | listenPort | nameLen | name (nameLen bytes)    |
 *    |    u16     |   u8    | UTF-8, <= 64 bytes      |
 *    +------------+---------+-------------------------+
 *
 * listenPort 0 means "not listening". An empty name means "no name".
 */
import { PayloadReader, PayloadWriter, requireUint } from './bytes.js';
import { utf8Length } from './utf8.js';
import { SentinelError } from '../errors.js';

/** Longest node name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64;

/** Decoded HELLO. */
export interface Hello {
  /** TCP port the sender accepts sessions on; 0 when it does not listen. */
  listenPort: number;
  /** Name the sender announces for itself; `''` when it has none. */
  name: string;
}

/** Encodes a HELLO payload. Throws E_PAYLOAD_MALFORMED on an invalid field. */
export function encodeHello(hello: Hello): Buffer {
  requireUint(hello.listenPort, 0xffff, 'listenPort');
  const nameLen = utf8Length(hello.name, 'name');
  if (nameLen > MAX_NAME_BYTES) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: name is ${nameLen} bytes, max ${MAX_NAME_BYTES}`);
  }
  return new PayloadWriter(3 + nameLen).u16(hello.listenPort).u8(nameLen).utf8(hello.name).done();
}

/** Decodes a HELLO payload strictly. Throws E_PAYLOAD_MALFORMED. */
export function decodeHello(payload: Uint8Array): Hello {
  const r = new PayloadReader(payload, 'HELLO');
  const listenPort = r.u16();
  const nameLen = r.u8();
  if (nameLen > MAX_NAME_BYTES) r.fail(`nameLen ${nameLen} exceeds ${MAX_NAME_BYTES}`);
  if (nameLen !== r.remaining) r.fail(`nameLen ${nameLen} but ${r.remaining} byte(s) follow`);
  const name = r.utf8(nameLen, 'name');
  r.end();
  return { listenPort, name };
}
