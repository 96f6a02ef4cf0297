/**
 * Valid sample messages the fuzz targets start from (the seed corpus). Starting from valid
 * encodings lets the engines reach the deep paths (a field after the first length check,
 * a round trip) instead of spending their budget on bytes that fail the first check.
 * Keys are fixed, so seeds are the same on every run (certificates aside: their serial is random).
 */
import { createPrivateKey } from 'node:crypto';
import { identityFromPrivateKey, type Identity } from '../../src/identity/index.js';
import type { Endpoint } from '../../src/wire/index.js';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An identity from a fixed 32-byte seed filled with `fill`. */
export function fixedIdentity(fill: number): Identity {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, fill)]);
  return identityFromPrivateKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

/** The identities the samples use: ALICE signs, BOB receives. */
export const ALICE = fixedIdentity(1);
export const BOB = fixedIdentity(2);

/** A fixed time (ms) the samples are issued at; record checks run at this time. */
export const SAMPLE_NOW = 1_780_000_000_000;

/** Bytes `0, 1, 2, ...` (mod 256) of length `n`, offset by `start`. */
export function counting(n: number, start = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
}

/** Endpoints of both families, including an IPv4-mapped IPv6 one and a zero port. */
export const ENDPOINTS: Endpoint[] = [
  { host: '192.0.2.10', port: 7000 },
  { host: '2001:db8::1', port: 443 },
  { host: '::ffff:198.51.100.7', port: 0 },
  { host: 'fd58:1b41:5e5c:0:dacf:a0c3:86a8:2302', port: 65535 },
];

/** Text samples: ASCII, multi-byte and astral code points, a leading BOM, the empty string. */
export const TEXTS = ['hello', 'grüße, 世界 🛰', '\uFEFFbom', ''];

/** A UDP/IPv4 packet and a UDP/IPv6 packet (valid headers; test/unit/vpn-ip.test.ts has their origin). */
export const V4_PACKET = Buffer.from('450000201234400040119d9e6455d9126477e91b9c400035000c000070696e67', 'hex');
export const V6_PACKET = Buffer.from(
  '60000000000c1140fd581b415e5c0000dacfa0c386a82302fd581b415e5c000042319c5538b5b0329c400035000c000070696e67',
  'hex',
);
