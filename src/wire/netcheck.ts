/**
 * Netcheck messages: how a node learns from its signaler how its network treats it
 * (docs/PROTOCOL.md "Netcheck"). Optional frame types, so a signaler that predates them
 * ignores the request (the node then reports `unknown`), never closes the session.
 *
 *  NETCHECK_REQUEST  node->sig  | u32 reqId | u8 flags |
 *                                 flags bit 0: test filtering (the signaler connects to us)
 *  NETCHECK_RESULT   sig->node  | u32 reqId | u16 probePort | u8 inbound | endpoint list (probe6) |
 *                                 probePort 0: the signaler has no probe port (`--probe-port 0`)
 *                                 inbound: what the signaler's connect to our observed address
 *                                 met (ProbeOutcome); probe6: the signaler's global IPv6
 *                                 addresses on the probe port (at most MAX_PROBE6)
 *
 * The probe port is plain TCP, not a frame stream: on each connection the signaler writes
 * one OBSERVED answer and closes.
 *
 *  OBSERVED          sig->node  | "SNTLOBS" 0x01 (8 bytes) | endpoint (the connection's source as seen) |
 *
 * Endpoint layout: see endpoint.ts.
 */
import { PayloadReader, PayloadWriter, requireUint } from './bytes.js';
import { endpointListSize, endpointSize, readEndpoint, readEndpointList, writeEndpoint, writeEndpointList, type Endpoint } from './endpoint.js';
import { SentinelError } from '../errors.js';

/** NETCHECK_REQUEST flag: connect to the requester's observed address and report what happened. */
export const NETCHECK_FLAG_FILTERING = 0x01;
/** Most IPv6 probe addresses in a NETCHECK_RESULT. */
export const MAX_PROBE6 = 2;

/** What the signaler's unsolicited connect to the requester met. */
export const ProbeOutcome = {
  /** Not asked for, or the signaler has no probe port. */
  NOT_TESTED: 0,
  /** The TCP handshake completed: unsolicited inbound reaches the node. */
  CONNECTED: 1,
  /** Answered with a TCP reset. */
  RESET: 2,
  /** Answered with an ICMP error (e.g. administratively prohibited). */
  UNREACHABLE: 3,
  /** No answer within the signaler's connect timeout: dropped. */
  TIMEOUT: 4,
  /** Not tested: over the signaler's netcheck limits. */
  LIMITED: 5,
} as const;
export type ProbeOutcomeValue = (typeof ProbeOutcome)[keyof typeof ProbeOutcome];
const LAST_OUTCOME = ProbeOutcome.LIMITED;

export interface NetcheckRequest {
  reqId: number;
  flags: number;
}
export interface NetcheckResult {
  reqId: number;
  probePort: number;
  inbound: ProbeOutcomeValue;
  probe6: Endpoint[];
}

/** The 8 bytes that open an OBSERVED answer. */
export const OBSERVED_MAGIC = Buffer.from('SNTLOBS\x01', 'latin1');
/** Longest OBSERVED answer: magic + an IPv6 endpoint. */
export const MAX_OBSERVED_SIZE = OBSERVED_MAGIC.length + 19;

export function encodeNetcheckRequest(m: NetcheckRequest): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  requireUint(m.flags, 0xff, 'flags');
  return new PayloadWriter(5).u32(m.reqId).u8(m.flags).done();
}
export function decodeNetcheckRequest(p: Uint8Array): NetcheckRequest {
  const r = new PayloadReader(p, 'NETCHECK_REQUEST');
  const m = { reqId: r.u32(), flags: r.u8() };
  r.end();
  return m;
}

export function encodeNetcheckResult(m: NetcheckResult): Buffer {
  requireUint(m.reqId, 0xffffffff, 'reqId');
  requireUint(m.probePort, 0xffff, 'probePort');
  requireUint(m.inbound, LAST_OUTCOME, 'inbound');
  if (m.probe6.length > MAX_PROBE6) throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: probe6 has ${m.probe6.length} endpoints (max ${MAX_PROBE6})`);
  const w = new PayloadWriter(7 + endpointListSize(m.probe6)).u32(m.reqId).u16(m.probePort).u8(m.inbound);
  writeEndpointList(w, m.probe6);
  return w.done();
}
export function decodeNetcheckResult(p: Uint8Array): NetcheckResult {
  const r = new PayloadReader(p, 'NETCHECK_RESULT');
  const reqId = r.u32();
  const probePort = r.u16();
  const inbound = r.u8();
  if (inbound > LAST_OUTCOME) throw new SentinelError('E_PAYLOAD_MALFORMED', `NETCHECK_RESULT: unknown inbound outcome ${inbound}`);
  const probe6 = readEndpointList(r);
  if (probe6.length > MAX_PROBE6) throw new SentinelError('E_PAYLOAD_MALFORMED', `NETCHECK_RESULT: ${probe6.length} probe6 endpoints (max ${MAX_PROBE6})`);
  r.end();
  return { reqId, probePort, inbound: inbound as ProbeOutcomeValue, probe6 };
}

export function encodeObserved(e: Endpoint): Buffer {
  const w = new PayloadWriter(OBSERVED_MAGIC.length + endpointSize(e)).bytes(OBSERVED_MAGIC);
  writeEndpoint(w, e);
  return w.done();
}
/** Decode a whole OBSERVED answer (E_PAYLOAD_MALFORMED on a wrong magic, truncation or trailing bytes). */
export function decodeObserved(p: Uint8Array): Endpoint {
  const r = new PayloadReader(p, 'OBSERVED');
  if (!Buffer.from(r.bytes(OBSERVED_MAGIC.length)).equals(OBSERVED_MAGIC)) throw new SentinelError('E_PAYLOAD_MALFORMED', 'OBSERVED: bad magic');
  const e = readEndpoint(r);
  r.end();
  return e;
}
