/** Named limits of the control API's replies. */

/** Messages `history` returns when no limit is given. */
export const HISTORY_DEFAULT_LIMIT = 100;
/** Most messages one `history` call returns; page further with `before`. */
export const HISTORY_MAX_LIMIT = 1_000;
/**
 * Most bytes of message text (plus a per-entry allowance) one `history` reply carries, so a
 * reply always fits the control connection's buffers; the oldest entries of the page are
 * left for the next page.
 */
export const HISTORY_MAX_REPLY_BYTES = 4 * 1024 * 1024;
