export { Messenger, type MessageChannel, type MessengerDeps } from './messenger.js';
export { fromWire, toHistoryEntry, toWire } from './convert.js';
