/**
 * Gossip of signed peer records: signing and checking records, the bounded PeerBook,
 * per-partner sync state, and the pure push-pull exchange. No I/O: node.ts sends the
 * payloads, drives rounds and persists {@link PeerBook.toStore} in the store.
 */
export {
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_LIFETIME_MS,
  checkRecord,
  recordKey,
  signRecord,
  signatureValid,
  verifyRecord,
  type RecordCheck,
  type RecordFields,
  type RecordRejection,
  type RecordSigner,
  type VerifiedRecord,
} from './records.js';
export { MAX_BOOK_RECORDS, OFFER_REJECTIONS, PeerBook, type BookEntry, type OfferRejection, type OfferResult, type PeerBookOptions } from './book.js';
export { MAX_INBOUND_PER_PEER_ROUND, MAX_TRACKED_PEERS, PeerStates, type PeerSyncState } from './peer-state.js';
export {
  buildPush,
  handlePullReplyPayload,
  handlePushPayload,
  onPullReply,
  onPush,
  pickPeers,
  recordsToPush,
  type InboundRejection,
  type PushOutcome,
  type ReceiveResult,
} from './exchange.js';
export { GossipService, PUSH_RATE, GOSSIP_MAX_QUEUED_BYTES, STRANGER_VERIFY_RATE, GOSSIP_FANOUT, GOSSIP_INTERVAL_MS, RECORD_TTL_MS, BOOK_SAVE_INTERVAL_MS, type GossipChannel, type GossipServiceOptions } from './service.js';
