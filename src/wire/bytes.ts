/**
 * Bounds-checked cursors used by every payload codec.
 *
 * {@link PayloadReader} never reads past the end and reports a truncated payload as
 * E_PAYLOAD_MALFORMED; {@link PayloadReader.end} rejects trailing bytes. Byte fields are
 * returned as fresh copies so decoded objects never alias the frame buffer.
 * {@link PayloadWriter} fills a buffer of a size computed (and capped) up front.
 */
import { SentinelError } from '../errors.js';
import { allocFramePayload } from './frame.js';
import { decodeUtf8 } from './utf8.js';

/** Largest value of a u64, the range of {@link PayloadReader.u64}. */
export const U64_MAX = (1n << 64n) - 1n;

/** Sequential big-endian reader over one payload; `what` names the message in errors. */
export class PayloadReader {
  private readonly buf: Buffer;
  private offset = 0;

  constructor(bytes: Uint8Array, private readonly what: string) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.buf.length - this.offset;
  }

  u8(): number {
    return this.buf.readUInt8(this.take(1));
  }

  u16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  u64(): bigint {
    return this.buf.readBigUInt64BE(this.take(8));
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    const start = this.take(n);
    return new Uint8Array(this.buf.subarray(start, start + n));
  }

  /** The next `n` bytes without a copy: a view of the input, for bulk data the caller owns with it. */
  view(n: number): Buffer {
    const start = this.take(n);
    return this.buf.subarray(start, start + n);
  }

  /** The next `n` bytes decoded as strict UTF-8. */
  utf8(n: number, field: string): string {
    const start = this.take(n);
    return decodeUtf8(this.buf.subarray(start, start + n), `${this.what} ${field}`);
  }

  /** Throws E_PAYLOAD_MALFORMED unless the payload has been consumed exactly. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing byte(s)`);
  }

  /** Throws E_PAYLOAD_MALFORMED with `detail` prefixed by the message name. */
  fail(detail: string): never {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `${this.what}: ${detail}`);
  }

  private take(n: number): number {
    if (n > this.remaining) this.fail(`truncated (need ${n} byte(s), have ${this.remaining})`);
    const start = this.offset;
    this.offset += n;
    return start;
  }
}

/**
 * Sequential big-endian writer into a buffer of exactly `size` bytes. With `frameType`,
 * the buffer comes from allocFramePayload (frame.ts): the frame header sits in front of it
 * and a session sends both as one write.
 */
export class PayloadWriter {
  private readonly buf: Buffer;
  private offset = 0;

  constructor(size: number, frameType?: number) {
    this.buf = frameType === undefined ? Buffer.alloc(size) : allocFramePayload(frameType, size);
  }

  u8(v: number): this {
    this.offset = this.buf.writeUInt8(v, this.offset);
    return this;
  }

  u16(v: number): this {
    this.offset = this.buf.writeUInt16BE(v, this.offset);
    return this;
  }

  u32(v: number): this {
    this.offset = this.buf.writeUInt32BE(v, this.offset);
    return this;
  }

  u64(v: bigint): this {
    this.offset = this.buf.writeBigUInt64BE(v, this.offset);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** Writes `text` as UTF-8; the caller has already measured and capped its length. */
  utf8(text: string): this {
    this.offset += this.buf.write(text, this.offset, 'utf8');
    return this;
  }

  /** The filled buffer; asserts (as a bug check) that it was filled exactly. */
  done(): Buffer {
    if (this.offset !== this.buf.length) {
      throw new Error(`PayloadWriter: wrote ${this.offset} of ${this.buf.length} bytes`);
    }
    return this.buf;
  }
}

/**
 * Encoder-side argument checks. Local misuse is reported as E_PAYLOAD_MALFORMED
 * (with an "encode" detail) so that callers branch on one code.
 */
export function requireUint(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: ${field} must be an integer in 0..${max}`);
  }
}

/** Checks that `bytes` is a Uint8Array of exactly `length` bytes (encoder side). */
export function requireBytes(bytes: Uint8Array, length: number, field: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: ${field} must be ${length} bytes`);
  }
}
