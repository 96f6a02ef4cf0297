/**
 * mDNS discovery: advertise and find Sentinel nodes on the LAN (`_sentinel._tcp.local`).
 * Discovery only reports hints; the TLS session proves who is really there.
 */
export { MdnsDiscovery, type DiscoveredEndpoint, type MdnsDiscoveryOptions, type MdnsTiming } from './mdns-discovery.js';
export type { MdnsPacketIn, MdnsQueryOut, MdnsQuestionOut, MdnsRecordOut, MdnsRemote, MdnsResponseOut, MdnsTransport } from './transport.js';
export { createMulticastTransport, type MulticastTransportOptions } from './multicast.js';
export { FakeMdnsNetwork, FakeMdnsTransport, type FakeMdnsDelivery } from './memory.js';
export { lanAddresses, usableAddress } from './address.js';
export { buildAnnouncement, hostName, instanceName, txtEntries, SERVICES_ENUMERATION, type Announcement } from './records.js';
export { matchQuery, parseResponse, parseTxt, type DropReason, type ParsedResponse, type QueryMatch } from './parse.js';
export { HintLimiter, ResponseLimiter, endpointsKey, DEFAULT_HINT_LIMITS, type HintLimits } from './state.js';
export * from './limits.js';
