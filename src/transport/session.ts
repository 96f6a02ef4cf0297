/**
 * One authenticated session with a peer: framing, HELLO, keepalive with RTT, GOAWAY.
 * Application frames (CHAT, ACK, ...) are handed to the owner through `handlers`.
 * Any protocol violation closes this session only, with a coded GOAWAY, and is counted.
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ConnectMethod, NodeId } from '../api.js';
import { SentinelError, isSentinelError, type ErrorCode } from '../errors.js';
import {
  FrameType,
  GoawayCode,
  classifyFrameType,
  decodeGoaway,
  decodeHello,
  decodePing,
  encodeFrame,
  encodeFrameHeader,
  prebuiltFrame,
  encodeGoaway,
  encodeHello,
  encodePing,
  goawayCodeName,
  type Hello,
} from '../wire/index.js';
import { FrameDecoder, HEADER_SIZE, joinPayload, type PayloadParts } from '../wire/frame.js';
import { TokenBucket } from '../core/rate.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { PING_RATE, type TransportLimits } from './limits.js';

export interface SessionHandlers {
  onFrame(session: Session, type: number, payload: Buffer): void;
  onHello(session: Session, hello: Hello): void;
  onClose(session: Session, reason: SentinelError | undefined): void;
}

export interface SessionOptions {
  socket: Duplex;
  peerId: NodeId;
  /** Id of the node that opened the TCP connection. */
  dialerId: NodeId;
  /** Identical on both ends of this connection (TLS exporter); breaks duplicate ties. */
  tag?: string;
  method: ConnectMethod;
  remoteAddress: string;
  localHello: Hello;
  limits: Pick<TransportLimits, 'pingIntervalMs' | 'deadAfterMs' | 'maxWriteBufferBytes' | 'maxPayload'>;
  clock: Clock;
  counters: Counters;
  handlers: SessionHandlers;
}

const MAX_OUTSTANDING_PINGS = 8;
/**
 * PINGs we send ourselves (keepalives and probes), sustained per second and burst: within
 * the peer's PING_RATE with room for jitter on the way, so probing never reads as a flood.
 */
export const OUTBOUND_PING_RATE = { perSecond: PING_RATE.perSecond, burst: PING_RATE.burst / 2 } as const;

/** Outcome of {@link Session.probe}: sent, or why not. */
export type ProbeOutcome = 'sent' | 'closed' | 'rate-limited';
/** The error a GOAWAY code becomes locally (others: E_PROTOCOL). */
const GOAWAY_ERRORS: Record<number, ErrorCode> = {
  [GoawayCode.DUPLICATE]: 'E_DUPLICATE_SESSION',
  [GoawayCode.BUSY]: 'E_BUSY',
  [GoawayCode.REFUSED]: 'E_REFUSED',
};
/** Frames a peer may send before its HELLO (anything else first is a protocol violation). */
const BEFORE_HELLO = new Set<number>([FrameType.HELLO, FrameType.PING, FrameType.PONG, FrameType.GOAWAY]);
/** Payloads from this size up are written without copying them behind the header. */
const ZERO_COPY_MIN = 16 * 1024;

export class Session {
  readonly peerId: NodeId;
  readonly dialerId: NodeId;
  readonly tag: string;
  readonly method: ConnectMethod;
  readonly remoteAddress: string;
  readonly establishedAt: number;
  /** Bytes received on this session (frames, after TLS), for the metrics (metrics/peer-traffic.ts). */
  bytesIn = 0;
  /** Bytes of frames queued on this session (after TLS), for the metrics. */
  bytesOut = 0;
  /** Round-trip time of the last answered PING, ms. */
  rttMs: number | null = null;
  lastHeard: number;
  /** Last time the peer sent an application frame (not HELLO, PING, PONG): eviction prefers idle sessions. */
  lastActive: number;
  peerHello: Hello | null = null;
  /** Which session slots this session takes (set by the connection manager). */
  slot: 'contact' | 'stranger' = 'contact';
  private closed = false;
  private writeLimit: number;
  private readonly pingBucket: TokenBucket;
  private readonly outPingBucket: TokenBucket;
  /** When the last probe left (a probe stands in for the keepalive PING of that interval). */
  private lastProbeAt = -Infinity;
  private readonly decoder: FrameDecoder;
  /** PINGs awaiting their PONG: send time, and the probe's callback if it was one. */
  private readonly pings = new Map<bigint, { at: number; onPong: (() => void) | undefined }>();
  private nonce = 0n;
  private timer: unknown;

  constructor(private readonly opts: SessionOptions) {
    this.peerId = opts.peerId;
    this.dialerId = opts.dialerId;
    this.tag = opts.tag ?? '';
    this.method = opts.method;
    this.remoteAddress = opts.remoteAddress;
    this.establishedAt = opts.clock.now();
    this.lastHeard = this.establishedAt;
    this.lastActive = this.establishedAt;
    this.writeLimit = opts.limits.maxWriteBufferBytes;
    this.pingBucket = new TokenBucket(PING_RATE.perSecond, PING_RATE.burst, this.establishedAt);
    this.outPingBucket = new TokenBucket(OUTBOUND_PING_RATE.perSecond, OUTBOUND_PING_RATE.burst, this.establishedAt);
    this.decoder = new FrameDecoder({ maxPayload: opts.limits.maxPayload });
  }

  /** Bytes we queue for this peer before closing the session as not reading (strangers get less). */
  setWriteLimit(bytes: number): void {
    this.writeLimit = bytes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes queued on the socket and not yet written (lets bulk senders respect backpressure). */
  get writableLength(): number {
    return this.opts.socket.writableLength;
  }

  /**
   * Keying material from this session's TLS 1.3 exporter (RFC 8446 §7.5; the VPN's
   * datagram keys), or null when the stream under the session is not TLS.
   */
  exportKeyingMaterial(length: number, label: string, context: Buffer): Buffer | null {
    const tls = this.opts.socket as Partial<TLSSocket>;
    if (typeof tls.exportKeyingMaterial !== 'function') return null;
    try {
      return tls.exportKeyingMaterial(length, label, context);
    } catch {
      return null;
    }
  }

  /** The fd of the TCP socket under the session (for TCP_INFO), or null (relayed, in memory, closed). */
  get socketFd(): number | null {
    const fd = (this.opts.socket as { _handle?: { fd?: unknown } | null })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }

  /** Call `cb` once, the next time the socket's write buffer drains. */
  onDrain(cb: () => void): void {
    this.opts.socket.once('drain', cb);
  }

  /** Attach to the socket, send HELLO and start the keepalive. */
  start(): void {
    const { socket, clock, limits } = this.opts;
    // Small frames (pings, acks, interactive VPN traffic) must not wait for Nagle.
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      const reason = socketError(err);
      this.opts.counters.inc(`sessions_failed.${reason.code}`);
      this.terminate(reason);
    });
    socket.on('end', () => this.terminate(undefined));
    socket.on('close', () => this.terminate(undefined));
    this.timer = clock.setInterval(() => this.tick(), limits.pingIntervalMs);
    // HELLO and the first PING leave together (one TLS write, one TCP segment).
    socket.cork();
    this.send(FrameType.HELLO, encodeHello(this.opts.localHello));
    this.outPingBucket.take(clock.now());
    this.sendPing();
    socket.uncork();
  }

  /** Queue a frame. Returns false when the session is closed. */
  send(type: number, payload: Uint8Array): boolean {
    if (this.closed) return false;
    const { socket } = this.opts;
    let whole: Buffer | undefined;
    if (socket.writableLength > this.writeLimit) {
      this.close(GoawayCode.PROTOCOL_ERROR, 'peer is not reading', new SentinelError('E_PROTOCOL', 'write buffer limit reached'));
      return false;
    }
    this.bytesOut += HEADER_SIZE + payload.length;
    if (payload.length < ZERO_COPY_MIN) {
      socket.write(encodeFrame(type, payload));
    } else if ((whole = prebuiltFrame(type, payload)) !== undefined) {
      // Built in place behind its header (allocFramePayload): one buffer, no copy at all.
      socket.write(whole);
    } else {
      // Large payloads: header and payload are not copied together here. Corked, they reach
      // the TLS layer as one write (one run of full-size records, one syscall), not as a
      // 6-byte record of its own followed by the payload.
      socket.cork();
      socket.write(encodeFrameHeader(type, payload.length));
      socket.write(payload);
      socket.uncork();
    }
    return true;
  }

  /** Say GOAWAY with `code`, then close. `reason` is reported to the local owner. */
  close(code: number, text: string, reason?: SentinelError): void {
    if (this.closed) return;
    try {
      this.opts.socket.write(encodeFrame(FrameType.GOAWAY, encodeGoaway({ code, reason: text })));
    } catch {
      // the socket may already be gone; closing anyway
    }
    this.opts.socket.end();
    const { socket, clock } = this.opts;
    clock.setTimeout(() => socket.destroy(), 2_000);
    this.terminate(reason);
  }

  private terminate(reason: SentinelError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.clock.clearInterval(this.timer);
    this.opts.handlers.onClose(this, reason);
    if (!this.opts.socket.writableEnded) this.opts.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    this.lastHeard = this.opts.clock.now();
    try {
      this.decoder.decode(chunk, this.onDecoded);
    } catch (err) {
      this.violation(err);
    }
  }

  /** Per decoded frame (bound once: no closure per chunk). A frame after a close is dropped. */
  private readonly onDecoded = (type: number, parts: PayloadParts, length: number): void => {
    if (this.closed) return;
    try {
      this.onFrame(type, parts, length);
    } catch (err) {
      this.violation(err);
    }
  };

  private violation(err: unknown): void {
    const e = isSentinelError(err) ? err : new SentinelError('E_PROTOCOL', String(err));
    this.opts.counters.inc(`protocol_errors.${e.code}`);
    this.close(GoawayCode.PROTOCOL_ERROR, e.message, e);
  }

  private onFrame(type: number, parts: PayloadParts, length: number): void {
    if (this.peerHello === null && !BEFORE_HELLO.has(type)) {
      throw new SentinelError('E_PROTOCOL', `frame type 0x${type.toString(16)} before HELLO`);
    }
    switch (type) {
      case FrameType.HELLO:
        if (this.peerHello !== null) throw new SentinelError('E_PROTOCOL', 'HELLO sent twice');
        this.peerHello = decodeHello(joinPayload(parts, length));
        this.opts.handlers.onHello(this, this.peerHello);
        return;
      case FrameType.PING:
        if (!this.pingBucket.take(this.opts.clock.now())) throw new SentinelError('E_PROTOCOL', 'PING flood');
        this.send(FrameType.PONG, encodePing(decodePing(joinPayload(parts, length))));
        return;
      case FrameType.PONG:
        this.onPong(decodePing(joinPayload(parts, length)).nonce);
        return;
      case FrameType.GOAWAY:
        this.onGoaway(joinPayload(parts, length));
        return;
    }
    const kind = classifyFrameType(type);
    if (kind === 'handle') {
      // The time this chunk arrived (read once per chunk, not per frame).
      this.lastActive = this.lastHeard;
      // Handlers get one contiguous payload: a view of the received chunk when the frame
      // lay within one (no copy), joined only when it spanned several TLS records.
      this.opts.handlers.onFrame(this, type, joinPayload(parts, length));
    }
    // An ignored frame's payload is never assembled.
    else if (kind === 'ignore') this.opts.counters.inc('frames_unknown_ignored');
    else throw new SentinelError('E_FRAME_UNKNOWN_TYPE', `type 0x${type.toString(16)}`);
  }

  private onGoaway(payload: Buffer): void {
    const g = decodeGoaway(payload);
    const name = goawayCodeName(g.code) ?? String(g.code);
    const code = GOAWAY_ERRORS[g.code] ?? 'E_PROTOCOL';
    this.opts.socket.end();
    const detail = `peer said GOAWAY ${name}${g.reason ? `: ${g.reason}` : ''}`;
    if (g.code === GoawayCode.NORMAL) this.terminate(undefined);
    else if (g.code === GoawayCode.SHUTDOWN) this.terminate(new SentinelError('E_SHUTDOWN', 'the peer shut down'));
    else this.terminate(new SentinelError(code, detail));
  }

  /**
   * Sends a PING now, for a measurement (`sentinel ping`); `onPong` runs when its PONG
   * arrives (never, if it is lost: the caller keeps its own timeout). The PING also serves
   * as this interval's keepalive. Refused when the session is closed, or when our own PINGs
   * would exceed {@link OUTBOUND_PING_RATE} (the peer would take them for a flood).
   */
  probe(onPong: () => void): ProbeOutcome {
    if (this.closed) return 'closed';
    const now = this.opts.clock.now();
    if (!this.outPingBucket.take(now)) return 'rate-limited';
    this.lastProbeAt = now;
    this.sendPing(onPong);
    return 'sent';
  }

  private onPong(nonce: bigint): void {
    const sent = this.pings.get(nonce);
    if (sent === undefined) return; // unsolicited or late: harmless
    this.pings.delete(nonce);
    this.rttMs = this.opts.clock.now() - sent.at;
    sent.onPong?.();
  }

  private sendPing(onPong?: () => void): void {
    if (this.pings.size >= MAX_OUTSTANDING_PINGS) this.pings.clear();
    this.nonce += 1n;
    this.pings.set(this.nonce, { at: this.opts.clock.now(), onPong });
    this.send(FrameType.PING, encodePing({ nonce: this.nonce }));
  }

  private tick(): void {
    const silentFor = this.opts.clock.now() - this.lastHeard;
    if (silentFor >= this.opts.limits.deadAfterMs) {
      this.opts.counters.inc('keepalive_timeouts');
      this.close(GoawayCode.TIMEOUT, 'no keepalive answer', new SentinelError('E_PEER_TIMEOUT', `nothing heard for ${silentFor} ms`));
      return;
    }
    // A probe within the last interval already was a keepalive; skipping this one keeps
    // probes plus keepalives within the peer's PING_RATE.
    if (this.opts.clock.now() - this.lastProbeAt < this.opts.limits.pingIntervalMs) return;
    this.outPingBucket.take(this.opts.clock.now());
    this.sendPing();
  }
}

/**
 * Why a session's socket failed. A TLS failure after the handshake (a record that does not
 * authenticate, e.g. a byte changed by a relay on the way, or the peer's alert about one)
 * is E_TLS; anything else (reset, unreachable) is the peer being gone, E_PEER_TIMEOUT.
 */
export function socketError(err: Error & { code?: unknown }): SentinelError {
  const tls = typeof err.code === 'string' && err.code.startsWith('ERR_SSL_');
  return new SentinelError(tls ? 'E_TLS' : 'E_PEER_TIMEOUT', tls ? err.message.trim() : `socket error: ${err.message}`);
}
