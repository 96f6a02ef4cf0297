/**
 * Pure wire codecs: the frame header and decoder, the frame type registry, and one
 * payload codec per message. No sockets; byte layouts are at the top of each file and
 * in docs/PROTOCOL.md "Frames".
 */
export { FRAME_VERSION, HEADER_SIZE, MAX_PAYLOAD_SIZE, allocFramePayload, encodeFrame, encodeFrameHeader, prebuiltFrame, FrameDecoder } from './frame.js';
export type { Frame, FrameDecoderOptions } from './frame.js';
export {
  FrameType,
  FIRST_OPTIONAL_TYPE,
  isKnownType,
  isCriticalType,
  frameTypeName,
  classifyFrameType,
} from './types.js';
export type { FrameTypeName, FrameTypeValue } from './types.js';
export { HELLO_FLAG_RELAY, HELLO_FLAG_GSO, HELLO_FLAG_CHAT_BATCH, HELLO_FLAG_DGRAM, MAX_NAME_BYTES, encodeHello, decodeHello } from './hello.js';
export type { Hello } from './hello.js';
export { PING_SIZE, encodePing, decodePing } from './ping.js';
export type { Ping } from './ping.js';
export { MAX_REASON_BYTES, GoawayCode, goawayCodeName, encodeGoaway, decodeGoaway } from './goaway.js';
export type { Goaway, GoawayCodeName } from './goaway.js';
export {
  MAX_TEXT_BYTES,
  MSG_ID_SIZE,
  PUBLIC_KEY_SIZE,
  SIGNATURE_SIZE,
  CHAT_MIN_SIZE,
  CHAT_SIGNING_PREFIX,
  chatSigningInput,
  encodeChatBatched,
  decodeChatBatched,
  encodeProof,
  decodeProof,
  MAX_PROOF_DEPTH,
  PROOF_HASH_SIZE,
  encodeChat,
  decodeChat,
} from './chat.js';
export type { ChatMessage, ChatProof, UnsignedChat } from './chat.js';
export { MAX_ACK_IDS, encodeAck, decodeAck } from './ack.js';
export type { Ack } from './ack.js';
export { MAX_REFUSED_IDS, RefuseCode, isFinalRefusal, encodeChatRefused, decodeChatRefused } from './refuse.js';
export type { ChatRefused } from './refuse.js';
export { MAX_ENDPOINTS, type Endpoint } from './endpoint.js';
export {
  SignalErrorCode,
  encodeRegister,
  decodeRegister,
  encodeRegistered,
  decodeRegistered,
  encodeLookup,
  decodeLookup,
  encodeLookupResult,
  decodeLookupResult,
  encodePunchRequest,
  decodePunchRequest,
  encodePunchStart,
  decodePunchStart,
  encodeSignalError,
  decodeSignalError,
} from './signal.js';
export type { Register, Registered, Lookup, LookupResult, PunchRequest, PunchStart, SignalError } from './signal.js';
export {
  MAX_PACKETS_PER_FRAME,
  MAX_PACKET_SIZE,
  VPN_ADDR_SIZE,
  encodePackets,
  encodePacketBatches,
  decodePackets,
  encodePacketsGsoBatches,
  decodePacketsGso,
  encodeVpnAddr,
  decodeVpnAddr,
} from './packets.js';
export type { VpnAddr, PacketGso, PacketsGso } from './packets.js';
export {
  MAX_RECORD_ENDPOINTS,
  MAX_RECORD_BYTES,
  PEER_RECORD_MIN_SIZE,
  PEER_RECORD_SIGNING_PREFIX,
  RECORD_FLAG_RELAY,
  RECORD_FLAG_SIGNALER,
  peerRecordSigningInput,
  peerRecordSignedBytes,
  encodePeerRecord,
  decodePeerRecord,
} from './peer-record.js';
export type { PeerRecord, UnsignedPeerRecord } from './peer-record.js';
export {
  MAX_RECORDS_PER_MESSAGE,
  MAX_GOSSIP_PAYLOAD,
  encodeGossipPush,
  decodeGossipPush,
  encodeGossipPullReply,
  decodeGossipPullReply,
} from './gossip.js';
export { formatIpv4, formatIpv6, parseIpv4, parseIpv6, canonicalIp } from './ip-text.js';
export {
  RELAY_MAX_DATA,
  RELAY_WINDOW,
  RelayCloseCode,
  encodeRelayOpen,
  decodeRelayOpen,
  encodeRelayIncoming,
  decodeRelayIncoming,
  encodeRelayAccept,
  decodeRelayAccept,
  encodeRelayOpened,
  decodeRelayOpened,
  encodeRelayData,
  decodeRelayData,
  encodeRelayCredit,
  decodeRelayCredit,
  encodeRelayClose,
  decodeRelayClose,
  encodeRelayBind,
  decodeRelayBind,
  encodeRelayBound,
  decodeRelayBound,
} from './relay.js';
export type { RelayOpen, RelayIncoming, RelayAccept, RelayOpened, RelayData, RelayCredit, RelayClose, RelayBind, RelayBound } from './relay.js';
export {
  DatagramType,
  DATAGRAM_HEADER_SIZE,
  DATAGRAM_TAG_SIZE,
  DATAGRAM_OVERHEAD,
  PROBE_BODY_SIZE,
  DGRAM_OFFER_SIZE,
  DGRAM_VERSION,
  MAX_DATAGRAM_COUNTER,
  writeDatagramHeader,
  readDatagramHeader,
  encodeDgramOffer,
  decodeDgramOffer,
} from './datagram.js';
export type { DatagramHeader, DatagramTypeValue, DgramOffer } from './datagram.js';
export {
  NETCHECK_FLAG_FILTERING,
  MAX_PROBE6,
  ProbeOutcome,
  OBSERVED_MAGIC,
  MAX_OBSERVED_SIZE,
  encodeNetcheckRequest,
  decodeNetcheckRequest,
  encodeNetcheckResult,
  decodeNetcheckResult,
  encodeObserved,
  decodeObserved,
} from './netcheck.js';
export type { NetcheckRequest, NetcheckResult, ProbeOutcomeValue } from './netcheck.js';
