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
