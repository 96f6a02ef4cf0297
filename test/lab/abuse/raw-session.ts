/**
 * A raw Sentinel session for the attacker toolkit: mutual TLS 1.3 with an identity of our
 * choosing (usually a throw-away one), then our frames, written by hand. HELLO goes first,
 * as every real peer sends it. By default it answers PINGs (so a held session stays up);
 * with `read: false` it stops reading once TLS is up (a peer that never reads).
 *
 * `admitted` tells how the node took the session: `admitted` once its HELLO arrived (it
 * gave us a slot), `refused` on a GOAWAY before that (BUSY, REFUSED), `closed` otherwise.
 */
import tls from 'node:tls';
import { generateIdentity, type Identity } from '../../../src/identity/index.js';
import { ALPN_PROTOCOL } from '../../../src/transport/limits.js';
import { FrameDecoder, FrameType, decodeGoaway, encodeFrame, encodeHello, encodePing, decodePing, type Goaway, type Hello } from '../../../src/wire/index.js';
import { CONNECT_TIMEOUT_MS, type Addr } from './spec.js';

export interface RawSessionOptions {
  target: Addr;
  /** Source address to connect from (one of the attacker host's addresses). */
  localAddress?: string;
  /** Default: a fresh throw-away identity. */
  identity?: Identity;
  /** Sent first; null sends no HELLO. Default `{ listenPort: 0, name: '' }`. */
  hello?: Hello | null;
  /** Default true. False: stop reading once TLS is up (frames are neither read nor answered). */
  read?: boolean;
  /** Called for every frame received (after PING answers). */
  onFrame?: (type: number, payload: Buffer) => void;
}

export type Admission = 'admitted' | 'refused' | 'closed';

export class RawSession {
  readonly id: string;
  readonly identity: Identity;
  /** How the node took us (settles once). */
  readonly admitted: Promise<Admission>;
  /** Resolves when the connection is gone. */
  readonly closed: Promise<void>;
  goaway: Goaway | null = null;
  /** Frames received, by type. */
  readonly received = new Map<number, number>();
  private settle!: (a: Admission) => void;

  private constructor(
    readonly socket: tls.TLSSocket,
    identity: Identity,
    private readonly opts: RawSessionOptions,
  ) {
    this.id = identity.id;
    this.identity = identity;
    this.admitted = new Promise((r) => (this.settle = r));
    // Not events.once: that rejects on an 'error' first (EPIPE when the node closed on us
    // mid-write), and a closed session is what the attacks wait for, not a failure.
    this.closed = socket.destroyed && socket.closed ? Promise.resolve() : new Promise<void>((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.settle('closed'));
  }

  /** Connects, runs TLS and sends HELLO (unless told not to). Rejects on a failed connect or handshake. */
  static async open(opts: RawSessionOptions): Promise<RawSession> {
    const identity = opts.identity ?? generateIdentity();
    const socket = tls.connect({
      host: opts.target.host,
      port: opts.target.port,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      key: identity.keyPem,
      cert: identity.certPem,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      ALPNProtocols: [ALPN_PROTOCOL],
    });
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), CONNECT_TIMEOUT_MS);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('close', () => reject(new Error('closed during the handshake')));
      });
    } finally {
      clearTimeout(timer);
    }
    const s = new RawSession(socket, identity, opts);
    if (opts.hello !== null) s.send(FrameType.HELLO, encodeHello(opts.hello ?? { listenPort: 0, name: '' }));
    if (opts.read === false) {
      socket.pause();
      // Nothing is read from now on, so nothing tells us of a GOAWAY either.
      s.settle('admitted');
    } else s.listen();
    return s;
  }

  /** The socket is still there (read from the socket itself, never a step late). */
  get open(): boolean {
    return !this.socket.destroyed;
  }

  /** Writes one frame; false when the socket is gone or its buffer is full. */
  send(type: number, payload: Uint8Array): boolean {
    if (!this.open) return false;
    return this.socket.write(encodeFrame(type, payload));
  }

  /** Writes raw bytes (many frames at once). */
  write(bytes: Uint8Array): boolean {
    if (!this.open) return false;
    return this.socket.write(bytes);
  }

  /** Resolves at once unless the last write filled the buffer; then when it drains, or the socket closes. */
  drained(): Promise<void> {
    if (!this.open || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private listen(): void {
    const decoder = new FrameDecoder();
    this.socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        this.socket.destroy();
        return;
      }
      for (const f of frames) this.onFrame(f.type, f.payload);
    });
  }

  private onFrame(type: number, payload: Buffer): void {
    this.received.set(type, (this.received.get(type) ?? 0) + 1);
    if (type === FrameType.HELLO) this.settle('admitted');
    else if (type === FrameType.GOAWAY) {
      try {
        this.goaway = decodeGoaway(payload);
      } catch {
        // a malformed GOAWAY still ends the session
      }
      this.settle('refused');
    } else if (type === FrameType.PING) {
      try {
        this.send(FrameType.PONG, encodePing(decodePing(payload)));
      } catch {
        // malformed PING: ignore
      }
    }
    this.opts.onFrame?.(type, payload);
  }
}

/** Runs `task` over `items` with at most `limit` running at once; resolves with every outcome. */
export async function pool<T, R>(items: readonly T[], limit: number, task: (item: T, i: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await task(items[i] as T, i) };
      } catch (reason) {
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sleeps `ms`, but never past `deadline` (an attack's pacing must not outlive the attack). */
export const pause = (ms: number, deadline: number): Promise<void> => sleep(Math.max(0, Math.min(ms, deadline - Date.now())));
