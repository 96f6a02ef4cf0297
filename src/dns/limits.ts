/**
 * Bounds of the DNS responder for `<name>.sentinel` (see docs/SECURITY.md "Named limits").
 * Every query costs a parse and an answer, so whoever can reach the VPN address (this
 * machine, and allowed peers through the tunnel) is limited per source address and in all.
 */
import type { Rate } from '../core/rate.js';

/** The zone we answer for; everything outside it is REFUSED (no recursion). */
export const DNS_ZONE = 'sentinel';

/** Port of the responder unless `--dns-port` says otherwise. */
export const DEFAULT_DNS_PORT = 53;

/** TTL of every answer, in seconds: short, so a new alias or a moved peer shows at once. */
export const DNS_TTL_SECONDS = 5;

/** Largest UDP answer without EDNS (RFC 1035 section 4.2.1). */
export const CLASSIC_UDP_BYTES = 512;

/**
 * Largest UDP answer we send with EDNS, whatever the client offers: the DNS flag day 2020
 * size, which passes without IP fragmentation on practically every path.
 */
export const MAX_EDNS_UDP_BYTES = 1232;

/** Largest query we read (UDP datagram or TCP message); a real query is under 300 bytes. */
export const MAX_QUERY_BYTES = 1024;

/** Queries per second per source address, and its burst. */
export const DNS_RATE_PER_SOURCE: Rate = { perSecond: 50, burst: 100 };

/** Queries per second from all sources together, and its burst. */
export const DNS_RATE_TOTAL: Rate = { perSecond: 500, burst: 1000 };

/** Source addresses with a rate bucket; the least recently seen is forgotten beyond it. */
export const MAX_TRACKED_SOURCES = 1024;

/** TCP connections open at once, in all / per source address. */
export const MAX_TCP_CONNECTIONS = 32;
export const MAX_TCP_CONNECTIONS_PER_SOURCE = 4;

/** A TCP connection with no complete query for this long is closed (RFC 7766 suggests seconds). */
export const TCP_IDLE_TIMEOUT_MS = 10_000;

/** Queries answered on one TCP connection before it is closed. */
export const MAX_QUERIES_PER_TCP_CONNECTION = 100;

/** Unsent answer bytes on one TCP connection: a client that does not read is dropped. */
export const MAX_TCP_UNSENT_BYTES = 64 * 1024;

/** How long the name table is reused before it is rebuilt from the peer directory. */
export const NAME_TABLE_REFRESH_MS = 1_000;

/** All the limits of one responder (tests shrink them). */
export interface DnsLimits {
  perSource: Rate;
  total: Rate;
  maxTrackedSources: number;
  maxQueryBytes: number;
  maxTcpConnections: number;
  maxTcpConnectionsPerSource: number;
  tcpIdleTimeoutMs: number;
  maxQueriesPerTcpConnection: number;
  maxTcpUnsentBytes: number;
}

export const DEFAULT_DNS_LIMITS: DnsLimits = {
  perSource: DNS_RATE_PER_SOURCE,
  total: DNS_RATE_TOTAL,
  maxTrackedSources: MAX_TRACKED_SOURCES,
  maxQueryBytes: MAX_QUERY_BYTES,
  maxTcpConnections: MAX_TCP_CONNECTIONS,
  maxTcpConnectionsPerSource: MAX_TCP_CONNECTIONS_PER_SOURCE,
  tcpIdleTimeoutMs: TCP_IDLE_TIMEOUT_MS,
  maxQueriesPerTcpConnection: MAX_QUERIES_PER_TCP_CONNECTION,
  maxTcpUnsentBytes: MAX_TCP_UNSENT_BYTES,
};
