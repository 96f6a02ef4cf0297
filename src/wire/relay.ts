/**
 * Relay messages (frame types 0x27-0x2F, critical: only on node<->relay sessions: a node
 * and its signaler, or a node and a peer relay, a node started with `--relay`). A relay joins two of its sessions into a *circuit* and forwards the
 * bytes of a second, end-to-end TLS session that the two nodes run inside it; the relay
 * sees only that ciphertext. Node ids travel as raw 32-byte Ed25519 public keys.
 *
 *  RELAY_OPEN      node->relay | u32 reqId | 32B target |
 *  RELAY_INCOMING  relay->node | u32 circuit | 32B peer |
 *  RELAY_ACCEPT    node->relay | u32 circuit |
 *  RELAY_OPENED    relay->node | u32 reqId | u32 circuit |
 *  RELAY_DATA      both ways   | u32 circuit | data (1..RELAY_MAX_DATA bytes) |
 *  RELAY_CREDIT    both ways   | u32 circuit | u32 bytes (> 0) |
 *  RELAY_CLOSE     both ways   | u32 circuit | u16 code | u16 reasonLen | reason UTF-8 (<= 256B) |
 *  RELAY_BIND      node->peer relay | u32 reqId |
 *  RELAY_BOUND     peer relay->node | u32 reqId | u16 maxCircuits | u32 bytesPerSecond | u32 idleTimeoutS |
 *
 * RELAY_BIND is how a node *chooses* a peer relay: it asks to be offered circuits through it
 * (a signaler offers circuits to every registered node instead). RELAY_BOUND accepts and
 * states the limits that apply to the node there; a refusal is SIGNAL_ERROR with the reqId.
 * Flow: A sends RELAY_OPEN; the relay checks its limits and sends RELAY_INCOMING to the
 * target B with a fresh circuit id; B answers RELAY_ACCEPT (or RELAY_CLOSE to decline);
 * the relay then sends RELAY_OPENED to A with the same circuit id. A refusal, or no answer
 * from B in time, reaches A as SIGNAL_ERROR with A's reqId. Flow control is end to end:
 * each side may have at most RELAY_WINDOW bytes of RELAY_DATA unacknowledged on a circuit;
 * the receiver returns RELAY_CREDIT as it consumes data, and the relay forwards credits
 * unchanged. A relay closes a circuit whose sender exceeds the window.
 */
import { PayloadReader, PayloadWriter, requireBytes, requireUint } from './bytes.js';
import { PUBLIC_KEY_SIZE } from './chat.js';
import { decodeHeadCodeReason, encodeHeadCodeReason } from './signal.js';
import { SentinelError } from '../errors.js';

/** Largest data chunk of one RELAY_DATA frame (one TLS record's worth). */
export const RELAY_MAX_DATA = 16 * 1024;
/** Bytes of RELAY_DATA a side may have in flight per circuit before it waits for credit. */
export const RELAY_WINDOW = 256 * 1024;

/** Why a circuit closed (RELAY_CLOSE code), or why an open was refused (SIGNAL_ERROR code). */
export const RelayCloseCode = {
  /** Closed by one end (normal end of the relayed session). */
  NORMAL: 0,
  /** The target declined, or is not someone who accepts relayed sessions from us. */
  REFUSED: 1,
  /** A relay limit (circuits, rate, memory): try later or elsewhere. */
  LIMIT: 2,
  /** No data for the idle timeout. */
  IDLE: 3,
  /** The other end's session with the relay ended. */
  GONE: 4,
  /** A malformed or out-of-window message. */
  PROTOCOL: 5,
  /** The target did not answer RELAY_INCOMING in time. */
  TIMEOUT: 6,
  /** The relay does not relay (e.g. `sentinel-signaler --no-relay`). */
  DISABLED: 7,
} as const;

export interface RelayOpen {
  reqId: number;
  target: Uint8Array;
}
export interface RelayIncoming {
  circuit: number;
  peer: Uint8Array;
}
export interface RelayAccept {
  circuit: number;
}
export interface RelayOpened {
  reqId: number;
  circuit: number;
}
export interface RelayData {
  circuit: number;
  data: Uint8Array;
}
export interface RelayCredit {
  circuit: number;
  bytes: number;
}
export interface RelayBind {
  reqId: number;
}
export interface RelayBound {
  reqId: number;
  /** Circuits the node may have through this relay at once. */
  maxCircuits: number;
  /** RELAY_DATA bytes per second the relay forwards for the node. */
  bytesPerSecond: number;
  /** Seconds without data after which the relay closes a circuit. */
  idleTimeoutS: number;
}
export interface RelayClose {
  circuit: number;
  code: number;
  reason: string;
}

export function encodeRelayOpen(m: RelayOpen): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  requireBytes(m.target, PUBLIC_KEY_SIZE, 'target');
  return new PayloadWriter(4 + PUBLIC_KEY_SIZE).u32(m.reqId).bytes(m.target).done();
}
export function decodeRelayOpen(p: Uint8Array): RelayOpen {
  const r = new PayloadReader(p, 'RELAY_OPEN');
  const m = { reqId: r.u32(), target: r.bytes(PUBLIC_KEY_SIZE) };
  r.end();
  return m;
}

export function encodeRelayIncoming(m: RelayIncoming): Buffer {
  requireUint(m.circuit, 0xffffffff, 'circuit');
  requireBytes(m.peer, PUBLIC_KEY_SIZE, 'peer');
  return new PayloadWriter(4 + PUBLIC_KEY_SIZE).u32(m.circuit).bytes(m.peer).done();
}
export function decodeRelayIncoming(p: Uint8Array): RelayIncoming {
  const r = new PayloadReader(p, 'RELAY_INCOMING');
  const m = { circuit: r.u32(), peer: r.bytes(PUBLIC_KEY_SIZE) };
  r.end();
  return m;
}

export function encodeRelayAccept(m: RelayAccept): Buffer {
  requireUint(m.circuit, 0xffffffff, 'circuit');
  return new PayloadWriter(4).u32(m.circuit).done();
}
export function decodeRelayAccept(p: Uint8Array): RelayAccept {
  const r = new PayloadReader(p, 'RELAY_ACCEPT');
  const m = { circuit: r.u32() };
  r.end();
  return m;
}

export function encodeRelayOpened(m: RelayOpened): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  requireUint(m.circuit, 0xffffffff, 'circuit');
  return new PayloadWriter(8).u32(m.reqId).u32(m.circuit).done();
}
export function decodeRelayOpened(p: Uint8Array): RelayOpened {
  const r = new PayloadReader(p, 'RELAY_OPENED');
  const m = { reqId: r.u32(), circuit: r.u32() };
  r.end();
  return m;
}

export function encodeRelayData(m: RelayData): Buffer {
  requireUint(m.circuit, 0xffffffff, 'circuit');
  if (m.data.length < 1 || m.data.length > RELAY_MAX_DATA) throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: RELAY_DATA of ${m.data.length} bytes (1..${RELAY_MAX_DATA})`);
  return new PayloadWriter(4 + m.data.length).u32(m.circuit).bytes(m.data).done();
}
export function decodeRelayData(p: Uint8Array): RelayData {
  const r = new PayloadReader(p, 'RELAY_DATA');
  const circuit = r.u32();
  const n = r.remaining;
  if (n < 1 || n > RELAY_MAX_DATA) r.fail(`${n} data bytes (1..${RELAY_MAX_DATA})`);
  const data = r.bytes(n);
  r.end();
  return { circuit, data };
}

export function encodeRelayCredit(m: RelayCredit): Buffer {
  requireUint(m.circuit, 0xffffffff, 'circuit');
  requireUint(m.bytes, 0xffffffff, 'bytes');
  if (m.bytes === 0) throw new SentinelError('E_PAYLOAD_MALFORMED', 'encode: RELAY_CREDIT of 0 bytes');
  return new PayloadWriter(8).u32(m.circuit).u32(m.bytes).done();
}
export function decodeRelayCredit(p: Uint8Array): RelayCredit {
  const r = new PayloadReader(p, 'RELAY_CREDIT');
  const m = { circuit: r.u32(), bytes: r.u32() };
  if (m.bytes === 0) r.fail('credit of 0 bytes');
  r.end();
  return m;
}

export function encodeRelayClose(m: RelayClose): Buffer {
  return encodeHeadCodeReason(m.circuit, m.code, m.reason, 'circuit');
}
export function decodeRelayClose(p: Uint8Array): RelayClose {
  const { head, code, reason } = decodeHeadCodeReason(p, 'RELAY_CLOSE');
  return { circuit: head, code, reason };
}

export function encodeRelayBind(m: RelayBind): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  return new PayloadWriter(4).u32(m.reqId).done();
}
export function decodeRelayBind(p: Uint8Array): RelayBind {
  const r = new PayloadReader(p, 'RELAY_BIND');
  const m = { reqId: r.u32() };
  r.end();
  return m;
}

export function encodeRelayBound(m: RelayBound): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  requireUint(m.maxCircuits, 0xffff, 'maxCircuits');
  requireUint(m.bytesPerSecond, 0xffffffff, 'bytesPerSecond');
  requireUint(m.idleTimeoutS, 0xffffffff, 'idleTimeoutS');
  return new PayloadWriter(14).u32(m.reqId).u16(m.maxCircuits).u32(m.bytesPerSecond).u32(m.idleTimeoutS).done();
}
export function decodeRelayBound(p: Uint8Array): RelayBound {
  const r = new PayloadReader(p, 'RELAY_BOUND');
  const m = { reqId: r.u32(), maxCircuits: r.u16(), bytesPerSecond: r.u32(), idleTimeoutS: r.u32() };
  r.end();
  return m;
}
