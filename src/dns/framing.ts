/**
 * DNS over TCP framing (RFC 1035 section 4.2.2, RFC 7766): every message is preceded by
 * its length.
 *
 *   +--------+--------+----------------------------+
 *   | length (u16 BE) | message (length bytes)     |
 *   +--------+--------+----------------------------+
 *
 * Pure: bytes in, whole messages out. A length over the cap is refused before anything
 * is buffered for it, so a peer cannot make us hold more than cap + 1 bytes.
 */
import { SentinelError } from '../errors.js';

const LENGTH_BYTES = 2;

/** Splits a TCP byte stream into DNS messages of at most `maxMessageBytes`. */
export class TcpDnsFramer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes: number) {}

  /** Takes the next chunk; returns the messages it completes. E_PAYLOAD_MALFORMED on a message over the cap. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      if (this.pending.length < LENGTH_BYTES) break;
      const len = this.pending.readUInt16BE(0);
      if (len > this.maxMessageBytes) throw new SentinelError('E_PAYLOAD_MALFORMED', `DNS message of ${len} bytes, at most ${this.maxMessageBytes}`);
      if (this.pending.length < LENGTH_BYTES + len) break;
      out.push(Buffer.from(this.pending.subarray(LENGTH_BYTES, LENGTH_BYTES + len)));
      this.pending = this.pending.subarray(LENGTH_BYTES + len);
    }
    return out;
  }

  /** Bytes held for an incomplete message. */
  get buffered(): number {
    return this.pending.length;
  }
}

/** `message` with its length in front, for TCP. */
export function frameTcp(message: Buffer): Buffer {
  const len = Buffer.alloc(LENGTH_BYTES);
  len.writeUInt16BE(message.length);
  return Buffer.concat([len, message]);
}
