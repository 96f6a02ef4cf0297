/**
 * The lightweight signaler client of the load benchmark: one node's registration and
 * nothing else. A plain TCP connect from its own loopback source address, the project's
 * mutually authenticated TLS 1.3 (createContext + secureSocket, which checks that the
 * signaler is the one whose id it printed), then HELLO + REGISTER → REGISTERED and
 * LOOKUP → LOOKUP_RESULT with the wire codecs. It answers keepalive PINGs so the signaler
 * keeps it while memory is measured; no Session, no timers of its own, so thousands fit
 * in one process.
 */
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { NodeId } from '../src/api.js';
import { errorMessage } from '../src/errors.js';
import type { Identity } from '../src/identity/index.js';
import { SIGNAL_MAX_PAYLOAD } from '../src/signaler/index.js';
import { createContext, secureSocket, systemClock } from '../src/transport/index.js';
import { FrameDecoder, FrameType, decodeLookupResult, decodeSignalError, encodeFrame, encodeHello, encodeLookup, encodeRegister } from '../src/wire/index.js';

/** How a request ended: answered, refused with a SIGNAL_ERROR code, or lost (code -1). */
export type Outcome = { ok: true } | { ok: false; code: number; reason: string };

/** Where one signaler instance listens and who it is (without `id`: whoever answers). */
export interface InstanceAddress {
  host: string;
  port: number;
  id?: NodeId;
}

/** Waiter key of the registration (the signaler's unprompted messages carry reqId 0). */
const REGISTER_KEY = 0;
/** The port the client claims to listen on: nobody dials it, the signaler only records it. */
const CLAIMED_LISTEN_PORT = 40_000;

/**
 * The loopback source address of client number `index`: 127.16.0.1 and up. Linux routes
 * all of 127/8 to lo, so every client is its own "IP" to the signaler's per-IP session
 * cap (64) and there is no ephemeral-port shortage however many clients there are.
 */
export function sourceAddress(index: number): string {
  const n = index + 1;
  return `127.${16 + ((n >> 16) & 0xff)}.${(n >> 8) & 0xff}.${n & 0xff}`;
}

/** `p`, or a lost outcome naming `what` after `ms`. */
function bounded(p: Promise<Outcome>, ms: number, what: string): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, code: -1, reason: `no ${what} within ${ms} ms` }), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** One registered node's signaler session. */
export class LoadClient {
  private readonly decoder = new FrameDecoder({ maxPayload: SIGNAL_MAX_PAYLOAD });
  private readonly waiting = new Map<number, (o: Outcome) => void>();
  private nextReqId = 1;
  private closedBecause: string | null = null;

  private constructor(
    private readonly socket: TLSSocket,
    /** This node's raw public key (what others look up). */
    readonly publicKey: Uint8Array,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err.message));
    socket.on('close', () => this.fail('connection closed'));
  }

  /**
   * Connects from `localAddress`, authenticates both ways, registers; resolves once
   * REGISTERED has arrived, rejects with the reason otherwise (the socket is destroyed).
   */
  static async register(identity: Identity, to: InstanceAddress, localAddress: string, timeoutMs: number): Promise<LoadClient> {
    const raw = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: to.host, port: to.port, localAddress });
      const timer = setTimeout(() => s.destroy(new Error(`TCP connect timed out after ${timeoutMs} ms`)), timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    // The context is made here and held only by the socket: a client costs no context while closed.
    const { socket } = await secureSocket({ raw, role: 'client', context: createContext(identity), expected: to.id, timeoutMs, clock: systemClock });
    const client = new LoadClient(socket, identity.publicKey);
    const registered = client.expect(REGISTER_KEY);
    // HELLO first, as every peer must, then REGISTER, in one write.
    socket.write(
      Buffer.concat([
        encodeFrame(FrameType.HELLO, encodeHello({ listenPort: CLAIMED_LISTEN_PORT, name: '' })),
        encodeFrame(FrameType.REGISTER, encodeRegister({ listenPort: CLAIMED_LISTEN_PORT, local: [] })),
      ]),
    );
    const outcome = await bounded(registered, timeoutMs, 'REGISTERED');
    if (!outcome.ok) {
      socket.destroy();
      throw new Error(`registration refused or lost: ${outcome.reason}`);
    }
    return client;
  }

  /** One LOOKUP for `target` (a raw public key). */
  lookup(target: Uint8Array, timeoutMs: number): Promise<Outcome> {
    const reqId = this.nextReqId++;
    const answer = this.expect(reqId);
    this.socket.write(encodeFrame(FrameType.LOOKUP, encodeLookup({ reqId, target })));
    return bounded(answer, timeoutMs, 'LOOKUP answer');
  }

  close(): void {
    this.socket.destroy();
  }

  private expect(key: number): Promise<Outcome> {
    if (this.closedBecause !== null) return Promise.resolve({ ok: false, code: -1, reason: this.closedBecause });
    return new Promise((resolve) => this.waiting.set(key, resolve));
  }

  private settle(key: number, o: Outcome): void {
    const w = this.waiting.get(key);
    this.waiting.delete(key);
    w?.(o);
  }

  private fail(reason: string): void {
    this.closedBecause ??= reason;
    for (const key of [...this.waiting.keys()]) this.settle(key, { ok: false, code: -1, reason });
  }

  private onData(chunk: Buffer): void {
    try {
      for (const f of this.decoder.push(chunk)) this.onFrame(f.type, f.payload);
    } catch (err) {
      this.fail(`bad data from the signaler: ${errorMessage(err)}`);
      this.socket.destroy();
    }
  }

  private onFrame(type: number, payload: Buffer): void {
    switch (type) {
      case FrameType.PING:
        this.socket.write(encodeFrame(FrameType.PONG, payload));
        return;
      case FrameType.REGISTERED:
        return this.settle(REGISTER_KEY, { ok: true });
      case FrameType.LOOKUP_RESULT:
        return this.settle(decodeLookupResult(payload).reqId, { ok: true });
      case FrameType.SIGNAL_ERROR: {
        const e = decodeSignalError(payload);
        return this.settle(e.reqId, { ok: false, code: e.code, reason: e.reason });
      }
      case FrameType.GOAWAY:
        return this.fail('the signaler said GOAWAY');
    }
  }
}
