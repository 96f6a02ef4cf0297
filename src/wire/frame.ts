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
 * Payloads up to this size get their buffer when the header arrives; larger ones are
 * collected as their bytes arrive and joined at the end, so a header announcing 1 MiB
 * reserves nothing until the bytes are really sent.
 */
export const EAGER_PAYLOAD_BYTES = 64 * 1024;
const VERSION_OFFSET = 4;
const TYPE_OFFSET = 5;

/** One decoded frame. `payload` is owned by the receiver (never aliases pushed chunks). */
export interface Frame {
  version: number;
  type: number;
  payload: Buffer;
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

function writeHeader(buf: Buffer, type: number, length: number): void {
  buf.writeUInt32BE(length, 0);
  buf.writeUInt8(FRAME_VERSION, VERSION_OFFSET);
  buf.writeUInt8(type, TYPE_OFFSET);
}

/**
 * Incremental frame parser: bytes in, frames out, no I/O.
 *
 * Chunks may split frames anywhere and carry many frames. The header is copied into a fixed
 * 6-byte buffer; a payload of up to EAGER_PAYLOAD_BYTES into a buffer allocated once its
 * length passed the cap, a larger one piece by piece as it arrives (memory follows the
 * bytes received, not the length announced). The length is checked as soon as its 4 bytes are known and the
 * version as soon as its byte is known. After any violation the decoder is failed and
 * every later call rethrows the same error.
 */
export class FrameDecoder {
  private readonly maxPayload: number;
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  private payload: Buffer | null = null;
  /** Pieces of a large payload (see EAGER_PAYLOAD_BYTES), and its announced length. */
  private pieces: Buffer[] | null = null;
  private expected = 0;
  private payloadFill = 0;
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
   * Feeds `chunk` and returns every frame it completes, in order. `chunk` is not
   * retained. Throws E_FRAME_TOO_LARGE or E_FRAME_VERSION on a violation (and on every
   * call after); frames completed earlier in the same chunk are dropped with it, since
   * the session is closing anyway.
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.failure) throw this.failure;
    const frames: Frame[] = [];
    let offset = 0;
    try {
      while (offset < chunk.length) {
        offset = this.payload || this.pieces ? this.fillPayload(chunk, offset, frames) : this.fillHeader(chunk, offset, frames);
      }
    } catch (err) {
      this.failure = err instanceof SentinelError ? err : new SentinelError('E_FRAME_MALFORMED', undefined, { cause: err });
      throw this.failure;
    }
    return frames;
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

  private fillHeader(chunk: Uint8Array, offset: number, frames: Frame[]): number {
    const before = this.headerFill;
    const n = Math.min(HEADER_SIZE - before, chunk.length - offset);
    this.header.set(chunk.subarray(offset, offset + n), before);
    this.headerFill += n;
    if (before < LENGTH_SIZE && this.headerFill >= LENGTH_SIZE) this.checkLength();
    if (before <= VERSION_OFFSET && this.headerFill > VERSION_OFFSET) this.checkVersion();
    if (this.headerFill === HEADER_SIZE) this.startPayload(frames);
    return offset + n;
  }

  private checkLength(): void {
    const length = this.header.readUInt32BE(0);
    if (length > this.maxPayload) {
      throw new SentinelError('E_FRAME_TOO_LARGE', `length ${length} exceeds ${this.maxPayload}`);
    }
  }

  private checkVersion(): void {
    const version = this.header.readUInt8(VERSION_OFFSET);
    if (version !== FRAME_VERSION) {
      throw new SentinelError('E_FRAME_VERSION', `version ${version}, expected ${FRAME_VERSION}`);
    }
  }

  private startPayload(frames: Frame[]): void {
    // Length was validated against the cap by checkLength before we get here.
    this.expected = this.header.readUInt32BE(0);
    this.payloadFill = 0;
    // Unsafe (uninitialised) is fine: the frame is emitted only once every byte is filled.
    if (this.expected <= EAGER_PAYLOAD_BYTES) this.payload = Buffer.allocUnsafe(this.expected);
    else this.pieces = [];
    if (this.expected === 0) this.finishFrame(frames);
  }

  private fillPayload(chunk: Uint8Array, offset: number, frames: Frame[]): number {
    const n = Math.min(this.expected - this.payloadFill, chunk.length - offset);
    if (this.payload) this.payload.set(chunk.subarray(offset, offset + n), this.payloadFill);
    else this.pieces?.push(Buffer.from(chunk.subarray(offset, offset + n)));
    this.payloadFill += n;
    if (this.payloadFill === this.expected) this.finishFrame(frames);
    return offset + n;
  }

  private finishFrame(frames: Frame[]): void {
    const payload = this.payload ?? Buffer.concat(this.pieces ?? [], this.expected);
    frames.push({
      version: this.header.readUInt8(VERSION_OFFSET),
      type: this.header.readUInt8(TYPE_OFFSET),
      payload,
    });
    this.payload = null;
    this.pieces = null;
    this.payloadFill = 0;
    this.headerFill = 0;
  }
}
