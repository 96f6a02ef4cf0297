/**
 * Pure newline splitter for the control protocol: bytes in, complete lines out. The
 * partial line it holds never grows past the cap, so a peer that sends an endless line
 * costs at most `maxLineBytes` of memory before it is told off.
 */

import { MAX_LINE_BYTES } from './protocol.js';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** What one `push` produced. */
export interface SplitResult {
  /** Complete lines, decoded as UTF-8, without the newline (a trailing `\r` is dropped). */
  lines: string[];
  /**
   * True when a line exceeded the cap. Lines before it are still returned; the splitter
   * is then spent and returns nothing more.
   */
  oversize: boolean;
}

/** Splits a byte stream into length-capped lines. */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private spent = false;

  constructor(opts: { maxLineBytes?: number } = {}) {
    this.maxLineBytes = opts.maxLineBytes ?? MAX_LINE_BYTES;
  }

  /** Feeds a chunk; returns the lines it completed. */
  push(chunk: Uint8Array): SplitResult {
    if (this.spent) return { lines: [], oversize: true };
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE, start); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      if (!this.accept(nl - start)) return this.overflow(lines);
      lines.push(this.take(chunk.subarray(start, nl)));
      start = nl + 1;
    }
    const tail = chunk.subarray(start);
    if (tail.length > 0) {
      if (!this.accept(tail.length)) return this.overflow(lines);
      // Copy: the caller may reuse its buffer.
      this.pending.push(Buffer.from(tail));
      this.pendingBytes += tail.length;
    }
    return { lines, oversize: false };
  }

  /** Bytes currently held for an unfinished line. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private accept(moreBytes: number): boolean {
    return this.pendingBytes + moreBytes <= this.maxLineBytes;
  }

  private take(last: Uint8Array): string {
    const bytes = this.pending.length === 0 ? Buffer.from(last) : Buffer.concat([...this.pending, last]);
    this.pending = [];
    this.pendingBytes = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
    return bytes.toString('utf8', 0, end);
  }

  private overflow(lines: string[]): SplitResult {
    this.spent = true;
    this.pending = [];
    this.pendingBytes = 0;
    return { lines, oversize: true };
  }
}
