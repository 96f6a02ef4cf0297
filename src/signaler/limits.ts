/** Named signaler limits; each is enforced in one place and covered by a test. */

/** Largest frame payload the signaler accepts (signaling messages are small). */
export const SIGNAL_MAX_PAYLOAD = 4096;
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
/** LOOKUP + PUNCH_REQUEST messages per node: sustained rate per second and burst. */
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
