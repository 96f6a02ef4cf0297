/**
 * Keys and AEAD of the datagram path (the layout is in src/wire/datagram.ts).
 *
 * Keys come from the peer session's TLS 1.3 exporter (RFC 8446 §7.5): both ends of one
 * authenticated session compute the same 64 bytes, nobody else can. The context binds them
 * to the epoch and both receiver indices, ordered by node id: the index of the node whose id
 * sorts first (as text; ids have one fixed length and alphabet), then the other's. Both
 * ends always agree on that order, which they do not on "who dialed" (a punched connection
 * that the other end's listener accepted is outbound at one end and inbound at the other,
 * and TLS roles are then picked by id, not by who connected):
 *
 *   exportKeyingMaterial(64, DATAGRAM_EXPORTER_LABEL, epoch u32 || first's index u32 || second's index u32)
 *     bytes  0..32  key for datagrams first -> second
 *     bytes 32..64  key for datagrams second -> first
 *
 * Seal and open are AES-256-GCM, nonce = 0^32 || counter (u64 BE), associated data = the
 * 13-byte header. Opening never throws: a forgery gives null. They run in the addon when
 * it has them (native/dgram.c: one reused OpenSSL context, ~0.5 us per 1,400-byte packet),
 * else with node:crypto (a new cipher object per packet, ~5 us): the bytes are the same.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { loadDatagramNative, type DatagramNative } from '../native/udp.js';
import { DATAGRAM_HEADER_SIZE, DATAGRAM_TAG_SIZE, writeDatagramHeader, type DatagramTypeValue } from '../wire/datagram.js';

/** The TLS exporter label of the datagram keys. */
export const DATAGRAM_EXPORTER_LABEL = 'EXPORTER-sentinel-vpn-datagram-v1';
/** Bytes of keying material taken from the exporter (two AES-256 keys). */
export const DATAGRAM_KEYING_BYTES = 64;
const KEY_SIZE = 32;
const NONCE_SIZE = 12;

/** Something that exports keying material from an authenticated TLS session. */
export type KeyingSource = (length: number, label: string, context: Buffer) => Buffer | null;

/** The two directions' keys for one session and epoch. */
export interface DatagramKeys {
  send: Buffer;
  receive: Buffer;
}

/** The exporter context: epoch || the first node's index || the second's. */
export function keyingContext(epoch: number, firstIndex: number, secondIndex: number): Buffer {
  const c = Buffer.alloc(12);
  c.writeUInt32BE(epoch >>> 0, 0);
  c.writeUInt32BE(firstIndex >>> 0, 4);
  c.writeUInt32BE(secondIndex >>> 0, 8);
  return c;
}

/** Whether `self` is the first of the two nodes in the keying order (its id sorts first). */
export const isFirstNode = (self: string, peer: string): boolean => self < peer;

/**
 * Our send and receive keys: `weAreFirst` from {@link isFirstNode}. Null when the source
 * gives nothing (not a TLS session).
 */
export function deriveKeys(source: KeyingSource, weAreFirst: boolean, epoch: number, ourIndex: number, theirIndex: number): DatagramKeys | null {
  const ctx = weAreFirst ? keyingContext(epoch, ourIndex, theirIndex) : keyingContext(epoch, theirIndex, ourIndex);
  const m = source(DATAGRAM_KEYING_BYTES, DATAGRAM_EXPORTER_LABEL, ctx);
  if (!m || m.length !== DATAGRAM_KEYING_BYTES) return null;
  const toSecond = Buffer.from(m.subarray(0, KEY_SIZE));
  const toFirst = Buffer.from(m.subarray(KEY_SIZE));
  return weAreFirst ? { send: toSecond, receive: toFirst } : { send: toFirst, receive: toSecond };
}

function nonceOf(datagram: Buffer): Buffer {
  const n = Buffer.alloc(NONCE_SIZE);
  datagram.copy(n, 4, 5, DATAGRAM_HEADER_SIZE);
  return n;
}

let native: DatagramNative | null | undefined;
function aead(): DatagramNative | null {
  if (native === undefined) native = process.env['SENTINEL_VPN_DGRAM_NATIVE'] === '0' ? null : loadDatagramNative();
  return native;
}

/** Which implementation seals and opens ('native' when the addon has dgramSeal / dgramOpen). */
export function datagramCryptoBackend(): 'native' | 'node' {
  return aead() ? 'native' : 'node';
}

/** One datagram: header, ciphertext of `plaintext`, tag (one allocation of the whole). */
export function sealDatagram(key: Buffer, type: DatagramTypeValue, index: number, counter: number, plaintext: Uint8Array): Buffer {
  const n = aead();
  if (!n) return sealDatagramNode(key, type, index, counter, plaintext);
  const out = Buffer.allocUnsafe(DATAGRAM_HEADER_SIZE + plaintext.length + DATAGRAM_TAG_SIZE);
  writeDatagramHeader(out, type, index, counter);
  out.set(plaintext, DATAGRAM_HEADER_SIZE);
  n.dgramSeal(key, out);
  return out;
}

/** The plaintext of a datagram whose header was already read, or null if it does not authenticate. */
export function openDatagram(key: Buffer, datagram: Buffer): Buffer | null {
  const n = aead();
  return n ? n.dgramOpen(key, datagram) : openDatagramNode(key, datagram);
}

/** {@link sealDatagram} with node:crypto (the fallback; tests compare the two). */
export function sealDatagramNode(key: Buffer, type: DatagramTypeValue, index: number, counter: number, plaintext: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(DATAGRAM_HEADER_SIZE + plaintext.length + DATAGRAM_TAG_SIZE);
  writeDatagramHeader(out, type, index, counter);
  const c = createCipheriv('aes-256-gcm', key, nonceOf(out));
  c.setAAD(out.subarray(0, DATAGRAM_HEADER_SIZE));
  const n = c.update(plaintext).copy(out, DATAGRAM_HEADER_SIZE);
  c.final();
  c.getAuthTag().copy(out, DATAGRAM_HEADER_SIZE + n);
  return out;
}

/** {@link openDatagram} with node:crypto. */
export function openDatagramNode(key: Buffer, datagram: Buffer): Buffer | null {
  if (datagram.length < DATAGRAM_HEADER_SIZE + DATAGRAM_TAG_SIZE) return null;
  const end = datagram.length - DATAGRAM_TAG_SIZE;
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonceOf(datagram));
    d.setAAD(datagram.subarray(0, DATAGRAM_HEADER_SIZE));
    d.setAuthTag(datagram.subarray(end));
    const plain = d.update(datagram.subarray(DATAGRAM_HEADER_SIZE, end));
    d.final();
    return plain;
  } catch {
    return null;
  }
}
