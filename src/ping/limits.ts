/** Named limits of `ping` (issue 12). Each is enforced in one place and covered by a test. */
import { PING_RATE } from '../transport/limits.js';

/** Pings a run sends when no count is given (as `ping -c 4`, `tailscale ping` stops at the first). */
export const PING_DEFAULT_COUNT = 4;
/** Most pings one run sends: a run holds a slot and a timer until it ends. */
export const PING_MAX_COUNT = 1_000;
/** Milliseconds from one ping to the next when none is given. */
export const PING_DEFAULT_INTERVAL_MS = 1_000;
/**
 * Shortest interval: a peer accepts 1 PING per second sustained (PING_RATE); faster runs
 * would be held back (`rate-limited`) or, from an older node, read as a flood.
 */
export const PING_MIN_INTERVAL_MS = 1_000 / PING_RATE.perSecond;
/** Longest interval. */
export const PING_MAX_INTERVAL_MS = 60_000;
/** A ping without a PONG after this long counts as lost (ping(8) waits about as long). */
export const PING_DEFAULT_TIMEOUT_MS = 2_000;
/** Shortest and longest timeout one may ask for. */
export const PING_MIN_TIMEOUT_MS = 100;
export const PING_MAX_TIMEOUT_MS = 10_000;
/** Ping runs the node carries at once (all peers); more are refused with E_BUSY. */
export const MAX_PING_RUNS = 16;
