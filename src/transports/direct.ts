/**
 * Direct connections to known addresses: TCP (the node) or memory pipes (the simulated
 * network of the tests), the same code around a different connector. The peer's addresses
 * are tried one after the other; a final failure (the peer refused us) stops at once.
 * Concurrent dials to one peer share one attempt.
 */
import type { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { labelled, nestedMessage } from '../errors.js';
import { formatHostPort, parseHostPort } from '../core/host-port.js';
import { tcpConnector } from '../transport/connect.js';
import { CONNECT_TIMEOUT_MS } from '../transport/limits.js';
import type { Session } from '../transport/session.js';
import { AttemptsFailed, isFinal, throwIfAborted } from './failures.js';
import type { Conduit, DialTarget, Transport, TransportDialOptions } from './transport.js';

/** Opens a byte stream to `host:port`; rejects on failure, timeout or abort. */
export type StreamConnector = (host: string, port: number, timeoutMs: number, signal?: AbortSignal) => Promise<Duplex & { remoteAddress?: string; remotePort?: number }>;

export interface DirectTransportOptions {
  kind?: 'tcp' | 'memory';
  /** Default: a plain TCP connect. */
  connect?: StreamConnector;
  /** Addresses never to dial for `peer` (its VPN addresses: a "direct" session inside our own tunnel). */
  skip?(peer: NodeId, host: string): boolean;
  /** Connect timeout when the dial gives none. */
  timeoutMs?: number;
}

export class DirectTransport implements Transport {
  readonly kind: 'tcp' | 'memory';
  readonly label = 'known addresses';
  private readonly inflight = new Map<NodeId, Promise<Session>>();

  constructor(private readonly o: DirectTransportOptions = {}) {
    this.kind = o.kind ?? 'tcp';
  }

  unavailable(target: DialTarget): string | null {
    return this.candidates(target).length > 0 ? null : 'no known address';
  }

  /** A stream to `host:port`, as an outbound conduit (for a dial by address: whoever answers). */
  async connect(host: string, port: number, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Conduit> {
    throwIfAborted(opts.signal, formatHostPort(host, port));
    const connect = this.o.connect ?? tcpConnector;
    const stream = await connect(host, port, opts.timeoutMs ?? this.o.timeoutMs ?? CONNECT_TIMEOUT_MS, opts.signal);
    return { stream, path: { method: 'outbound', address: formatHostPort(stream.remoteAddress ?? host, stream.remotePort ?? port) } };
  }

  dial(target: DialTarget, opts: TransportDialOptions): Promise<Session> {
    const running = this.inflight.get(target.id);
    if (running) return running;
    const attempt = this.each(target, opts).finally(() => this.inflight.delete(target.id));
    this.inflight.set(target.id, attempt);
    return attempt;
  }

  private async each(target: DialTarget, opts: TransportDialOptions): Promise<Session> {
    const failures: string[] = [];
    for (const addr of this.candidates(target)) {
      const a = parseHostPort(addr);
      if (!a) continue;
      opts.progress('connecting', `connecting to ${addr}`);
      try {
        const conduit = await this.connect(a.host, a.port, opts);
        opts.progress('tls', `${this.kind === 'tcp' ? 'TCP' : 'stream'} connected to ${addr}, TLS handshake`);
        return await opts.secure(conduit);
      } catch (err) {
        if (isFinal(err)) throw err;
        failures.push(labelled(addr, nestedMessage(err, 'E_DIAL_FAILED')));
      }
    }
    throw new AttemptsFailed(failures.length > 0 ? failures : ['no known address']);
  }

  private candidates(target: DialTarget): string[] {
    return target.addresses.filter((addr) => {
      const a = parseHostPort(addr);
      return a !== undefined && !this.o.skip?.(target.id, a.host);
    });
  }
}
