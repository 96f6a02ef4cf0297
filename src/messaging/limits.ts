/** Named limits of message delivery (sender side). */

/** Messages sent to one peer and not yet acknowledged, at most (the queued-bytes gate below bounds the bytes). */
export const OUTBOX_WINDOW = 1024;
/** Messages read from the outbox per step of the pump. */
export const OUTBOX_BATCH = 64;
/**
 * The pump stops writing while the session has this much queued, and goes on when it
 * drains: a large outbox never fills the session's write buffer (which would close it).
 */
export const OUTBOX_MAX_QUEUED_BYTES = 1024 * 1024;
/** A message sent and not acknowledged within this time is sent again (the receiver dedupes). */
export const ACK_TIMEOUT_MS = 30_000;
/** After a temporary refusal (quota, disk full, rate) the peer is retried after this... */
export const REFUSAL_RETRY_MS = 30_000;
/** ...doubling on each further refusal up to this. */
export const REFUSAL_RETRY_CAP_MS = 15 * 60_000;
/** How often the sender looks for timed-out messages and expired pauses. */
export const OUTBOX_TICK_MS = 5_000;

/** Receiver: worker threads that check CHAT signatures (0: on the event loop). */
export const VERIFY_WORKERS = 1;
/**
 * Receiver: CHAT signatures waiting for a worker, at most (all peers together); beyond it a
 * CHAT is refused for now (RATE_LIMITED, counted `chat_refused.verify_busy`). Eight
 * senders' full windows (OUTBOX_WINDOW) fit.
 */
export const VERIFY_MAX_PENDING = 8 * 1024;
/** Receiver: messages verified and waiting for an earlier one (arrival order), at most. */
export const VERIFY_MAX_QUEUED = 2 * VERIFY_MAX_PENDING;
/** Receiver: batch-root verdicts kept (CHAT_BATCHED), at most; the oldest go first. */
export const ROOT_VERDICTS_MAX = 1024;
/** Receiver: how long a batch-root verdict is reused (a resent batch is checked again after it). */
export const ROOT_VERDICT_TTL_MS = 10_000;
/** Receiver: batch trees remembered (their nodes spare re-hashing paths), at most; each holds at most 2,048 nodes of 32 bytes. */
export const BATCH_TREES_MAX = 32;
