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

/**
 * IP TTL (IPv6 hop limit) every mDNS packet is sent with (RFC 6762 §11). A router
 * decrements it, so a response received with any other TTL did not come from this link
 * and is dropped (`mdns.dropped.ttl`), where the transport can read the TTL.
 */
export const MDNS_TTL = 255;
/** Largest mDNS packet read (RFC 6762 §17: 9,000 bytes); a longer datagram is dropped. */
export const MDNS_MAX_PACKET_BYTES = 9_000;
/** How long the interface list behind the on-link checks is reused before it is read again. */
export const INTERFACES_REFRESH_MS = 5_000;

/**
 * Global hint budget: hints passed on per second over all ids, whatever their addresses
 * (token bucket). Each hint can cost a dial per endpoint, so this bounds what a stream of
 * fresh ids can make the node do. Refusals: `mdns.hints_limited.global`.
 */
export const HINT_RATE = { perSecond: 4, burst: 32 } as const;
/**
 * Hints naming one IP address passed on per {@link ADDRESS_WINDOW_MS}, whatever the ids:
 * each is a dial to that address, and a real host (one node or a few, each hint repeated
 * at most every {@link HINT_REPEAT_MS}) needs no more. This bounds what a flood of fresh
 * ids can aim at one victim. Endpoints over the cap are removed from the hint
 * (`mdns.dropped.endpoint_limited`).
 */
export const MAX_HINTS_PER_ADDRESS = 4;
/** Window of {@link MAX_HINTS_PER_ADDRESS}. */
export const ADDRESS_WINDOW_MS = 10_000;
/**
 * Addresses whose recent hints are remembered; the least recently used is forgotten first.
 * Entries only appear for admitted hints, so under {@link HINT_RATE} no more than
 * 32 + 4 x 10 = 72 are fresh within one window: the cap is never what frees a victim.
 */
export const MAX_TRACKED_ADDRESSES = 256;
