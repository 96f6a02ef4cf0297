/**
 * The types of `ping` in the node's API (re-exported by src/api.ts): plain JSON data, as the
 * control socket carries it.
 */
import type { ConnectMethod, DialResult, NodeId } from '../api.js';

/**
 * The path a session with a peer takes, as `ping` reports it. `kind`: `direct` (our own
 * TCP connection to the peer) or `relay` (through a relay's circuit). `address`: the
 * peer's host:port for a direct path, the relay's for a relayed one. `via`: how the
 * session came to be: `dialed` (we connected to it), `inbound` (it connected to us),
 * `punched` (hole punching coordinated by the signaler), `relay`. `lan`: the direct
 * address is a private, loopback or link-local one. `relay`: `<relay id> at host:port`,
 * and `relayKind` whether that relay is our `signaler` or a `peer` relay.
 */
export interface PingPath {
  kind: 'direct' | 'relay';
  address: string;
  method: ConnectMethod;
  via: 'dialed' | 'inbound' | 'punched' | 'relay';
  lan: boolean;
  relay: string | null;
  relayKind: 'signaler' | 'peer' | null;
}

/**
 * One ping: its RTT in milliseconds (sub-millisecond precision) and the path its PONG came
 * back on, or lost: no PONG within the timeout (`timeout`), no session to send it on
 * (`not-connected`), or held back so as not to exceed the PING rate the peer accepts
 * (`rate-limited`: another ping of the same peer runs at the same time).
 */
export type PingReply =
  | { seq: number; rttMs: number; path: PingPath }
  | { seq: number; lost: true; reason: 'timeout' | 'not-connected' | 'rate-limited' };

/** Counts and RTT statistics of a ping run (`null` RTTs when nothing came back). */
export interface PingSummary {
  sent: number;
  received: number;
  /** Lost pings in percent of those sent, 0..100. */
  lossPercent: number;
  minMs: number | null;
  avgMs: number | null;
  maxMs: number | null;
}

/** What `ping` was asked for; absent fields take the defaults of src/ping/limits.ts. */
export interface PingOptions {
  /** Pings to send, 1..1000 (default 4). */
  count?: number;
  /** Milliseconds from one ping to the next, 1000..60000 (default 1000). */
  intervalMs?: number;
  /** A ping without a PONG after this many milliseconds is lost, 100..10000 (default 2000). */
  timeoutMs?: number;
  /** Stops the run early (the control client went away); what was measured is returned. */
  signal?: AbortSignal;
}

/** Result of `ping`. */
export interface PingResult {
  id: NodeId;
  /** The path at the end of the run (the session can move, e.g. from a relay to direct), or null when no session was left. */
  path: PingPath | null;
  /** The dial `ping` made first when there was no session, else null. */
  dial: DialResult | null;
  pings: PingReply[];
  summary: PingSummary;
}

/** A `ping` progress event: one reply as it arrives (dial progress events come before them). */
export interface PingProgress {
  stage: 'ping';
  message: string;
  reply: PingReply;
}
