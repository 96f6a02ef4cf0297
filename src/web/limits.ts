/** Named limits of the web dashboard (docs/SECURITY.md lists them). */
import { MAX_LINE_BYTES } from '../control/protocol.js';

/** Open TCP connections at once; more are dropped on accept (`web.refused.connections`). */
export const MAX_WEB_CONNECTIONS = 64;
/** Largest API request body: the control socket's line limit, so both accept the same requests. */
export const MAX_WEB_BODY_BYTES = MAX_LINE_BYTES;
/** API requests running at once, all clients together; more get 429 (`web.refused.busy`). */
export const MAX_WEB_IN_FLIGHT = 32;
/** Live-update (SSE) streams at once; more get 503 (`web.refused.sse`). */
export const MAX_SSE_CLIENTS = 16;
/** Unsent bytes one SSE stream may hold before it is closed as not reading (`web.sse.slow`). */
export const MAX_SSE_BUFFERED_BYTES = 1024 * 1024;
/** Interval of the peers/status snapshot pushed to every SSE stream. */
export const SNAPSHOT_INTERVAL_MS = 1_000;
/** Time a client gets to send its request headers (slow-header guard). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Time a client gets to send its whole request (slow-body guard). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Largest request head (request line and headers). */
export const MAX_HEADER_BYTES = 16 * 1024;
