export type { Conduit, DialTarget, PathInfo, Progress, RelayRoute, Secure, Transport, TransportDialOptions, TransportKind } from './transport.js';
export { AttemptsFailed, FINAL_CODES, describeFailure, isFinal } from './failures.js';
export { DirectTransport, type DirectTransportOptions, type StreamConnector } from './direct.js';
export { PunchedTransport, type Puncher } from './punched.js';
export { RelayTransport } from './relay.js';
export { MemoryNetwork, MemoryStream, pipePair, type MemoryNetworkOptions, type PipeEnd } from './memory.js';
