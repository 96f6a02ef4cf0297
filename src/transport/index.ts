export { formatHostPort, normalizeHost, parseHostPort, type HostPort } from '../core/host-port.js';
export { systemClock, type Clock } from '../core/clock.js';
export { Counters } from '../core/counters.js';
export * from './limits.js';
export { ConnectionManager, type InboundStream, type ManagerEvents, type ManagerOptions, type SecureOptions } from './manager.js';
export { plainListen, tcpConnector } from './connect.js';
export { SIMULTANEOUS_WINDOW_MS, connectionTag, preferred } from './duplicates.js';
export { OUTBOUND_PING_RATE, Session, type ProbeOutcome, type SessionHandlers, type SessionOptions } from './session.js';
export { createContext, secureSocket, verifyPeer, type SecuredSocket } from './tls.js';
