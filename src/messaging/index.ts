export { Messenger, VERIFY_WORKERS, type MessageChannel, type MessengerDeps } from './messenger.js';
export { InlineVerifier, VerifyPool, type SignatureVerifier, type VerifyJob, type VerifyPoolOptions } from './verify-pool.js';
export { HeldQuota, type HeldLimits, type QuotaRefusal } from './quota.js';
export type { OutboxLimits } from './outbox.js';
export { fromWire, toHistoryEntry, toWire } from './convert.js';
