/** Named signaler limits; each is enforced in one place and covered by a test. */
import { RELAY_MAX_DATA } from '../wire/relay.js';

/**
 * Largest frame payload the signaler accepts: a full RELAY_DATA (u32 circuit + 16 KiB of
 * relayed data). Signaling messages proper are far smaller.
 */
export const SIGNAL_MAX_PAYLOAD = 4 + RELAY_MAX_DATA;
/** A session must REGISTER within this time or it is closed. */
export const REGISTER_TIMEOUT_MS = 10_000;
/** Established sessions per source IP (many nodes can share one NAT). */
export const SIGNAL_MAX_SESSIONS_PER_IP = 64;
/** TLS handshakes in progress per source IP. */
export const SIGNAL_MAX_PENDING_PER_IP = 16;
/** Total registered nodes. */
export const SIGNAL_MAX_SESSIONS = 10_000;
/** REGISTER messages per node: sustained rate per second and burst. */
export const REGISTER_RATE = { perSecond: 1, burst: 3 } as const;
/** LOOKUP + PUNCH_REQUEST + RELAY_OPEN messages per node: sustained rate per second and burst. */
export const REQUEST_RATE = { perSecond: 5, burst: 10 } as const;
/** Extra time added to the punch start so both sides' PUNCH_START arrives first. */
export const PUNCH_MARGIN_MS = 30;
/** RTT assumed for a node the signaler has not yet measured. */
export const DEFAULT_RTT_MS = 100;
/** Punch schedule sent to both sides. */
export const PUNCH_ATTEMPTS = 20;
export const PUNCH_INTERVAL_MS = 400;

/**
 * Self-reported local endpoints kept per registration. Only private unicast addresses
 * (10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16, fc00::/7) with a port in 1..65535
 * are kept, plus the node's own observed public address (how a peer sees that a node is
 * not behind a NAT); the rest are dropped and counted (`locals_dropped.<reason>`).
 */
export const SIGNAL_MAX_LOCAL_ENDPOINTS = 4;
/**
 * Global IPv6 endpoints kept per registration, on top of the private ones: claims the
 * signaler cannot check, so few, and only on the node's identity port (locals.ts).
 */
export const SIGNAL_MAX_GLOBAL_V6_ENDPOINTS = 2;
/**
 * PUNCH_STARTs that may carry global IPv6 claims inside one /64, whoever registered them
 * and whoever punches: each such PUNCH_START makes a node send SYNs to the claimed
 * addresses, so this bounds what anyone can aim at one IPv6 network through this signaler.
 * Over it, the claims are left out of the PUNCH_START (the IPv4 punch goes on) and counted
 * (`v6_claims_withheld`).
 */
export const V6_CLAIM_RATE = { perSecond: 2, burst: 8 } as const;
/** /64 prefixes remembered for {@link V6_CLAIM_RATE}; the least recently used is forgotten first. */
export const MAX_V6_CLAIM_PREFIXES = 4_096;
/**
 * PUNCH_STARTs delivered to one target in total, whoever asks and however many ids ask.
 * A backstop on what the target's signaler session carries: the target itself decides
 * what a punch may cost (its punch guard, which keeps room for its contacts). The
 * signaler cannot tell a target's contacts from strangers, so a tight total here would
 * let strangers at a few addresses starve the contacts' punches. Refusals:
 * `rate_limited.punch_target`.
 */
export const PUNCH_TARGET_RATE = { perSecond: 20, burst: 40 } as const;
/**
 * PUNCH_STARTs delivered to one target for requesters behind one public IP: throw-away
 * ids from one address share this, so they cannot take the whole of
 * {@link PUNCH_TARGET_RATE} from requesters elsewhere. Refusals: `rate_limited.punch_target_ip`.
 */
export const PUNCH_TARGET_IP_RATE = { perSecond: 2, burst: 8 } as const;
/** One punch per (requester, target) pair per this interval. Refusals: `rate_limited.punch_pair`. */
export const PUNCH_PAIR_INTERVAL_MS = 2_000;
/** (requester, target) pairs remembered; the least recently used is forgotten first. */
export const MAX_PUNCH_PAIRS = 4_096;
/** Requester addresses remembered per target; the least recently used is forgotten first. */
export const MAX_PUNCH_IPS_PER_TARGET = 16;
/**
 * TLS handshakes in progress on the signaler in total, for the transport's global cap on
 * pending handshakes (oldest evicted first). Not passed yet: `SIGNALER_LIMITS` gets it
 * when `TransportLimits` has the field.
 */
export const SIGNAL_MAX_PENDING_HANDSHAKES = 1_024;

/*
 * Relaying (src/relay/hub.ts RelayHub). A node may ask the signaler to join its session with
 * another registered node's into a circuit; the signaler then forwards the two nodes'
 * end-to-end TLS bytes (it sees only ciphertext). Refusals are answered SIGNAL_ERROR and
 * counted `relay_refused.<reason>`.
 */

/**
 * Circuits (live or waiting for the target's RELAY_ACCEPT) one node may be an end of,
 * counting both the ones it opened and the ones opened to it. Refusals:
 * `relay_refused.node_circuits` (the requester is full) and `relay_refused.target_circuits`
 * (the target is full).
 */
export const RELAY_MAX_CIRCUITS_PER_NODE = 16;
/** Circuits (live or pending) on the signaler in total. Refusals: `relay_refused.circuits`. */
export const RELAY_MAX_CIRCUITS = 1_024;
/** RELAY_OPENs of one node still waiting for the target's answer. Refusals: `relay_refused.pending`. */
export const RELAY_MAX_PENDING_PER_NODE = 4;
/**
 * RELAY_OPENs per node that are passed on to a target (a refused open spends nothing):
 * sustained rate per second and burst. Also subject to {@link REQUEST_RATE}. Refusals:
 * `relay_refused.open_rate`.
 */
export const RELAY_OPEN_RATE = { perSecond: 1, burst: 8 } as const;
/** How long the target has to answer RELAY_INCOMING (RELAY_ACCEPT or RELAY_CLOSE). */
export const RELAY_ACCEPT_TIMEOUT_MS = 5_000;
/** A live circuit with no RELAY_DATA either way for this long is closed (RELAY_CLOSE IDLE). */
export const RELAY_IDLE_TIMEOUT_MS = 5 * 60_000;
/**
 * RELAY_DATA bytes the signaler forwards per node (over all its circuits): sustained rate
 * and burst. A node over its rate is delayed (its frames queue on their circuit, bounded by
 * RELAY_WINDOW), never dropped; other nodes are not affected. `sentinel-signaler
 * --relay-rate` sets the rate; the burst is then two seconds' worth (at least one
 * RELAY_DATA). Delays counted as `relay.throttled` (and per node in the hub's stats).
 */
export const RELAY_RATE = { bytesPerSecond: 1024 * 1024, burst: 2 * 1024 * 1024 } as const;
/**
 * A node over its relay rate is reported (the signaler logs it at info) when its first
 * frame is delayed, then at most once per this interval while it stays over the rate.
 */
export const RELAY_THROTTLE_NOTICE_MS = 60_000;
/**
 * RELAY_DATA frames queued per circuit and direction while the sender is over its rate
 * (the bytes are bounded by RELAY_WINDOW; this bounds the per-frame overhead of tiny
 * frames: an average under 64 bytes). More closes the circuit: RELAY_CLOSE LIMIT to both
 * ends, counted `relay.queue_full`.
 */
export const RELAY_MAX_QUEUED_FRAMES = 4_096;

/*
 * Netcheck (src/signaler/netcheck.ts). A node asks how its network treats it: the probe
 * port answers anyone's connection with the address it came from, and on request the
 * signaler connects to the requester's own observed address (never to any other) to see
 * whether unsolicited inbound is dropped, reset or let through. Refusals are counted
 * `netcheck_refused.<reason>`.
 */

/**
 * NETCHECK_REQUESTs with the filtering test per node: sustained rate and burst. A netcheck
 * is a diagnosis a user runs by hand; over it the answer says LIMITED (`netcheck_refused.node`).
 * Also subject to {@link REQUEST_RATE}.
 */
export const NETCHECK_NODE_RATE = { perSecond: 0.1, burst: 3 } as const;
/**
 * Filtering tests towards one public IP, whoever asks: ids behind one address share it, so
 * throw-away ids cannot make the signaler knock at one address more often than this.
 * Refusals: `netcheck_refused.ip`.
 */
export const NETCHECK_IP_RATE = { perSecond: 0.2, burst: 6 } as const;
/** Public IPs remembered for {@link NETCHECK_IP_RATE}; the least recently used is forgotten first. */
export const NETCHECK_MAX_IPS = 4_096;
/** Filtering tests (outbound connects) in progress at once. Refusals: `netcheck_refused.busy`. */
export const NETCHECK_MAX_IN_FLIGHT = 32;
/** How long the filtering test's connect waits before it calls the inbound path "dropped". */
export const NETCHECK_CONNECT_TIMEOUT_MS = 2_000;
/**
 * Connections accepted on the probe port per source IP (per /64 for IPv6): sustained rate
 * and burst. Over it the connection is closed without an answer (`netcheck_refused.observe_ip`).
 */
export const OBSERVE_IP_RATE = { perSecond: 2, burst: 10 } as const;
/**
 * Probe-port connections answered in total, whoever connects: sources are cheap to vary
 * (an IPv6 /64 holds plenty), so this bounds the whole. Over it: `netcheck_refused.observe_total`.
 */
export const OBSERVE_TOTAL_RATE = { perSecond: 200, burst: 400 } as const;
/** Probe-port connections open at once; more are closed at once (`netcheck_refused.observe_busy`). */
export const OBSERVE_MAX_CONNECTIONS = 256;
/** A probe-port connection is closed after this long, answered or not. */
export const OBSERVE_IDLE_MS = 2_000;
