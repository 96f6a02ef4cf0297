export { MAX_SIGNALERS, parseSignalerAddress, parseSignalerList, signalerKey, type SignalerAddress } from './address.js';
export { Backoff } from '../core/backoff.js';
export { SignalerClient } from './client.js';
export { RELAY_OPEN_TIMEOUT_MS, SIGNAL_REQUEST_TIMEOUT_MS, type SignalerClientOptions, type SignalerEntry, type SignalerState } from './client-types.js';
export { FailoverPlanner, FAILOVER_BACKOFF_BASE_MS, FAILOVER_BACKOFF_CAP_MS, STABLE_SESSION_MS, type AttemptOutcome, type NextAttempt } from './failover.js';
export * from './limits.js';
export { TokenBucket } from '../core/rate.js';
export { SignalerServer, SIGNALER_LIMITS, type Registration, type SignalerOptions } from './server.js';
export { punchDelays } from './timing.js';
