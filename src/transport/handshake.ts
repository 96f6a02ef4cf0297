/**
 * The handshakes under every session, apart from what the manager decides about sessions:
 * an inbound stream is either a TLS dial or a punched connection (the punch preamble
 * first, src/punch/preamble.ts), a punched stream we opened starts with the preamble, and
 * any other stream runs mutual TLS 1.3 in the role it is given. Every raw stream is tracked
 * until it closes, so that stopping the node ends them all; every failure is counted
 * (`handshakes_failed.<code>`) and thrown as a SentinelError.
 */
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import type { NodeId } from '../api.js';
import { SentinelError, isSentinelError } from '../errors.js';
import type { Identity } from '../identity/index.js';
import { PREAMBLE_SIZE, classifyFirstByte, decodePreamble, encodePreamble, punchRole } from '../punch/preamble.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { peekFirstByte, readExact } from './read-exact.js';
import { createContext, secureSocket, type SecuredSocket } from './tls.js';

export interface HandshakerOptions {
  identity: Identity;
  clock: Clock;
  counters: Counters;
  handshakeTimeoutMs: number;
}

export class Handshaker {
  private readonly context: SecureContext;
  private readonly raw = new Set<Duplex>();

  constructor(private readonly o: HandshakerOptions) {
    this.context = createContext(o.identity);
  }

  /** An inbound stream: TLS as server, or the punch preamble then TLS in the role the ids give. Not counted (the caller counts inbound failures). */
  async inbound(sock: Duplex): Promise<SecuredSocket> {
    const { clock, handshakeTimeoutMs } = this.o;
    const deadline = clock.now() + handshakeTimeoutMs;
    const { first, chunk } = await peekFirstByte(sock, handshakeTimeoutMs, clock);
    const kind = classifyFirstByte(first);
    if (kind === 'tls') {
      sock.unshift(chunk);
      return this.tls(sock, 'server', undefined, deadline);
    }
    if (kind === 'garbage') throw new SentinelError('E_TLS', `not TLS (first byte 0x${first.toString(16)})`);
    const claimed = decodePreamble(await readExact(sock, PREAMBLE_SIZE, this.remaining(deadline), clock, chunk));
    sock.write(encodePreamble(this.o.identity.publicKey));
    return this.tls(sock, punchRole(this.o.identity.id, claimed), claimed, deadline);
  }

  /** A punched stream towards `expected`: exchange preambles, pick TLS roles by id, verify the peer. Destroys `sock` on failure. */
  async punched(sock: Duplex, expected: NodeId): Promise<{ secured: SecuredSocket; role: 'client' | 'server' }> {
    const deadline = this.o.clock.now() + this.o.handshakeTimeoutMs;
    return this.counted(sock, async () => {
      sock.write(encodePreamble(this.o.identity.publicKey));
      const claimed = decodePreamble(await readExact(sock, PREAMBLE_SIZE, this.remaining(deadline), this.o.clock));
      if (claimed !== expected) throw new SentinelError('E_PEER_ID_MISMATCH', `expected ${expected}, preamble says ${claimed}`);
      const role = punchRole(this.o.identity.id, claimed);
      return { secured: await this.tls(sock, role, expected, deadline), role };
    });
  }

  /** Mutual TLS in `role` on `raw` (the peer must prove `expected` when given). Destroys `raw` on failure. */
  secure(raw: Duplex, role: 'client' | 'server', expected: NodeId | undefined): Promise<SecuredSocket> {
    return this.counted(raw, () => this.tls(raw, role, expected));
  }

  /** Keeps `sock` until it closes (destroyed by {@link destroyAll}). */
  track(sock: Duplex): void {
    this.raw.add(sock);
    sock.once('close', () => this.raw.delete(sock));
  }

  destroyAll(): void {
    for (const r of [...this.raw]) r.destroy();
  }

  private async counted<T>(sock: Duplex, run: () => Promise<T>): Promise<T> {
    this.track(sock);
    try {
      return await run();
    } catch (err) {
      sock.destroy();
      const e = isSentinelError(err) ? err : new SentinelError('E_TLS', String(err));
      this.o.counters.inc(`handshakes_failed.${e.code}`);
      throw e;
    }
  }

  private async tls(raw: Duplex, role: 'client' | 'server', expected: NodeId | undefined, deadline?: number): Promise<SecuredSocket> {
    const timeoutMs = deadline === undefined ? this.o.handshakeTimeoutMs : this.remaining(deadline);
    const secured = await secureSocket({ raw, role, context: this.context, expected, timeoutMs, clock: this.o.clock });
    // A TLS socket over a generic stream (a relay circuit, a memory pipe) does not end that
    // stream: tie them together (a no-op for a TCP socket, which TLS owns).
    secured.socket.once('error', () => raw.destroy());
    secured.socket.once('close', () => raw.destroy());
    return secured;
  }

  private remaining(deadline: number): number {
    return Math.max(1, deadline - this.o.clock.now());
  }
}
