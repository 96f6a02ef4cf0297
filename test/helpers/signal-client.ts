/**
 * A raw signaler client for tests: a real mutually authenticated TLS session that speaks
 * frames directly (no SignalerClient logic), so a test sees exactly what the signaler sends.
 * Every socket it opens is destroyed by {@link destroyRawClients}.
 */
import net from 'node:net';
import tls from 'node:tls';
import { generateIdentity, publicKeyFromNodeId, type Identity } from '../../src/identity/index.js';
import type { NodeId } from '../../src/api.js';
import { FrameDecoder, FrameType, decodeSignalError, encodeFrame, encodeHello, encodeLookup, encodePunchRequest, encodeRegister, encodeRelayOpen, type Endpoint } from '../../src/wire/index.js';
import { waitFor } from './testnet.js';

const sockets = new Set<tls.TLSSocket>();

export interface RawClient {
  id: Identity;
  sock: tls.TLSSocket;
  frames: { type: number; payload: Buffer }[];
  closed: Promise<void>;
  isClosed(): boolean;
  send(type: number, payload: Buffer): void;
  of(type: number): Buffer[];
  lookup(reqId: number, target: NodeId): void;
  punch(reqId: number, target: NodeId): void;
  relayOpen(reqId: number, target: NodeId): void;
  /** SIGNAL_ERROR codes received for `reqId`. */
  errors(reqId: number): number[];
  close(): void;
}

export interface RawClientOptions {
  identity?: Identity;
  local?: Endpoint[];
  listenPort?: number;
  /** Source address (127.0.0.0/8 on loopback). */
  localAddress?: string;
  /** Wait for REGISTERED (default true). */
  register?: boolean;
}

/** Connects, says HELLO and (unless told not to) registers and waits for REGISTERED. */
export async function rawClient(port: number, opts: RawClientOptions = {}): Promise<RawClient> {
  const id = opts.identity ?? generateIdentity();
  const frames: RawClient['frames'] = [];
  const dec = new FrameDecoder();
  const tcp = net.connect({ host: '127.0.0.1', port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const sock = tls.connect({ socket: tcp, key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
  sockets.add(sock);
  let closedFlag = false;
  sock.on('data', (d: Buffer) => frames.push(...dec.push(d)));
  sock.on('error', () => {});
  const closed = new Promise<void>((r) =>
    sock.on('close', () => {
      closedFlag = true;
      sockets.delete(sock);
      r();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', () => resolve());
    sock.once('close', () => reject(new Error('closed during the TLS handshake')));
  });
  sock.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: opts.listenPort ?? 7000, name: '' })));
  const send = (type: number, payload: Buffer): void => void sock.write(encodeFrame(type, payload));
  const of = (type: number): Buffer[] => frames.filter((f) => f.type === type).map((f) => f.payload);
  const c: RawClient = {
    id,
    sock,
    frames,
    closed,
    isClosed: () => closedFlag,
    send,
    of,
    lookup: (reqId, target) => send(FrameType.LOOKUP, encodeLookup({ reqId, target: publicKeyFromNodeId(target) })),
    punch: (reqId, target) => send(FrameType.PUNCH_REQUEST, encodePunchRequest({ reqId, target: publicKeyFromNodeId(target) })),
    relayOpen: (reqId, target) => send(FrameType.RELAY_OPEN, encodeRelayOpen({ reqId, target: publicKeyFromNodeId(target) })),
    errors: (reqId) => of(FrameType.SIGNAL_ERROR).map(decodeSignalError).filter((e) => e.reqId === reqId).map((e) => e.code),
    close: () => sock.destroy(),
  };
  if (opts.register !== false) {
    send(FrameType.REGISTER, encodeRegister({ listenPort: opts.listenPort ?? 7000, local: opts.local ?? [] }));
    await waitFor(() => of(FrameType.REGISTERED).length >= 1 || closedFlag, 5_000, 'REGISTERED');
    if (closedFlag) throw new Error('the signaler closed the session instead of registering');
  }
  return c;
}

/** Destroys every socket rawClient opened and that is still open. */
export function destroyRawClients(): void {
  for (const s of sockets) s.destroy();
  sockets.clear();
}
