/** Named timings and bounds of mDNS discovery. */

/** The DNS-SD service type we advertise and browse. */
export const SERVICE_TYPE = '_sentinel._tcp.local';
/** Domain of the SRV target host names: `<short-id>.sentinel.local`. */
export const HOST_DOMAIN = 'sentinel.local';
/** Value of the `v=` TXT key this code speaks. */
export const TXT_VERSION = '1';
/** The standard mDNS port: a query from any other port is a legacy unicast query (RFC 6762 §6.7). */
export const MDNS_PORT = 5353;
/** The IPv4 mDNS group. */
export const MDNS_IPV4_GROUP = '224.0.0.251';

/** TTL of our records, in seconds (RFC 6762 recommends 120 s for host records, 75 min for others; we re-announce often). */
export const RECORD_TTL_S = 120;
/** TTL cap for answers to legacy unicast queries (RFC 6762 §6.7). */
export const LEGACY_UNICAST_TTL_S = 10;

/** Periodic unsolicited announcement. */
export const ANNOUNCE_INTERVAL_MS = 30_000;
/** Periodic browse query. */
export const BROWSE_INTERVAL_MS = 60_000;
/** The start-up announcement and query are repeated once after this delay (a packet sent before peers bound is lost). */
export const STARTUP_REPEAT_MS = 1_000;

/** At most one multicast answer to queries per this interval (RFC 6762 §6: no more than once per second). */
export const MIN_MULTICAST_RESPONSE_INTERVAL_MS = 1_000;
/** At most this many unicast (legacy) answers per second: a spoofed source must not turn us into a reflector. */
export const MAX_UNICAST_RESPONSES_PER_S = 8;

/** An announcement carrying more addresses than this is dropped whole. */
export const MAX_ADDRESSES_PER_ANNOUNCEMENT = 8;
/** Only the first records of a packet are looked at. */
export const MAX_RECORDS_PER_PACKET = 64;
/** Only the first service instances of a packet are looked at. */
export const MAX_INSTANCES_PER_PACKET = 8;
/**
 * Largest packet decoded (RFC 6762 §17: mDNS packets are at most 9000 bytes). dns-packet's
 * work grows with the size: an NSEC bitmap becomes one string per bit, 5 ms of CPU for
 * 9000 bytes and 74 ms for a 64 KiB datagram (found by fuzzing).
 */
export const MAX_PACKET_BYTES = 9000;
/** Longest TXT entry (a DNS character-string). */
export const MAX_TXT_ENTRY_BYTES = 255;

/** The same (id, endpoints) hint is reported at most once per this interval. */
export const HINT_REPEAT_MS = 10_000;
/** At most this many hints per node id per {@link HINT_WINDOW_MS}, whatever the endpoints. */
export const MAX_HINTS_PER_ID = 4;
/** Window of {@link MAX_HINTS_PER_ID}. */
export const HINT_WINDOW_MS = 10_000;
/** Node ids whose hint history is remembered; the least recently seen is forgotten first. */
export const MAX_TRACKED_IDS = 256;
