/**
 * Strict UTF-8 for wire strings.
 *
 * Decoding is fatal (invalid sequences, overlongs, encoded surrogates all throw) and keeps
 * a leading U+FEFF, so that decode(encode(s)) === s for every well-formed string.
 * Encoding refuses strings with lone surrogates, which `Buffer.from` would silently
 * replace with U+FFFD and so break that identity.
 */
import { SentinelError } from '../errors.js';

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// A high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Decodes `bytes` as UTF-8, throwing E_PAYLOAD_MALFORMED (naming `field`) if invalid. */
export function decodeUtf8(bytes: Uint8Array, field: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (err) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `${field} is not valid UTF-8`, { cause: err });
  }
}

/**
 * UTF-8 byte length of `text`, computed without allocating. Throws E_PAYLOAD_MALFORMED
 * when `text` is not a well-formed string (contains a lone surrogate).
 */
export function utf8Length(text: string, field: string): number {
  if (typeof text !== 'string' || LONE_SURROGATE.test(text)) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `${field} is not a well-formed string`);
  }
  return Buffer.byteLength(text, 'utf8');
}
