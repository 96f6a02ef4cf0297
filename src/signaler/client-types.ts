/** What {@link SignalerClient} (client.ts) is built from and shows: options, entry states, timeouts. */
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { NodeId, SignalerEntryStatus } from '../api.js';
import type { Identity } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { Clock, Counters, TransportLimits } from '../transport/index.js';
import type { Endpoint, PunchStart } from '../wire/index.js';
import type { SignalerAddress } from './address.js';

export type { SignalerState } from '../api.js';
/** One configured signaler as `status` shows it. */
export type SignalerEntry = SignalerEntryStatus;

/** How long a lookup or punch request waits for the signaler's answer. */
export const SIGNAL_REQUEST_TIMEOUT_MS = 5_000;
/** How long a RELAY_OPEN waits: the signaler gives the target 5 s to accept. */
export const RELAY_OPEN_TIMEOUT_MS = 8_000;

export interface SignalerClientOptions {
  identity: Identity;
  /** The signalers to use, in order (at least one; `--signaler a,b,...`). */
  addresses: readonly SignalerAddress[];
  /** Previously trusted id for an address (`host:port`, TOFU) and how to remember a new one. */
  trusted: (address: string) => NodeId | undefined;
  trust: (address: string, id: NodeId) => Promise<void>;
  /** Opens the TCP connection (from the identity port when the addon is present). */
  connect: (host: string, port: number, timeoutMs: number) => Promise<Duplex & { remoteAddress?: string; remotePort?: number }>;
  listenPort: () => number;
  localEndpoints: () => Endpoint[];
  onPunchStart: (ps: PunchStart) => void;
  /** A node asks for a relayed session through the signaler: accept or decline it. */
  onRelayIncoming?: (circuit: number, peer: NodeId) => void;
  /** Registered with a signaler (the first one, or another after a failover). */
  onRegistered?: () => void;
  clock: Clock;
  counters: Counters;
  limits: TransportLimits;
  log: Logger;
  random?: () => number;
}

/**
 * The signaler's IP address and port as we are connected to it (for our peer record):
 * the socket's remote end, else the configured host when it is an IP address.
 */
export function endpointOf(raw: { remoteAddress?: string; remotePort?: number }, host: string, port: number): Endpoint | null {
  const ip = raw.remoteAddress?.startsWith('::ffff:') && isIP(raw.remoteAddress.slice(7)) === 4 ? raw.remoteAddress.slice(7) : raw.remoteAddress;
  if (ip && isIP(ip) && raw.remotePort) return { host: ip, port: raw.remotePort };
  return isIP(host) ? { host, port } : null;
}
