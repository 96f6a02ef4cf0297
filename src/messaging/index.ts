export { Messenger, type MessageChannel, type MessengerDeps } from './messenger.js';
export { HeldQuota, type HeldLimits, type QuotaRefusal } from './quota.js';
export type { OutboxLimits } from './outbox.js';
export { fromWire, toHistoryEntry, toWire } from './convert.js';
