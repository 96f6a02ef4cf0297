/**
 * What signaler instances of one cluster store in Redis and tell each other over pub/sub.
 * Pure codecs; both are *hints* between instances of one operator: a node's identity is
 * never taken from here (every node session is mutual TLS, every relayed session runs
 * end-to-end TLS between the nodes), see docs/SCALING.md "Trust".
 *
 * Presence (the value of key `<prefix>node:<node id>`, expiring):
 *
 *    0            8          10        12           20
 *    +------------+----------+---------+------------+----------+----------------+
 *    |  instance  |  listen  |  rtt    | registered |observed  | local endpoints|
 *    |    8B      | port u16 | ms u16  |  at u64 ms |endpoint  | u8 n, n x ep   |
 *    +------------+----------+---------+------------+----------+----------------+
 *
 * The instance id comes first so that a Lua script can compare it (withdraw only one's own).
 *
 * Bus message (published on channel `<prefix>bus:<instance hex>`):
 *
 *    | u8 kind | 8B sender instance | body |
 *
 *  PUNCH_ASK    1 | u32 corr | 32B requester | 32B target | u16 listenPort | u16 rttMs | u8 hasV6 | observed ep | locals list |
 *  PUNCH_ANSWER 2 | u32 corr | u8 status | u32 delayMs | u16 listenPort | public ep | locals list |
 *  RELAY_DOWN   3 | 32B node | u8 frame type | relay payload |   (circuit owner -> the node's instance)
 *  RELAY_UP     4 | 32B node | u8 frame type | relay payload |   (the node's instance -> circuit owner)
 *  EVICT        5 | 32B node |                                 (the node registered elsewhere since)
 *
 * Relay payloads start with the circuit id (u32) as in src/wire/relay.ts; on the bus it is
 * always the circuit owner's id (the instance where the requester is registered).
 */
import type { Endpoint } from '../wire/index.js';
import { PayloadReader, PayloadWriter } from '../wire/bytes.js';
import { endpointListSize, endpointSize, readEndpoint, readEndpointList, writeEndpoint, writeEndpointList } from '../wire/endpoint.js';
import { SentinelError } from '../errors.js';

/** Bytes of an instance id. */
export const INSTANCE_ID_BYTES = 8;
const KEY = 32;

export interface Presence {
  /** Instance id, hex (16 digits). */
  instance: string;
  listenPort: number;
  rttMs: number;
  registeredAt: number;
  observed: Endpoint;
  local: Endpoint[];
}

function instanceBytes(hex: string): Buffer {
  const b = Buffer.from(hex, 'hex');
  if (b.length !== INSTANCE_ID_BYTES) throw new SentinelError('E_PAYLOAD_MALFORMED', `encode: instance id must be ${INSTANCE_ID_BYTES} bytes hex`);
  return b;
}

const clampU16 = (n: number): number => Math.max(0, Math.min(0xffff, Math.round(n)));

export function encodePresence(p: Presence): Buffer {
  const size = INSTANCE_ID_BYTES + 2 + 2 + 8 + endpointSize(p.observed) + endpointListSize(p.local);
  const w = new PayloadWriter(size).bytes(instanceBytes(p.instance)).u16(p.listenPort).u16(clampU16(p.rttMs)).u64(BigInt(p.registeredAt));
  writeEndpoint(w, p.observed);
  writeEndpointList(w, p.local);
  return w.done();
}

export function decodePresence(b: Uint8Array): Presence {
  const r = new PayloadReader(b, 'presence');
  const instance = Buffer.from(r.bytes(INSTANCE_ID_BYTES)).toString('hex');
  const listenPort = r.u16();
  const rttMs = r.u16();
  const registeredAt = Number(r.u64());
  const observed = readEndpoint(r);
  const local = readEndpointList(r);
  r.end();
  return { instance, listenPort, rttMs, registeredAt, observed, local };
}

export const BusKind = { PUNCH_ASK: 1, PUNCH_ANSWER: 2, RELAY_DOWN: 3, RELAY_UP: 4, EVICT: 5 } as const;

/** PUNCH_ANSWER status: 0 = the target was told; otherwise why not. */
export const PunchStatus = { OK: 0, PAIR: 1, TARGET_IP: 2, TARGET: 3, NOT_FOUND: 4, SELF: 5 } as const;

export interface PunchAsk {
  kind: typeof BusKind.PUNCH_ASK;
  corr: number;
  requester: Uint8Array;
  target: Uint8Array;
  listenPort: number;
  rttMs: number;
  hasV6: boolean;
  observed: Endpoint;
  local: Endpoint[];
}

export interface PunchAnswer {
  kind: typeof BusKind.PUNCH_ANSWER;
  corr: number;
  status: number;
  delayMs: number;
  listenPort: number;
  public: Endpoint;
  local: Endpoint[];
}

export interface RelayHop {
  kind: typeof BusKind.RELAY_DOWN | typeof BusKind.RELAY_UP;
  node: Uint8Array;
  frameType: number;
  payload: Buffer;
}

export interface Evict {
  kind: typeof BusKind.EVICT;
  node: Uint8Array;
}

export type BusMessage = PunchAsk | PunchAnswer | RelayHop | Evict;

/** A decoded bus message and the instance (hex) that sent it. */
export interface BusEnvelope {
  from: string;
  msg: BusMessage;
}

function bodySize(m: BusMessage): number {
  switch (m.kind) {
    case BusKind.PUNCH_ASK:
      return 4 + KEY + KEY + 2 + 2 + 1 + endpointSize(m.observed) + endpointListSize(m.local);
    case BusKind.PUNCH_ANSWER:
      return 4 + 1 + 4 + 2 + endpointSize(m.public) + endpointListSize(m.local);
    case BusKind.RELAY_DOWN:
    case BusKind.RELAY_UP:
      return KEY + 1 + m.payload.length;
    case BusKind.EVICT:
      return KEY;
  }
}

export function encodeBus(from: string, m: BusMessage): Buffer {
  const w = new PayloadWriter(1 + INSTANCE_ID_BYTES + bodySize(m)).u8(m.kind).bytes(instanceBytes(from));
  switch (m.kind) {
    case BusKind.PUNCH_ASK:
      w.u32(m.corr).bytes(m.requester).bytes(m.target).u16(m.listenPort).u16(clampU16(m.rttMs)).u8(m.hasV6 ? 1 : 0);
      writeEndpoint(w, m.observed);
      writeEndpointList(w, m.local);
      break;
    case BusKind.PUNCH_ANSWER:
      w.u32(m.corr).u8(m.status).u32(m.delayMs).u16(m.listenPort);
      writeEndpoint(w, m.public);
      writeEndpointList(w, m.local);
      break;
    case BusKind.RELAY_DOWN:
    case BusKind.RELAY_UP:
      w.bytes(m.node).u8(m.frameType).bytes(m.payload);
      break;
    case BusKind.EVICT:
      w.bytes(m.node);
      break;
  }
  return w.done();
}

export function decodeBus(b: Uint8Array): BusEnvelope {
  const r = new PayloadReader(b, 'cluster bus message');
  const kind = r.u8();
  const from = Buffer.from(r.bytes(INSTANCE_ID_BYTES)).toString('hex');
  const key = (): Uint8Array => Buffer.from(r.bytes(KEY));
  let msg: BusMessage;
  switch (kind) {
    case BusKind.PUNCH_ASK: {
      const corr = r.u32();
      const requester = key();
      const target = key();
      const listenPort = r.u16();
      const rttMs = r.u16();
      const hasV6 = r.u8() === 1;
      const observed = readEndpoint(r);
      const local = readEndpointList(r);
      msg = { kind, corr, requester, target, listenPort, rttMs, hasV6, observed, local };
      break;
    }
    case BusKind.PUNCH_ANSWER: {
      const corr = r.u32();
      const status = r.u8();
      const delayMs = r.u32();
      const listenPort = r.u16();
      const pub = readEndpoint(r);
      const local = readEndpointList(r);
      msg = { kind, corr, status, delayMs, listenPort, public: pub, local };
      break;
    }
    case BusKind.RELAY_DOWN:
    case BusKind.RELAY_UP: {
      const node = key();
      const frameType = r.u8();
      // A view, not a copy: relayed data is the bulk of the bus, and the message is ours.
      const payload = r.view(r.remaining);
      if (payload.length < 4) r.fail('relay payload without a circuit id');
      msg = { kind, node, frameType, payload };
      break;
    }
    case BusKind.EVICT:
      msg = { kind, node: key() };
      break;
    default:
      return r.fail(`unknown kind ${kind}`);
  }
  r.end();
  return { from, msg };
}
