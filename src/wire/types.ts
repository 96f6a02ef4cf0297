/**
 * Frame type registry and the unknown-type rule.
 *
 *   type byte   class      unknown type received
 *   0x00-0x7F   critical   protocol violation: E_FRAME_UNKNOWN_TYPE, the session closes
 *   0x80-0xFF   optional   ignored and counted
 *
 *   0x01 HELLO   0x02 PING   0x03 PONG   0x04 GOAWAY   0x10 CHAT   0x11 ACK   0x12 CHAT_BATCHED
 *   0x20-0x26 signaler messages (signal.ts): REGISTER, REGISTERED, LOOKUP, LOOKUP_RESULT,
 *             PUNCH_REQUEST, PUNCH_START, SIGNAL_ERROR
 *   0x27-0x2F relay messages (relay.ts): RELAY_OPEN, RELAY_OPENED, RELAY_INCOMING,
 *             RELAY_ACCEPT, RELAY_DATA, RELAY_CREDIT, RELAY_CLOSE, RELAY_BIND, RELAY_BOUND
 *   0x30 PACKETS   0x31 VPN_ADDR   0x32 PACKETS_GSO   (packets.ts)   0x33 DGRAM_OFFER (datagram.ts;
 *             sent only to a peer whose HELLO has HELLO_FLAG_DGRAM)
 *   0x80 GOSSIP_PUSH   0x81 GOSSIP_PULL_REPLY   (gossip.ts; optional range: a node without gossip ignores them)
 *   0x82 CHAT_REFUSED   (refuse.ts; optional: an older node ignores it and keeps resending)
 *   0x88 NETCHECK_REQUEST   0x89 NETCHECK_RESULT   (netcheck.ts; node <-> signaler, optional:
 *             a signaler that predates them ignores the request)
 *
 * New message types that an old peer may safely ignore must be allocated in 0x80-0xFF.
 */

/** Frame type byte of every message this version understands. */
export const FrameType = {
  HELLO: 0x01,
  PING: 0x02,
  PONG: 0x03,
  GOAWAY: 0x04,
  CHAT: 0x10,
  ACK: 0x11,
  CHAT_BATCHED: 0x12,
  // node <-> signaler only (signal.ts)
  REGISTER: 0x20,
  REGISTERED: 0x21,
  LOOKUP: 0x22,
  LOOKUP_RESULT: 0x23,
  PUNCH_REQUEST: 0x24,
  PUNCH_START: 0x25,
  SIGNAL_ERROR: 0x26,
  // node <-> relay only (relay.ts)
  RELAY_OPEN: 0x27,
  RELAY_OPENED: 0x28,
  RELAY_INCOMING: 0x29,
  RELAY_ACCEPT: 0x2a,
  RELAY_DATA: 0x2b,
  RELAY_CREDIT: 0x2c,
  RELAY_CLOSE: 0x2d,
  // node <-> peer relay only (relay.ts)
  RELAY_BIND: 0x2e,
  RELAY_BOUND: 0x2f,
  // VPN (packets.ts)
  PACKETS: 0x30,
  VPN_ADDR: 0x31,
  PACKETS_GSO: 0x32,
  // VPN datagram path (datagram.ts)
  DGRAM_OFFER: 0x33,
  // peer-record gossip (gossip.ts)
  GOSSIP_PUSH: 0x80,
  GOSSIP_PULL_REPLY: 0x81,
  // messaging, optional (refuse.ts)
  CHAT_REFUSED: 0x82,
  // node <-> signaler netcheck, optional (netcheck.ts)
  NETCHECK_REQUEST: 0x88,
  NETCHECK_RESULT: 0x89,
} as const;

/** Name of a known frame type, e.g. `'CHAT'`. */
export type FrameTypeName = keyof typeof FrameType;
/** Numeric value of a known frame type. */
export type FrameTypeValue = (typeof FrameType)[FrameTypeName];

/** Lowest type byte of the optional (ignorable) range. */
export const FIRST_OPTIONAL_TYPE = 0x80;

const NAMES = new Map<number, FrameTypeName>(
  (Object.keys(FrameType) as FrameTypeName[]).map((name) => [FrameType[name], name]),
);

/** True when `t` is a frame type this version understands. */
export function isKnownType(t: number): t is FrameTypeValue {
  return NAMES.has(t);
}

/** True when `t` is a type byte in the critical range 0x00-0x7F. */
export function isCriticalType(t: number): boolean {
  return Number.isInteger(t) && t >= 0 && t < FIRST_OPTIONAL_TYPE;
}

/** Name of a known type, or a hex label such as `'0x7e'` for logs. */
export function frameTypeName(t: number): string {
  return NAMES.get(t) ?? `0x${t.toString(16).padStart(2, '0')}`;
}

/**
 * What a receiver must do with a frame of type `t`: `'handle'` it, `'ignore'` it (unknown
 * optional type: count it), or treat it as a `'violation'` (unknown critical type:
 * close the session with E_FRAME_UNKNOWN_TYPE).
 */
export function classifyFrameType(t: number): 'handle' | 'ignore' | 'violation' {
  if (isKnownType(t)) return 'handle';
  return isCriticalType(t) ? 'violation' : 'ignore';
}
