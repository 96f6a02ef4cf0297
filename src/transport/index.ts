export { formatHostPort, normalizeHost, parseHostPort, type HostPort } from './address.js';
export { systemClock, type Clock } from './clock.js';
export { Counters } from './counters.js';
export * from './limits.js';
export { ConnectionManager, SIMULTANEOUS_WINDOW_MS, plainListen, preferred, tcpConnector, type Connector, type ManagerEvents, type ManagerOptions } from './manager.js';
export { Session, type SessionHandlers, type SessionOptions } from './session.js';
export { createContext, secureSocket, verifyPeer, type SecuredSocket } from './tls.js';
