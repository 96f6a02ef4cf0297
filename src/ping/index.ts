/** `sentinel ping`: path-aware pings over a peer's session (issue 12). */
export * from './limits.js';
export { formatMs, formatPingResult, formatReply, formatSummary } from './format.js';
export { formatPath, isLanAddress, pathOf, type SessionPathView } from './path.js';
export { runPings, summarize, type PingRunDeps, type PingSession } from './run.js';
export { PING_BOUNDS, pingSettings, type PingSettings } from './settings.js';
export type * from './types.js';
export { PingService, type PingServiceDeps, type PingableSession } from './service.js';
