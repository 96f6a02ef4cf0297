/**
 * Signaler messages (frame types 0x20-0x26, critical: only on node<->signaler sessions).
 * Node ids travel as raw 32-byte Ed25519 public keys. `reqId` is chosen by the node and
 * echoed in the answer; 0 marks a message the signaler sends unprompted.
 *
 *  REGISTER       node->sig   | u16 listenPort | endpoint list (local addresses) |
 *  REGISTERED     sig->node   | endpoint (observed public address of this session) |
 *                             | optional relay limits: u16 maxCircuits | u32 bytesPerSecond | u32 idleTimeoutS |
 *  LOOKUP         node->sig   | u32 reqId | 32B target |
 *  LOOKUP_RESULT  sig->node   | u32 reqId | 32B target | endpoint (public) | endpoint list (local) |
 *  PUNCH_REQUEST  node->sig   | u32 reqId | 32B target |
 *  PUNCH_START    sig->node   | u32 reqId | 32B peer | u32 delayMs | u16 attempts | u16 intervalMs |
 *                             | u16 peer listenPort | endpoint (peer public) | endpoint list (peer local) |
 *                             | u8 sameNat |
 *  SIGNAL_ERROR   sig->node   | u32 reqId | u16 code | u16 reasonLen | reason UTF-8 (<= 256B) |
 *
 * Endpoint layout: see endpoint.ts.
 */
import { PayloadReader, PayloadWriter, requireBytes, requireUint } from './bytes.js';
import { PUBLIC_KEY_SIZE } from './chat.js';
import { MAX_REASON_BYTES } from './goaway.js';
import { endpointListSize, endpointSize, readEndpoint, readEndpointList, writeEndpoint, writeEndpointList, type Endpoint } from './endpoint.js';
import { SentinelError } from '../errors.js';

export const SignalErrorCode = {
  NOT_FOUND: 1,
  RATE_LIMITED: 2,
  BAD_REQUEST: 3,
  NOT_REGISTERED: 4,
  /** RELAY_OPEN: the target declined the circuit. */
  REFUSED: 5,
  /** RELAY_OPEN: this signaler does not relay (`--no-relay`). */
  RELAY_DISABLED: 6,
  /** RELAY_OPEN: the target did not answer in time. */
  TIMEOUT: 7,
  /** A signaler cluster cannot answer for nodes at other instances now (its store is unreachable). */
  UNAVAILABLE: 8,
} as const;

export interface Register {
  listenPort: number;
  local: Endpoint[];
}
export interface Registered {
  observed: Endpoint;
  /**
   * Present when the signaler relays: the limits that apply to this node there (circuits,
   * RELAY_DATA bytes per second, idle timeout). Absent: it does not relay (`--no-relay`).
   */
  relay?: { maxCircuits: number; bytesPerSecond: number; idleTimeoutS: number };
}
export interface Lookup {
  reqId: number;
  target: Uint8Array;
}
export interface LookupResult {
  reqId: number;
  target: Uint8Array;
  public: Endpoint;
  local: Endpoint[];
}
export type PunchRequest = Lookup;
export interface PunchStart {
  reqId: number;
  peer: Uint8Array;
  /** Start connecting this long after receipt. */
  delayMs: number;
  attempts: number;
  intervalMs: number;
  /** The identity port the peer registered (compare with its public port: NAT kind). */
  listenPort: number;
  public: Endpoint;
  local: Endpoint[];
  /** Both nodes appear behind the same public address: try local addresses first. */
  sameNat: boolean;
}
export interface SignalError {
  reqId: number;
  code: number;
  reason: string;
}

export function encodeRegister(m: Register): Buffer {
  requireUint(m.listenPort, 0xffff, 'listenPort');
  const w = new PayloadWriter(2 + endpointListSize(m.local)).u16(m.listenPort);
  writeEndpointList(w, m.local);
  return w.done();
}
export function decodeRegister(p: Uint8Array): Register {
  const r = new PayloadReader(p, 'REGISTER');
  const m = { listenPort: r.u16(), local: readEndpointList(r) };
  r.end();
  return m;
}

export function encodeRegistered(m: Registered): Buffer {
  const relay = m.relay;
  if (relay) {
    requireUint(relay.maxCircuits, 0xffff, 'maxCircuits');
    requireUint(relay.bytesPerSecond, 0xffffffff, 'bytesPerSecond');
    requireUint(relay.idleTimeoutS, 0xffffffff, 'idleTimeoutS');
  }
  const w = new PayloadWriter(endpointSize(m.observed) + (relay ? 10 : 0));
  writeEndpoint(w, m.observed);
  if (relay) w.u16(relay.maxCircuits).u32(relay.bytesPerSecond).u32(relay.idleTimeoutS);
  return w.done();
}
export function decodeRegistered(p: Uint8Array): Registered {
  const r = new PayloadReader(p, 'REGISTERED');
  const observed = readEndpoint(r);
  if (r.remaining === 0) return { observed };
  const m = { observed, relay: { maxCircuits: r.u16(), bytesPerSecond: r.u32(), idleTimeoutS: r.u32() } };
  r.end();
  return m;
}

function encodeTargeted(m: Lookup): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  requireBytes(m.target, PUBLIC_KEY_SIZE, 'target');
  return new PayloadWriter(4 + PUBLIC_KEY_SIZE).u32(m.reqId).bytes(m.target).done();
}
function decodeTargeted(p: Uint8Array, what: string): Lookup {
  const r = new PayloadReader(p, what);
  const m = { reqId: r.u32(), target: r.bytes(PUBLIC_KEY_SIZE) };
  r.end();
  return m;
}
export const encodeLookup = encodeTargeted;
export const decodeLookup = (p: Uint8Array): Lookup => decodeTargeted(p, 'LOOKUP');
export const encodePunchRequest = encodeTargeted;
export const decodePunchRequest = (p: Uint8Array): PunchRequest => decodeTargeted(p, 'PUNCH_REQUEST');

export function encodeLookupResult(m: LookupResult): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  requireBytes(m.target, PUBLIC_KEY_SIZE, 'target');
  const w = new PayloadWriter(4 + PUBLIC_KEY_SIZE + endpointSize(m.public) + endpointListSize(m.local)).u32(m.reqId).bytes(m.target);
  writeEndpoint(w, m.public);
  writeEndpointList(w, m.local);
  return w.done();
}
export function decodeLookupResult(p: Uint8Array): LookupResult {
  const r = new PayloadReader(p, 'LOOKUP_RESULT');
  const m = { reqId: r.u32(), target: r.bytes(PUBLIC_KEY_SIZE), public: readEndpoint(r), local: readEndpointList(r) };
  r.end();
  return m;
}

export function encodePunchStart(m: PunchStart): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  requireBytes(m.peer, PUBLIC_KEY_SIZE, 'peer');
  requireUint(m.delayMs, 0xffffffff, 'delayMs');
  requireUint(m.attempts, 0xffff, 'attempts');
  requireUint(m.intervalMs, 0xffff, 'intervalMs');
  requireUint(m.listenPort, 0xffff, 'listenPort');
  const w = new PayloadWriter(4 + PUBLIC_KEY_SIZE + 4 + 2 + 2 + 2 + endpointSize(m.public) + endpointListSize(m.local) + 1)
    .u32(m.reqId)
    .bytes(m.peer)
    .u32(m.delayMs)
    .u16(m.attempts)
    .u16(m.intervalMs)
    .u16(m.listenPort);
  writeEndpoint(w, m.public);
  writeEndpointList(w, m.local);
  return w.u8(m.sameNat ? 1 : 0).done();
}
export function decodePunchStart(p: Uint8Array): PunchStart {
  const r = new PayloadReader(p, 'PUNCH_START');
  const reqId = r.u32();
  const peer = r.bytes(PUBLIC_KEY_SIZE);
  const delayMs = r.u32();
  const attempts = r.u16();
  const intervalMs = r.u16();
  const listenPort = r.u16();
  const pub = readEndpoint(r);
  const local = readEndpointList(r);
  const flag = r.u8();
  if (flag > 1) r.fail(`sameNat flag ${flag}`);
  r.end();
  return { reqId, peer, delayMs, attempts, intervalMs, listenPort, public: pub, local, sameNat: flag === 1 };
}

/**
 * `u32 head | u16 code | u16 reasonLen | reason UTF-8 (<= MAX_REASON_BYTES)`: the layout of
 * SIGNAL_ERROR (head = reqId) and RELAY_CLOSE (head = circuit).
 */
export function encodeHeadCodeReason(head: number, code: number, text: string, headField: string): Buffer {
  requireUint(head, 0xffffffff, headField);
  requireUint(code, 0xffff, 'code');
  const reason = Buffer.from(text, 'utf8');
  if (reason.length > MAX_REASON_BYTES) throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: reason over ${MAX_REASON_BYTES} bytes`);
  return new PayloadWriter(8 + reason.length).u32(head).u16(code).u16(reason.length).bytes(reason).done();
}
export function decodeHeadCodeReason(p: Uint8Array, what: string): { head: number; code: number; reason: string } {
  const r = new PayloadReader(p, what);
  const head = r.u32();
  const code = r.u16();
  const len = r.u16();
  if (len > MAX_REASON_BYTES) r.fail(`reason of ${len} bytes`);
  if (len !== r.remaining) r.fail(`reasonLen ${len} but ${r.remaining} byte(s) follow`);
  const reason = r.utf8(len, 'reason');
  r.end();
  return { head, code, reason };
}

export function encodeSignalError(m: SignalError): Buffer {
  return encodeHeadCodeReason(m.reqId, m.code, m.reason, 'reqId');
}
export function decodeSignalError(p: Uint8Array): SignalError {
  const { head, code, reason } = decodeHeadCodeReason(p, 'SIGNAL_ERROR');
  return { reqId: head, code, reason };
}
