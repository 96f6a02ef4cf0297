/**
 * The node's end of relayed circuits: a {@link CircuitStream} is a byte stream (a Duplex)
 * whose bytes travel as RELAY_DATA frames on this node's session with a relay, and a
 * {@link RelayLink} routes one relay session's RELAY_DATA / RELAY_CREDIT / RELAY_CLOSE
 * frames to its circuits. The end-to-end TLS session with the peer runs on the stream, so
 * the relay only ever carries ciphertext (docs/PROTOCOL.md "Relay").
 *
 * Flow control (end to end, the relay forwards credits unchanged): at most RELAY_WINDOW
 * bytes of our RELAY_DATA may be unacknowledged; a write past that waits for RELAY_CREDIT.
 * We return credit for what we received once it was handed to the reader, in batches of
 * CREDIT_BATCH, and hold it while the reader is not reading. Data past the window we
 * granted, or credit for more than we sent, is the other end's protocol error: the
 * circuit closes.
 */
import { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import {
  FrameType,
  RELAY_MAX_DATA,
  RELAY_WINDOW,
  RelayCloseCode,
  decodeRelayClose,
  decodeRelayCredit,
  decodeRelayData,
  encodeRelayClose,
  encodeRelayCredit,
  encodeRelayData,
} from '../wire/index.js';

/** Received bytes acknowledged with one RELAY_CREDIT (a quarter of the window). */
export const CREDIT_BATCH = RELAY_WINDOW / 4;

/** Where a circuit's frames go: this node's session with the relay. */
export interface RelaySender {
  send(type: number, payload: Buffer): void;
}

export interface CircuitOptions {
  circuit: number;
  /** The node at the other end (the TLS session on this stream must prove it). */
  peer: NodeId;
  /** The relay, as shown to users (`relay <id> at host:port`). */
  relay: string;
  link: RelaySender;
  /** Called once when the circuit is gone (either end closed it). */
  onGone?: (circuit: number) => void;
  /** Window in bytes (tests use small ones). */
  window?: number;
}

/** Code names for RELAY_CLOSE reasons in logs and errors. */
const CLOSE_NAMES = new Map<number, string>(Object.entries(RelayCloseCode).map(([k, v]) => [v, k]));
export const relayCloseName = (code: number): string => CLOSE_NAMES.get(code) ?? `code ${code}`;

export class CircuitStream extends Duplex {
  readonly circuit: number;
  readonly peer: NodeId;
  readonly relay: string;
  /** Shown as the session's remote address. */
  readonly remoteAddress: string;
  private readonly link: RelaySender;
  private readonly window: number;
  private readonly onGone: ((circuit: number) => void) | undefined;
  /** Our RELAY_DATA bytes not yet credited by the other end. */
  private inFlight = 0;
  /** Bytes received (and pushed) that we have not credited yet. */
  private uncredited = 0;
  /** Bytes the other end may still send before it must wait for our credit. */
  private granted: number;
  /** A write waiting for credit: the rest of its chunk and its callback. */
  private blocked: { rest: Buffer; cb: (err?: Error | null) => void } | undefined;
  private readerWaiting = true;
  private gone = false;

  constructor(o: CircuitOptions) {
    super({ allowHalfOpen: false });
    this.circuit = o.circuit;
    this.peer = o.peer;
    this.relay = o.relay;
    this.remoteAddress = `relay ${o.relay}`;
    this.link = o.link;
    this.window = o.window ?? RELAY_WINDOW;
    this.granted = this.window;
    this.onGone = o.onGone;
  }

  /** Bytes sent and not yet acknowledged (for tests and status). */
  get unacknowledged(): number {
    return this.inFlight;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pump(chunk, cb);
  }

  private pump(chunk: Buffer, cb: (err?: Error | null) => void): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.gone) return cb(new SentinelError('E_DIAL_FAILED', 'relay circuit closed'));
      const room = this.window - this.inFlight;
      if (room <= 0) {
        this.blocked = { rest: chunk.subarray(off), cb };
        return;
      }
      const n = Math.min(RELAY_MAX_DATA, room, chunk.length - off);
      this.link.send(FrameType.RELAY_DATA, encodeRelayData({ circuit: this.circuit, data: chunk.subarray(off, off + n) }));
      this.inFlight += n;
      off += n;
    }
    cb();
  }

  override _read(): void {
    this.readerWaiting = true;
    this.flushCredit(false);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sendClose(RelayCloseCode.NORMAL, 'closed');
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.sendClose(RelayCloseCode.NORMAL, err ? 'closed after an error' : 'closed');
    this.markGone();
    cb(err);
  }

  /** RELAY_DATA for this circuit. */
  receive(data: Uint8Array): void {
    if (this.gone) return;
    if (data.length > this.granted) return this.violation(`${data.length} bytes of data past the window`);
    this.granted -= data.length;
    this.uncredited += data.length;
    this.readerWaiting = this.push(Buffer.from(data.buffer, data.byteOffset, data.length));
    this.flushCredit(false);
  }

  /** RELAY_CREDIT for this circuit. */
  credit(bytes: number): void {
    if (this.gone) return;
    if (bytes > this.inFlight) return this.violation(`credit for ${bytes} bytes, ${this.inFlight} in flight`);
    this.inFlight -= bytes;
    const b = this.blocked;
    if (b) {
      this.blocked = undefined;
      this.pump(b.rest, b.cb);
    }
  }

  /** RELAY_CLOSE from the other end (or the relay): end of stream. */
  remoteClosed(code: number, reason: string): void {
    if (this.gone) return;
    this.markGone();
    if (code === RelayCloseCode.NORMAL) {
      this.push(null);
      // allowHalfOpen is false: the writable side ends once the end is read.
      return;
    }
    this.destroy(new SentinelError('E_DIAL_FAILED', `relay circuit closed (${relayCloseName(code)}${reason ? `: ${reason}` : ''})`));
  }

  private flushCredit(force: boolean): void {
    if (this.gone || this.uncredited === 0 || !this.readerWaiting) return;
    if (!force && this.uncredited < Math.min(CREDIT_BATCH, this.window / 4)) return;
    const n = this.uncredited;
    this.uncredited = 0;
    this.granted += n;
    this.link.send(FrameType.RELAY_CREDIT, encodeRelayCredit({ circuit: this.circuit, bytes: n }));
  }

  private violation(detail: string): void {
    this.sendClose(RelayCloseCode.PROTOCOL, detail);
    this.markGone();
    this.destroy(new SentinelError('E_PROTOCOL', `relay circuit: ${detail}`));
  }

  private sendClose(code: number, reason: string): void {
    if (this.gone) return;
    try {
      this.link.send(FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: this.circuit, code, reason }));
    } catch {
      // The relay session is gone already: nothing to tell.
    }
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    const b = this.blocked;
    this.blocked = undefined;
    b?.cb(new SentinelError('E_DIAL_FAILED', 'relay circuit closed'));
    this.onGone?.(this.circuit);
  }
}

/**
 * Ends `stream` when the TLS socket running on it fails or closes. A TLS socket over a generic
 * stream does not destroy that stream itself; without this, a TLS failure (a relay that
 * altered a byte) would leave the circuit open and the other end waiting.
 */
export function endWithSocket(socket: { once(event: 'close' | 'error', fn: () => void): unknown }, stream: CircuitStream): void {
  // On an error the TLS socket waits for its transport before it closes: end that first.
  socket.once('error', () => stream.destroy());
  socket.once('close', () => stream.destroy());
}

/**
 * The circuits on one session with a relay: routes that session's circuit frames, and
 * ends every circuit when the session ends.
 */
export class RelayLink {
  private readonly circuits = new Map<number, CircuitStream>();

  constructor(
    private readonly sender: RelaySender,
    private readonly relay: string,
  ) {}

  get size(): number {
    return this.circuits.size;
  }

  /** A stream for a circuit the relay confirmed (RELAY_OPENED, or our RELAY_ACCEPT). */
  attach(circuit: number, peer: NodeId): CircuitStream {
    this.circuits.get(circuit)?.remoteClosed(RelayCloseCode.PROTOCOL, 'circuit id reused');
    const stream = new CircuitStream({ circuit, peer, relay: this.relay, link: this.sender, onGone: (c) => this.circuits.get(c) === stream && this.circuits.delete(c) });
    this.circuits.set(circuit, stream);
    return stream;
  }

  /**
   * A RELAY_DATA, RELAY_CREDIT or RELAY_CLOSE frame; returns false for other types.
   * Frames for unknown circuits are dropped (a late frame after a close).
   */
  onFrame(type: number, payload: Buffer): boolean {
    switch (type) {
      case FrameType.RELAY_DATA: {
        const m = decodeRelayData(payload);
        this.circuits.get(m.circuit)?.receive(m.data);
        return true;
      }
      case FrameType.RELAY_CREDIT: {
        const m = decodeRelayCredit(payload);
        this.circuits.get(m.circuit)?.credit(m.bytes);
        return true;
      }
      case FrameType.RELAY_CLOSE: {
        const m = decodeRelayClose(payload);
        this.circuits.get(m.circuit)?.remoteClosed(m.code, m.reason);
        return true;
      }
      default:
        return false;
    }
  }

  /** The relay session ended: every circuit on it ends. */
  closeAll(reason: string): void {
    for (const c of [...this.circuits.values()]) c.remoteClosed(RelayCloseCode.GONE, reason);
    this.circuits.clear();
  }
}
