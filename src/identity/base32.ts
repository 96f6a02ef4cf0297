/**
 * RFC 4648 base32, lowercase alphabet, no padding. Used for node ids because it is
 * case-insensitive to read aloud, has no look-alike punctuation, and double-click
 * selects the whole id in terminals.
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const LOOKUP = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

/** Encode bytes as lowercase unpadded base32. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** Decode lowercase unpadded base32; returns undefined on any invalid character or non-zero trailing bits. */
export function base32Decode(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let i = 0;
  for (const c of text) {
    const v = LOOKUP.get(c);
    if (v === undefined) return undefined;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[i++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) return undefined; // non-canonical trailing bits
  return out;
}
