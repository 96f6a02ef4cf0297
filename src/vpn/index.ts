/**
 * The VPN: contracts (TUN device, addresses, drop reasons), address derivation, IP packet
 * parsing, the router between the TUN and peer sessions, and the TUN devices (native and
 * in-memory), TUN offloads in software (offload.ts), the queue delay control (aqm.ts) and
 * the optional UDP datagram path (datagram-service.ts and its parts).
 * The wire side (PACKETS, VPN_ADDR, PACKETS_GSO frames) is in src/wire/packets.ts.
 */
export type { TunDevice, VpnAddresses, DropReason, PeerTraffic, RouterEnv } from './types.js';
export {
  VPN_IPV4_PREFIX,
  VPN_IPV4_PREFIX_LENGTH,
  VPN_IPV6_PREFIX,
  VPN_IPV6_PREFIX_LENGTH,
  vpnAddressesOf,
  canonicalVpnAddresses,
  parseVpnIpv4Override,
  findCollisions,
} from './addressing.js';
export type { Ipv4Collision } from './addressing.js';
export { IPV4_MIN_HEADER, IPV6_HEADER, parseIpPacket } from './ip.js';
export type { IpPacketInfo } from './ip.js';
export { formatIpv4, formatIpv6, parseIpv4, parseIpv6, canonicalIp } from '../wire/ip-text.js';
export { MIN_VPN_MTU, MAX_VPN_MTU, VpnRouter } from './router.js';
export type { VpnRouterOptions } from './router.js';
export type { PeerCollision, InvalidClaim, PeerRefusal } from './peer-table.js';
export { MEMORY_TUN_MTU, MemoryTun } from './memory-tun.js';
export type { MemoryTunOptions } from './memory-tun.js';
export * from './native-tun.js';
export * from './offload.js';
export { AQM_TARGET_US, AQM_INTERVAL_US, DelayAqm, aqmSettings } from './aqm.js';
export { DatagramService, MAX_DATAGRAM_INNER, DATAGRAM_TICK_MS } from './datagram-service.js';
export type { DatagramChannel, DatagramServiceOptions } from './datagram-service.js';
export { DatagramPath } from './datagram-path.js';
export type { PathState } from './datagram-path.js';
export { PathPolicy, DEFAULT_POLICY, datagramModeFrom } from './path-policy.js';
export type { DatagramMode, PathChoice } from './path-policy.js';
export { ReplayWindow, REPLAY_WINDOW_BITS, REPLAY_WINDOW_SIZE } from './replay-window.js';
export { bindUdpPort } from './udp-port.js';
export type { UdpPort } from './udp-port.js';
