/**
 * The pure core of the lab's delay line (docs/NAT-LAB.md, "Delay line"): one direction of a
 * link as a FIFO that holds every packet for a fixed time, bounded in bytes. No I/O and no
 * timers here: the caller passes the clock (milliseconds, e.g. `performance.now()`), asks
 * {@link DelayQueue.due} for the packets whose time has come, and arms its own timer for
 * {@link DelayQueue.nextDueAt}.
 *
 * A constant delay keeps packets in arrival order, so a FIFO is an exact timing wheel for
 * one direction: the head is always the next packet due. Nothing is released before its
 * time (`due(now)` returns only packets with `arrival + delay <= now`), so a lower bound on
 * the delay holds whatever the timer resolution.
 */

/** What one direction of the delay line did so far. */
export interface DelayQueueStats {
  /** Packets offered to the queue. */
  packets: number;
  bytes: number;
  /** Packets released (handed back for writing). */
  released: number;
  /** Packets refused because the queue held {@link DelayQueueOptions.limitBytes} already. */
  dropped: number;
  droppedBytes: number;
  /** Packets and bytes held right now. */
  queued: number;
  queuedBytes: number;
  /** Most bytes held at once. */
  maxQueuedBytes: number;
}

/** Options of {@link DelayQueue}. */
export interface DelayQueueOptions {
  /** How long each packet is held, in ms (0: released at the next `due`). */
  delayMs: number;
  /** Most bytes held at once; a packet that would exceed it is dropped and counted. */
  limitBytes: number;
}

/** Compact the backing arrays once this many released slots sit before the head. */
const COMPACT_AT = 4096;

/** One direction of a delay line: a byte-bounded FIFO of packets, each due `delayMs` after it arrived. */
export class DelayQueue<P extends { readonly length: number } = Uint8Array> {
  private packets: P[] = [];
  private dueAt: number[] = [];
  private head = 0;
  private readonly st: DelayQueueStats = { packets: 0, bytes: 0, released: 0, dropped: 0, droppedBytes: 0, queued: 0, queuedBytes: 0, maxQueuedBytes: 0 };

  constructor(readonly opts: DelayQueueOptions) {
    if (!(opts.delayMs >= 0) || !Number.isFinite(opts.delayMs)) throw new RangeError(`delayMs must be a finite number >= 0, got ${opts.delayMs}`);
    if (!Number.isInteger(opts.limitBytes) || opts.limitBytes < 1) throw new RangeError(`limitBytes must be a positive integer, got ${opts.limitBytes}`);
  }

  /** Queues `packet`, which arrived at `now`; false (and counted) if the byte bound refuses it. */
  push(packet: P, now: number): boolean {
    this.st.packets++;
    this.st.bytes += packet.length;
    if (this.st.queuedBytes + packet.length > this.opts.limitBytes) {
      this.st.dropped++;
      this.st.droppedBytes += packet.length;
      return false;
    }
    this.packets.push(packet);
    this.dueAt.push(now + this.opts.delayMs);
    this.st.queued++;
    this.st.queuedBytes += packet.length;
    if (this.st.queuedBytes > this.st.maxQueuedBytes) this.st.maxQueuedBytes = this.st.queuedBytes;
    return true;
  }

  /** Removes and returns, oldest first, every packet due at or before `now`. */
  due(now: number): P[] {
    const out: P[] = [];
    while (this.head < this.packets.length && (this.dueAt[this.head] as number) <= now) {
      const p = this.packets[this.head] as P;
      // Drop the reference so a released packet can be collected before the next compaction.
      (this.packets as Array<P | undefined>)[this.head] = undefined;
      this.head++;
      this.st.queued--;
      this.st.queuedBytes -= p.length;
      out.push(p);
    }
    this.st.released += out.length;
    if (this.head >= COMPACT_AT || this.head === this.packets.length) this.compact();
    return out;
  }

  /** When the oldest held packet is due (ms, on the caller's clock); null when empty. */
  nextDueAt(): number | null {
    return this.head < this.packets.length ? (this.dueAt[this.head] as number) : null;
  }

  /** A copy of the counters. */
  stats(): DelayQueueStats {
    return { ...this.st };
  }

  private compact(): void {
    this.packets = this.packets.slice(this.head);
    this.dueAt = this.dueAt.slice(this.head);
    this.head = 0;
  }
}
