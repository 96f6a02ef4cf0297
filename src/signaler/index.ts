export { parseSignalerAddress, type SignalerAddress } from './address.js';
export { Backoff } from '../core/backoff.js';
export { SignalerClient, SIGNAL_REQUEST_TIMEOUT_MS, type SignalerClientOptions, type SignalerState } from './client.js';
export * from './limits.js';
export { TokenBucket } from '../core/rate.js';
export { SignalerServer, SIGNALER_LIMITS, type Registration, type SignalerOptions } from './server.js';
export { punchDelays } from './timing.js';
