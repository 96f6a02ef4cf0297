/**
 * Frame header and incremental frame decoder. All integers are big-endian.
 *
 *    0        4        5        6
 *    +--------+--------+--------+------------------------+
 *    | length | version|  type  | payload (length bytes) |
 *    |  u32   |   u8   |   u8   |                        |
 *    +--------+--------+--------+------------------------+
 *
 * `length` counts the payload only (not the 6 header bytes) and is at most
 * MAX_PAYLOAD_SIZE (1 MiB). `version` is FRAME_VERSION (1). `type`: see types.ts.
 */
import { SentinelError } from '../errors.js';

/** The only frame version this implementation speaks. */
export const FRAME_VERSION = 1;
/** Bytes in a frame header. */
export const HEADER_SIZE = 6;
/** Largest payload any frame may carry (1 MiB). */
export const MAX_PAYLOAD_SIZE = 1_048_576;

const LENGTH_SIZE = 4;
/**
 * A payload piece shorter than this that does not complete a frame on its own is copied
 * into a buffer the decoder allocates for that frame, instead of being kept as a view of
 * its chunk: a peer that sends a frame in tiny pieces (1-byte TLS records) cannot make us
 * hold one Buffer object per byte. TLS delivers up to 16 KiB per chunk, so bulk payloads
 * stay views.
 */
export const SMALL_PIECE_BYTES = 1024;
/** Capacity of one decoder-allocated buffer for small pieces (at most the bytes still due). */
const SMALL_BUFFER_BYTES = 16 * 1024;
const VERSION_OFFSET = 4;
const TYPE_OFFSET = 5;

/**
 * One decoded frame. `payload` may be a view of a pushed chunk (no copy); the decoder never
 * writes into memory under a payload it delivered, but the caller must not overwrite a chunk
 * it pushed either. A small payload shares (and keeps alive) the chunk it came in.
 */
export interface Frame {
  version: number;
  type: number;
  payload: Buffer;
}

/**
 * A payload as it lies in the pushed chunks: one Buffer (a view of one chunk, or a buffer
 * the decoder filled), or several in order when it spanned chunks. See {@link joinPayload}.
 */
export type PayloadParts = Buffer | readonly Buffer[];

/** Called by {@link FrameDecoder.decode} for each frame, in order. */
export type FrameCallback = (type: number, parts: PayloadParts, length: number) => void;

/** One contiguous Buffer for `parts` (`length` bytes in all): no copy when it is already one. */
export function joinPayload(parts: PayloadParts, length: number): Buffer {
  if (Buffer.isBuffer(parts)) return parts;
  const list = parts as readonly Buffer[];
  return list.length === 1 ? (list[0] as Buffer) : Buffer.concat(list, length);
}

/** Options for {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Payload cap for this decoder, at most (and by default) MAX_PAYLOAD_SIZE. */
  maxPayload?: number;
}

/**
 * Builds a frame: header followed by `payload`.
 * Throws E_FRAME_TOO_LARGE if the payload exceeds MAX_PAYLOAD_SIZE and
 * E_FRAME_MALFORMED if `type` is not an integer in 0..255.
 */
export function encodeFrame(type: number, payload: Uint8Array): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new SentinelError('E_FRAME_MALFORMED', `frame type ${type} is not in 0..255`);
  }
  if (payload.length > MAX_PAYLOAD_SIZE) {
    throw new SentinelError('E_FRAME_TOO_LARGE', `payload of ${payload.length} bytes`);
  }
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  writeHeader(frame, type, payload.length);
  frame.set(payload, HEADER_SIZE);
  return frame;
}

/**
 * Just the 6-byte header for a payload of `length` bytes, for writers that send the
 * payload as a separate buffer (no copy). Same checks as {@link encodeFrame}.
 */
export function encodeFrameHeader(type: number, length: number): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new SentinelError('E_FRAME_MALFORMED', `frame type ${type} is not in 0..255`);
  }
  if (!Number.isInteger(length) || length < 0 || length > MAX_PAYLOAD_SIZE) {
    throw new SentinelError('E_FRAME_TOO_LARGE', `payload of ${length} bytes`);
  }
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(header, type, length);
  return header;
}

/** Payloads made by allocFramePayload -> the whole frame they are the tail of. */
const prebuilt = new WeakMap<Uint8Array, Buffer>();

/**
 * A payload buffer of `length` bytes (contents uninitialized: the caller fills all of it)
 * that already has its frame header in front of it, in the same memory. A sender given
 * it back ({@link prebuiltFrame}) writes header and payload as ONE buffer: node:tls copies
 * the buffers of a multi-buffer write into one before encrypting, so a header written
 * apart costs a copy of the whole payload. Same checks as {@link encodeFrameHeader}.
 */
export function allocFramePayload(type: number, length: number): Buffer {
  const header = encodeFrameHeader(type, length);
  const frame = Buffer.allocUnsafe(HEADER_SIZE + length);
  frame.set(header, 0);
  const payload = frame.subarray(HEADER_SIZE);
  prebuilt.set(payload, frame);
  return payload;
}

/** The whole frame of a payload from {@link allocFramePayload} sent as `type`, else undefined. */
export function prebuiltFrame(type: number, payload: Uint8Array): Buffer | undefined {
  const frame = prebuilt.get(payload);
  return frame !== undefined && frame[TYPE_OFFSET] === type && frame.length === HEADER_SIZE + payload.length ? frame : undefined;
}

function writeHeader(buf: Buffer, type: number, length: number): void {
  buf.writeUInt32BE(length, 0);
  buf.writeUInt8(FRAME_VERSION, VERSION_OFFSET);
  buf.writeUInt8(type, TYPE_OFFSET);
}

/** A view of `chunk[from, to)` as a Buffer, sharing its memory. */
function view(chunk: Uint8Array, from: number, to: number): Buffer {
  return Buffer.isBuffer(chunk) ? chunk.subarray(from, to) : Buffer.from(chunk.buffer, chunk.byteOffset + from, to - from);
}

/**
 * Incremental frame parser: bytes in, frames out, no I/O.
 *
 * Chunks may split frames anywhere and carry many frames. The header is copied into a fixed
 * 6-byte buffer; the length is checked as soon as its 4 bytes are known and the version as
 * soon as its byte is known. A payload is not copied: a frame within one chunk is delivered
 * as a view of it, one spanning chunks as the list of its pieces (views of each chunk; only
 * small pieces, see SMALL_PIECE_BYTES, are copied together). Memory follows the bytes
 * received, never the length announced. After any violation the decoder is failed and every
 * later call rethrows the same error.
 */
export class FrameDecoder {
  private readonly maxPayload: number;
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  /** Type and announced payload length of the frame in progress (valid once its header is complete). */
  private type = 0;
  private expected = 0;
  private payloadFill = 0;
  /** Pieces of the payload in progress (views, or buffers this decoder filled). */
  private parts: Buffer[] = [];
  /** The last part when it is a buffer this decoder allocated for small pieces and still has room. */
  private small: Buffer | null = null;
  private smallFill = 0;
  private failure: SentinelError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxPayload ?? MAX_PAYLOAD_SIZE;
    if (!Number.isInteger(max) || max < 0 || max > MAX_PAYLOAD_SIZE) {
      throw new RangeError(`maxPayload must be an integer in 0..${MAX_PAYLOAD_SIZE}`);
    }
    this.maxPayload = max;
  }

  /** Bytes held for the frame currently being assembled. */
  get bufferedBytes(): number {
    return this.headerFill + this.payloadFill;
  }

  /**
   * Feeds `chunk` and returns every frame it completes, in order, each with one contiguous
   * payload (joined when it spanned chunks). Throws E_FRAME_TOO_LARGE or E_FRAME_VERSION on
   * a violation (and on every call after); frames completed earlier in the same chunk are
   * dropped with it, since the session is closing anyway.
   */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    this.decode(chunk, (type, parts, length) => frames.push({ version: FRAME_VERSION, type, payload: joinPayload(parts, length) }));
    return frames;
  }

  /**
   * Feeds `chunk` and calls `onFrame` for every frame it completes, in order, with the
   * payload's parts (no copy). Frames before a violation in the same chunk are delivered,
   * then the error is thrown (E_FRAME_TOO_LARGE or E_FRAME_VERSION; on every call after as
   * well). An error thrown by `onFrame` propagates and leaves the decoder failed too.
   */
  decode(chunk: Uint8Array, onFrame: FrameCallback): void {
    if (this.failure) throw this.failure;
    const end = chunk.length;
    let offset = 0;
    try {
      while (offset < end) {
        if (this.headerFill === HEADER_SIZE) {
          offset = this.fillPayload(chunk, offset, onFrame);
        } else if (this.headerFill === 0 && end - offset >= HEADER_SIZE) {
          // Fast path: a whole header (and often the whole frame) in this chunk.
          offset = this.wholeHeader(chunk, offset, onFrame);
        } else {
          offset = this.fillHeader(chunk, offset, onFrame);
        }
      }
    } catch (err) {
      // A throw from `onFrame` is rethrown as it is; the decoder is failed either way (the
      // rest of the chunk was not consumed).
      this.failure = err instanceof SentinelError ? err : new SentinelError('E_FRAME_MALFORMED', undefined, { cause: err });
      throw err;
    }
  }

  /**
   * Declares the end of the stream. Throws E_FRAME_MALFORMED if it ended inside a
   * frame (or rethrows an earlier failure).
   */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.bufferedBytes > 0) {
      this.failure = new SentinelError('E_FRAME_MALFORMED', `stream ended inside a frame (${this.bufferedBytes} bytes buffered)`);
      throw this.failure;
    }
  }

  private wholeHeader(chunk: Uint8Array, offset: number, onFrame: FrameCallback): number {
    const length = ((chunk[offset] as number) * 0x1000000 + ((chunk[offset + 1] as number) << 16)) + ((chunk[offset + 2] as number) << 8) + (chunk[offset + 3] as number);
    this.checkLength(length);
    this.checkVersion(chunk[offset + VERSION_OFFSET] as number);
    const type = chunk[offset + TYPE_OFFSET] as number;
    const start = offset + HEADER_SIZE;
    if (chunk.length - start >= length) {
      onFrame(type, view(chunk, start, start + length), length);
      return start + length;
    }
    this.header.set(chunk.subarray(offset, start));
    this.headerFill = HEADER_SIZE;
    this.type = type;
    this.expected = length;
    return start;
  }

  private fillHeader(chunk: Uint8Array, offset: number, onFrame: FrameCallback): number {
    const before = this.headerFill;
    const n = Math.min(HEADER_SIZE - before, chunk.length - offset);
    this.header.set(chunk.subarray(offset, offset + n), before);
    this.headerFill += n;
    if (before < LENGTH_SIZE && this.headerFill >= LENGTH_SIZE) this.checkLength(this.header.readUInt32BE(0));
    if (before <= VERSION_OFFSET && this.headerFill > VERSION_OFFSET) this.checkVersion(this.header.readUInt8(VERSION_OFFSET));
    if (this.headerFill === HEADER_SIZE) {
      // Length was validated against the cap by checkLength before we get here.
      this.expected = this.header.readUInt32BE(0);
      this.type = this.header.readUInt8(TYPE_OFFSET);
      if (this.expected === 0) this.finishFrame(Buffer.alloc(0), onFrame);
    }
    return offset + n;
  }

  private checkLength(length: number): void {
    if (length > this.maxPayload) {
      throw new SentinelError('E_FRAME_TOO_LARGE', `length ${length} exceeds ${this.maxPayload}`);
    }
  }

  private checkVersion(version: number): void {
    if (version !== FRAME_VERSION) {
      throw new SentinelError('E_FRAME_VERSION', `version ${version}, expected ${FRAME_VERSION}`);
    }
  }

  private fillPayload(chunk: Uint8Array, offset: number, onFrame: FrameCallback): number {
    const n = Math.min(this.expected - this.payloadFill, chunk.length - offset);
    const done = this.payloadFill + n === this.expected;
    if (done && this.parts.length === 0) {
      // The whole payload in this chunk (its header came in an earlier one).
      this.finishFrame(view(chunk, offset, offset + n), onFrame);
      return offset + n;
    }
    this.addPiece(chunk, offset, n);
    this.payloadFill += n;
    if (done) this.finishFrame(this.parts.length === 1 ? (this.parts[0] as Buffer) : this.parts, onFrame);
    return offset + n;
  }

  /** Keeps `chunk[offset, offset+n)` for the payload in progress: a view, or copied with other small pieces. */
  private addPiece(chunk: Uint8Array, offset: number, n: number): void {
    let from = offset;
    let left = n;
    if (this.small !== null) {
      // An open small-piece buffer takes whatever fits (so it is full before another part starts).
      const k = Math.min(left, this.small.length - this.smallFill);
      this.small.set(chunk.subarray(from, from + k), this.smallFill);
      this.smallFill += k;
      from += k;
      left -= k;
      if (this.smallFill === this.small.length) this.small = null;
    }
    if (left === 0) return;
    if (left >= SMALL_PIECE_BYTES) {
      this.parts.push(view(chunk, from, from + left));
      return;
    }
    // Unsafe (uninitialised) is fine: the buffer is sized to bytes that will all arrive before the frame is delivered.
    const due = this.expected - this.payloadFill - (n - left);
    const small = Buffer.allocUnsafe(Math.min(SMALL_BUFFER_BYTES, due));
    small.set(chunk.subarray(from, from + left), 0);
    this.parts.push(small);
    this.small = left === small.length ? null : small;
    this.smallFill = left;
  }

  private finishFrame(parts: PayloadParts, onFrame: FrameCallback): void {
    const { type, expected } = this;
    // A fresh list per frame: the delivered one is the caller's (never reused under it).
    if (this.parts.length > 0) this.parts = [];
    this.small = null;
    this.smallFill = 0;
    this.payloadFill = 0;
    this.headerFill = 0;
    onFrame(type, parts, expected);
  }
}
