/**
 * What the datagram path (datagram-service.ts) is given: the session as it sees it, its
 * options, and its fixed limits.
 */
import type { NodeId } from '../api.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log.js';
import { DATAGRAM_OVERHEAD } from '../wire/index.js';
import type { DatagramMode, TcpSample } from './path-policy.js';
import type { UdpPort } from './udp-port.js';

/** A peer session as the datagram path needs it (src/transport/session.ts). */
export interface DatagramChannel {
  readonly peerId: NodeId;
  readonly peerHello?: { readonly flags?: number } | null;
  /** 'relay' sessions get no datagram path. */
  readonly method?: string;
  /** host:port of the peer's end of the session. */
  readonly remoteAddress?: string;
  /** The session's TCP socket fd, for TCP_INFO. */
  readonly socketFd?: number | null;
  send(type: number, payload: Uint8Array): boolean;
  exportKeyingMaterial?(length: number, label: string, context: Buffer): Buffer | null;
}

export interface DatagramServiceOptions {
  /** This node's id (orders the keying context with the peer's: datagram-crypto.ts). */
  selfId: NodeId;
  mode: Exclude<DatagramMode, 'off'>;
  /** Largest inner packet (the TUN MTU); larger ones stay on the session. */
  mtu: number;
  /** Binds the node's UDP socket (called once, when first needed). */
  bind(): Promise<UdpPort>;
  clock: Clock;
  log: Logger;
  counters?: { inc(name: string, by?: number): void };
  isAllowed(peer: NodeId): boolean;
  /** Authenticated data packets from `peer`, for the router. */
  deliver(peer: NodeId, packets: Buffer[]): void;
  /** TCP_INFO of a session socket; absent: 'auto' stays on the session. */
  tcpInfo?: (fd: number) => TcpSample | null;
  /** A random u32 (receiver indices). */
  random32?: () => number;
  /** Runs `fn` after the current event-loop turn (batches deliveries). Default setImmediate. */
  defer?: (fn: () => void) => void;
}

/**
 * Largest inner packet sent as a datagram: 1500 (Ethernet) - 48 (IPv6 + UDP headers) -
 * DATAGRAM_OVERHEAD. Bigger packets (a TUN MTU above 1423) stay on the session, so a
 * datagram never needs IP fragmentation on a 1500-byte path.
 */
export const MAX_DATAGRAM_INNER = 1500 - 48 - DATAGRAM_OVERHEAD;
/** How often the path machines and the policy run. */
export const DATAGRAM_TICK_MS = 250;
/** A key is used for at most this many datagrams (far below the nonce space); then the session carries all. */
export const MAX_SEND_COUNTER = 2 ** 48;
