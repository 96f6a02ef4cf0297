/**
 * mDNS discovery: advertise and find Sentinel nodes on the LAN (`_sentinel._tcp.local`).
 * Discovery only reports hints; the TLS session proves who is really there.
 */
export { MdnsDiscovery, sourceDrop, type DiscoveredEndpoint, type MdnsDiscoveryOptions, type MdnsTiming, type SourceDrop } from './mdns-discovery.js';
export type { MdnsPacketIn, MdnsQueryOut, MdnsQuestionOut, MdnsRecordOut, MdnsRemote, MdnsResponseOut, MdnsTransport, TtlSupport } from './transport.js';
export { createMulticastTransport, type MulticastTransportOptions } from './multicast.js';
export { FakeMdnsNetwork, FakeMdnsTransport, fakeInterfaces, type FakeMdnsDelivery } from './memory.js';
export { LinkSubnets, prefixLength, type InterfaceList } from '../core/link.js';
export { lanAddresses, usableAddress } from './address.js';
export { buildAnnouncement, hostName, instanceName, txtEntries, SERVICES_ENUMERATION, type Announcement } from './records.js';
export { matchQuery, parseResponse, parseTxt, type DropReason, type ParsedResponse, type QueryMatch } from './parse.js';
export {
  AddressHints,
  HintGate,
  HintLimiter,
  ResponseLimiter,
  endpointsKey,
  DEFAULT_ADDRESS_LIMITS,
  DEFAULT_HINT_GATE_LIMITS,
  DEFAULT_HINT_LIMITS,
  type AddressLimits,
  type HintEndpoint,
  type HintGateLimits,
  type HintLimits,
  type HintRefusal,
  type HintVerdict,
} from './state.js';
export * from './limits.js';
