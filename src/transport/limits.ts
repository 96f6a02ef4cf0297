/** Named transport limits. Each is enforced in one place and covered by a test. */

/** The only ALPN protocol id Sentinel speaks. */
export const ALPN_PROTOCOL = 'sentinel/1';
/** A TLS handshake (TCP connected to peer verified) must finish within this time. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A TCP connect attempt for a dial gives up after this time. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Inbound connections still in their TLS handshake, per source IP. */
export const MAX_PENDING_HANDSHAKES_PER_IP = 16;
/**
 * Inbound connections still in their TLS handshake, in all. When full, the oldest pending
 * one is dropped for the newcomer: a flood of slow handshakes cannot lock anyone out, since
 * a real handshake completes long before a flood can push it out.
 */
export const MAX_PENDING_HANDSHAKES = 256;
/** Established inbound sessions per source IP. */
export const MAX_SESSIONS_PER_IP = 64;
/** Established sessions in total; a contact beyond it takes the slot of a stranger. */
export const MAX_SESSIONS = 1024;
/** Sessions with strangers (peers the user did not choose), in all; beyond it strangers are refused (GOAWAY BUSY). */
export const MAX_STRANGER_SESSIONS = 128;
/** Inbound sessions with strangers per source IP. */
export const MAX_STRANGER_SESSIONS_PER_IP = 8;
/** Bytes queued for a stranger that does not read before its session is closed. */
export const STRANGER_WRITE_BUFFER_BYTES = 1024 * 1024;
/** The peer's HELLO must arrive within this time after the TLS handshake. */
export const HELLO_TIMEOUT_MS = 10_000;
/** PINGs a peer may send (sustained per second, burst); faster is a protocol violation. */
export const PING_RATE = { perSecond: 1, burst: 10 } as const;
/** Keepalive: a PING is sent this often on every session. */
export const PING_INTERVAL_MS = 5_000;
/** A peer from which nothing (not even a PONG) arrived for this long is declared dead. */
export const DEAD_AFTER_MS = 15_000;
/** Bytes queued for a peer that does not read before the session is closed. */
export const MAX_WRITE_BUFFER_BYTES = 16 * 1024 * 1024;

export interface TransportLimits {
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  maxPendingHandshakesPerIp: number;
  maxPendingHandshakes: number;
  maxSessionsPerIp: number;
  maxSessions: number;
  maxStrangerSessions: number;
  maxStrangerSessionsPerIp: number;
  strangerWriteBufferBytes: number;
  pingIntervalMs: number;
  deadAfterMs: number;
  maxWriteBufferBytes: number;
  /** Frame payload cap (<= wire MAX_PAYLOAD_SIZE). */
  maxPayload: number;
}
