/** What a node is started with: options, defaults and the transport limits in force. */
import type { RelayMode } from './relay/peer-server.js';
import type { StrangerPolicy } from './api.js';
import type { Logger } from './log.js';
import * as T from './transport/index.js';
import type { NativeTunOptions, TunDevice } from './vpn/index.js';
import type { UdpPort } from './vpn/udp-port.js';
import type { MetricsListen } from './metrics/address.js';
import type { DnsOptions } from './dns/node-dns.js';
import { MAX_PAYLOAD_SIZE } from './wire/index.js';

export const DEFAULT_PORT = 8443;
export const DEFAULT_SIGNALER = '127.0.0.1:8888';
export { DEFAULT_TUN_NAME, DEFAULT_TUN_MTU as DEFAULT_MTU, MIN_TUN_MTU as MIN_MTU, MAX_TUN_MTU as MAX_MTU } from './vpn/index.js';
export { DELIVERY_WAIT_MS } from './node-api.js';
export { DIRECT_TRY_TIMEOUT_MS, KNOWN_ADDRESS_TIMEOUT_MS } from './connect/dialer.js';

/** VPN settings from the command line. `off`: no TUN, but `allow` is still applied. */
export interface VpnOptions {
  mode: 'off' | 'required' | 'optional';
  tunName: string;
  mtu: number;
  /** IPv4 override inside 100.64.0.0/10, or null for the derived address. */
  ipv4: string | null;
  /** Peers to add to the allow-list at start (ids or unique prefixes of known ids). */
  allow: string[];
}

export interface NodeOptions {
  dataDir: string;
  port: number;
  /** Listen host; default all interfaces (dual-stack). */
  host?: string;
  name?: string | null;
  /** `host:port` or `host:port#<id>` of the signaler, a comma-separated list of them (failover, in order), or null for none. */
  signaler?: string | null;
  /** Use fighter sockets (native addon) when it loads: 'auto' (default) or 'off'. */
  native?: 'auto' | 'off';
  vpn?: VpnOptions | null;
  /**
   * The DNS responder for `<name>.sentinel` on the VPN IPv4 (src/dns/), while the VPN runs.
   * Absent: on, port 53 (`--dns-port`); null: off (`--no-dns`).
   */
  dns?: DnsOptions | null;
  /** Keep at least this many sessions by dialing known peers (default DEFAULT_MIN_PEERS). */
  minPeers?: number;
  /** Redial lost peers with backoff (default true). */
  reconnect?: boolean;
  /** Advertise and browse `_sentinel._tcp.local` on the LAN (default true). */
  mdns?: boolean;
  /** What to do with messages from strangers (default `requests`). */
  strangers?: StrangerPolicy;
  /**
   * `--relay`: offer relaying to contacts (`contacts`, the default mode) or to anyone
   * (`all`, strangers with smaller quotas); `bytesPerSecond` per contact (`--relay-rate`).
   * Absent: this node uses peer relays instead.
   */
  relay?: { mode: RelayMode; bytesPerSecond?: number } | null;
  /** `--web`: serve the web dashboard on this address (src/web/); absent or null: off. */
  web?: { host: string; port: number } | null;
  /** `--metrics`: serve Prometheus metrics over HTTP at this address (metrics/server.ts); absent: off. */
  metrics?: MetricsListen | null;
  /** Gossip round interval (default GOSSIP_INTERVAL_MS). */
  gossipIntervalMs?: number;
  /** Opens the TUN device (injected by tests; default: the native one). */
  openTun?: (o: NativeTunOptions) => Promise<TunDevice>;
  /** Binds the VPN datagram path's UDP socket (injected by tests; default: node:dgram, src/vpn/udp-port.ts). */
  bindUdp?: (port: number, host?: string) => Promise<UdpPort>;
  log: Logger;
  limits?: Partial<T.TransportLimits>;
  clock?: T.Clock;
}

export const DEFAULT_LIMITS: T.TransportLimits = {
  handshakeTimeoutMs: T.HANDSHAKE_TIMEOUT_MS,
  connectTimeoutMs: T.CONNECT_TIMEOUT_MS,
  maxPendingHandshakesPerIp: T.MAX_PENDING_HANDSHAKES_PER_IP,
  maxPendingHandshakes: T.MAX_PENDING_HANDSHAKES,
  maxSessionsPerIp: T.MAX_SESSIONS_PER_IP,
  maxSessions: T.MAX_SESSIONS,
  maxStrangerSessions: T.MAX_STRANGER_SESSIONS,
  maxStrangerSessionsPerIp: T.MAX_STRANGER_SESSIONS_PER_IP,
  strangerWriteBufferBytes: T.STRANGER_WRITE_BUFFER_BYTES,
  pingIntervalMs: T.PING_INTERVAL_MS,
  deadAfterMs: T.DEAD_AFTER_MS,
  maxWriteBufferBytes: T.MAX_WRITE_BUFFER_BYTES,
  maxPayload: MAX_PAYLOAD_SIZE,
};

