/**
 * The VPN's send queue for one peer session: urgent frames (small packets: pings, TCP
 * ACKs, DNS) overtake bulk ones (TCP super-segments), and only a little is handed to the
 * session's socket at a time.
 *
 * Why: a frame written to the socket waits behind everything written before it, in the
 * TLS socket's buffer and then in the kernel. Fighter sockets keep at most 128 KiB unsent
 * in the kernel (TCP_NOTSENT_LOWAT, native/sentinel_native.h), and this queue keeps at
 * most {@link VPN_FEED_BYTES} in the socket's own buffer, so the backlog of a bulk
 * transfer waits here, where a ping can still go first, instead of ahead of it.
 *
 * Urgent frames go to the socket at once (behind at most about VPN_FEED_BYTES there);
 * bulk frames wait here until the socket's buffer drains.
 *
 * Bound (per peer): a frame is refused ('congested') once the queue and the socket hold
 * more than {@link VPN_QUEUE_LIMIT_BYTES}, as a congested link would drop it (TCP in the
 * tunnel then slows down). A refused frame is counted by the caller, never queued.
 */

/** The session as the queue needs it. */
export interface QueueChannel {
  /** Bytes queued on the session's socket, not yet taken by the kernel. */
  readonly writableLength: number;
  send(type: number, payload: Uint8Array): boolean;
  /** Call `cb` once, the next time the socket's buffer drains. Without it frames go straight to send. */
  onDrain?(cb: () => void): void;
}

/** Packets for a peer are dropped once this much waits for its session (queue + socket). */
export const VPN_QUEUE_LIMIT_BYTES = 512 * 1024;
/**
 * The queue feeds the socket while its own buffer holds less than this. It is at least a
 * Node socket's write high-water mark (16 KiB on Node 20, 64 KiB on 22), so when the queue
 * stops feeding, the socket's last write returned false and a 'drain' will come.
 */
export const VPN_FEED_BYTES = 64 * 1024;

interface Frame {
  type: number;
  payload: Uint8Array;
}

/** A FIFO of frames with O(1) push and shift (the head index moves; compacted when drained). */
class FrameFifo {
  private items: Frame[] = [];
  private head = 0;
  bytes = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(f: Frame): void {
    this.items.push(f);
    this.bytes += f.payload.length;
  }

  shift(): Frame | undefined {
    if (this.head === this.items.length) return undefined;
    const f = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as Frame;
    this.bytes -= f.payload.length;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return f;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
  }
}

export type QueueVerdict = 'sent' | 'queued' | 'congested' | 'closed';

export class VpnSendQueue {
  private readonly bulk = new FrameFifo();
  private waiting = false;

  /** `channel()` is looked up at every feed: the session may have ended meanwhile. */
  constructor(private readonly channel: () => QueueChannel | undefined) {}

  /** Frames waiting here (not yet on the socket). */
  get queuedBytes(): number {
    return this.bulk.bytes;
  }

  push(type: number, payload: Uint8Array, urgent: boolean): QueueVerdict {
    const ch = this.channel();
    if (!ch) {
      this.clear();
      return 'closed';
    }
    if (ch.writableLength + this.bulk.bytes + payload.length > VPN_QUEUE_LIMIT_BYTES) return 'congested';
    if (urgent || !ch.onDrain) return ch.send(type, payload) ? 'sent' : 'closed';
    this.bulk.push({ type, payload });
    return this.feed(ch) ? 'sent' : 'queued';
  }

  /** Drops everything waiting (the session ended). */
  clear(): void {
    this.bulk.clear();
  }

  /** Hands frames to the socket while it has room; true when nothing is left waiting. */
  private feed(ch: QueueChannel): boolean {
    while (ch.writableLength < VPN_FEED_BYTES) {
      const f = this.bulk.shift();
      if (!f) return true;
      if (!ch.send(f.type, f.payload)) {
        this.clear();
        return true;
      }
    }
    if (this.bulk.size === 0) return true;
    if (!this.waiting) {
      // The socket holds at least VPN_FEED_BYTES, more than its high-water mark, so its last
      // write returned false and a 'drain' will follow.
      this.waiting = true;
      ch.onDrain!(() => {
        this.waiting = false;
        const now = this.channel();
        if (now) this.feed(now);
        else this.clear();
      });
    }
    return false;
  }
}
