/**
 * In-memory byte streams for tests: pipe pairs (what one end writes, the other reads, with
 * backpressure and end-of-stream like a TCP connection), and a {@link MemoryNetwork} of
 * listeners by `host:port` whose connector plugs into {@link DirectTransport} (`kind:
 * 'memory'`). Which connects succeed is the network's `reachable` rule: the tests' NAT and
 * firewall. Everything above the bytes (TLS, sessions) is the real code.
 */
import { Duplex } from 'node:stream';
import { SentinelError } from '../errors.js';
import { formatHostPort } from '../core/host-port.js';
import { DirectTransport, type StreamConnector } from './direct.js';

/**
 * One end of a pipe pair. Bytes reach the other end on a later tick, never inside the
 * write call, as on a real network: code that attaches its listeners right after starting
 * a handshake must not miss the answer.
 */
export class MemoryStream extends Duplex {
  peer!: MemoryStream;
  /** Our write waiting until the peer reads (backpressure). */
  private blocked: (() => void) | undefined;

  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    super({ allowHalfOpen: false });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    process.nextTick(() => {
      const p = this.peer;
      if (p.destroyed || p.readableEnded) return cb(new SentinelError('E_DIAL_FAILED', 'memory pipe closed'));
      if (p.push(chunk)) cb();
      else p.blocked = () => cb();
    });
  }

  override _read(): void {
    const release = this.blocked;
    this.blocked = undefined;
    release?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    process.nextTick(() => {
      this.endPeer();
      cb();
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Like a closed TCP connection: the other end reads end-of-stream (after what was sent).
    process.nextTick(() => this.endPeer());
    cb(err);
  }

  private endPeer(): void {
    const p = this.peer;
    if (!p.destroyed && !p.readableEnded) p.push(null);
    const release = p.blocked;
    p.blocked = undefined;
    release?.();
  }
}

export interface PipeEnd {
  host: string;
  port: number;
}

/** Two connected streams; each one's remote address is the other's end. */
export function pipePair(a: PipeEnd, b: PipeEnd): [MemoryStream, MemoryStream] {
  const x = new MemoryStream(b.host, b.port);
  const y = new MemoryStream(a.host, a.port);
  x.peer = y;
  y.peer = x;
  return [x, y];
}

export interface MemoryNetworkOptions {
  /** Whether a connect from `from` (a host) to `to` (host:port) gets through now. Default: always. */
  reachable?(from: string, to: string): boolean;
}

/** Listeners by `host:port`, connected through pipe pairs. */
export class MemoryNetwork {
  private readonly listeners = new Map<string, (stream: MemoryStream) => void>();
  private nextPort = 40_000;

  constructor(private readonly o: MemoryNetworkOptions = {}) {}

  /** Inbound streams to `host:port` go to `onStream` (e.g. ConnectionManager.accept). */
  listen(host: string, port: number, onStream: (stream: MemoryStream) => void): () => void {
    const key = formatHostPort(host, port);
    if (this.listeners.has(key)) throw new SentinelError('E_PORT_IN_USE', key);
    this.listeners.set(key, onStream);
    return () => this.listeners.delete(key);
  }

  /** A connector for `from` (its host): refused when nobody listens or the rule says no. */
  connector(from: string): StreamConnector {
    return async (host, port, _timeoutMs, signal) => {
      const to = formatHostPort(host, port);
      if (signal?.aborted) throw new SentinelError('E_DIAL_FAILED', `connect to ${to}: aborted`);
      const accept = this.listeners.get(to);
      if (!accept || !(this.o.reachable?.(from, to) ?? true)) throw new SentinelError('E_DIAL_FAILED', `connect to ${to}: unreachable`);
      const [ours, theirs] = pipePair({ host: from, port: this.nextPort++ }, { host, port });
      accept(theirs);
      return ours;
    };
  }

  /** A direct transport whose connects from `from` go through this network. */
  transport(from: string): DirectTransport {
    return new DirectTransport({ kind: 'memory', connect: this.connector(from) });
  }
}
