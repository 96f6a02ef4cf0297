/**
 * The relay hub's vocabulary: the view of a session it works on, its limits and stats, and
 * the per-node, per-circuit and per-direction state it keeps (see hub.ts for the hub).
 */
import type { NodeId } from '../api.js';
import { RELAY_MAX_DATA, RELAY_WINDOW, RelayCloseCode } from '../wire/index.js';
import {
  RELAY_ACCEPT_TIMEOUT_MS,
  RELAY_IDLE_TIMEOUT_MS,
  RELAY_MAX_CIRCUITS,
  RELAY_MAX_CIRCUITS_PER_NODE,
  RELAY_MAX_PENDING_PER_NODE,
  RELAY_MAX_QUEUED_FRAMES,
  RELAY_OPEN_RATE,
  RELAY_RATE,
  RELAY_THROTTLE_NOTICE_MS,
} from '../signaler/limits.js';
import { TokenBucket, type Rate } from '../core/rate.js';
import type { Clock, Counters } from '../transport/index.js';

/** What the hub needs of a session (a transport Session fits). */
export interface RelayEnd {
  readonly peerId: NodeId;
  readonly isClosed: boolean;
  send(type: number, payload: Uint8Array): unknown;
}

/** How the hub sends a frame to one end (default: `end.send(type, payload)`). */
export type RelaySend = (to: RelayEnd, type: number, payload: Uint8Array) => void;

/** Bounds of a {@link RelayHub}; defaults from limits.ts. */
export interface RelayLimits {
  maxCircuitsPerNode: number;
  maxCircuits: number;
  maxPendingPerNode: number;
  openRate: Rate;
  acceptTimeoutMs: number;
  idleTimeoutMs: number;
  /** RELAY_DATA bytes forwarded per node per second (over all its circuits). */
  bytesPerSecond: number;
  /** Burst of that rate, bytes (raised to at least RELAY_MAX_DATA). */
  burstBytes: number;
  /** In-flight bytes per circuit and direction (the wire protocol's RELAY_WINDOW). */
  window: number;
  /** Frames queued per circuit and direction while the sender is throttled. */
  maxQueuedFrames: number;
  /** Least time between two {@link RelayHubOptions.onThrottled} reports for one node. */
  throttleNoticeMs: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxCircuitsPerNode: RELAY_MAX_CIRCUITS_PER_NODE,
  maxCircuits: RELAY_MAX_CIRCUITS,
  maxPendingPerNode: RELAY_MAX_PENDING_PER_NODE,
  openRate: RELAY_OPEN_RATE,
  acceptTimeoutMs: RELAY_ACCEPT_TIMEOUT_MS,
  idleTimeoutMs: RELAY_IDLE_TIMEOUT_MS,
  bytesPerSecond: RELAY_RATE.bytesPerSecond,
  burstBytes: RELAY_RATE.burst,
  window: RELAY_WINDOW,
  maxQueuedFrames: RELAY_MAX_QUEUED_FRAMES,
  throttleNoticeMs: RELAY_THROTTLE_NOTICE_MS,
};

/** The burst that goes with a per-node rate set by the operator: two seconds' worth, at least one full RELAY_DATA. */
export function relayBurstFor(bytesPerSecond: number): number {
  return Math.max(2 * bytesPerSecond, RELAY_MAX_DATA);
}

/** Limits that may differ per node (e.g. a peer relay's contacts and strangers). */
export type RelayNodeLimits = Pick<RelayLimits, 'maxCircuitsPerNode' | 'bytesPerSecond' | 'burstBytes'>;

export interface RelayHubOptions {
  /** Per-node limits, asked once when the hub starts tracking a node; default `limits`. */
  limitsFor?: (id: NodeId) => RelayNodeLimits;
  clock: Clock;
  counters: Counters;
  /** False: every RELAY_OPEN is answered SIGNAL_ERROR RELAY_DISABLED. Default true. */
  enabled?: boolean;
  limits?: Partial<RelayLimits>;
  send?: RelaySend;
  /**
   * A node is over its byte rate: called when one of its frames is delayed and the node
   * was not reported in the last `throttleNoticeMs`. `delayed` is every frame of it
   * delayed so far (the signaler logs this, so an operator sees who is throttled).
   */
  onThrottled?: (node: NodeId, report: ThrottleReport) => void;
}

/** What {@link RelayHubOptions.onThrottled} is told. */
export interface ThrottleReport {
  /** RELAY_DATA frames of this node delayed by its rate, since the hub first saw it. */
  delayed: number;
  /** Its bytes waiting now (over all its circuits). */
  queuedBytes: number;
}

/** Why a RELAY_OPEN was refused; counted as `relay_refused.<reason>`. */
export type RelayRefusal = 'disabled' | 'not_found' | 'self' | 'pending' | 'node_circuits' | 'target_circuits' | 'circuits' | 'open_rate';

/** Counted as `relay_refused.<reason>` too: a frame for a circuit the sender is not an end of. */
export type RelayFrameRefusal = 'not_member' | 'unknown_circuit';

export interface RelayStats {
  enabled: boolean;
  bytesPerSecond: number;
  burstBytes: number;
  /** Circuits accepted by their target and not closed. */
  circuits: number;
  /** Circuits waiting for the target's RELAY_ACCEPT. */
  pending: number;
  /**
   * Per node with any circuit: circuits it is an end of (live + pending), opens it is
   * waiting on, and its RELAY_DATA frames delayed by its byte rate so far.
   */
  nodes: Record<NodeId, { circuits: number; pending: number; throttled: number }>;
  /** RELAY_DATA bytes forwarded (`relay.bytes`). */
  bytes: number;
  /** RELAY_DATA frames delayed by a node's byte rate (`relay.throttled`). */
  throttled: number;
  /** RELAY_DATA bytes queued now, waiting for their sender's rate. */
  queuedBytes: number;
  /** Refusals by reason (`relay_refused.<reason>`). */
  refused: Record<string, number>;
}


/** FIFO of buffers without O(n) shifts. */
export class Fifo {
  private items: Buffer[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(b: Buffer): void {
    this.items.push(b);
  }

  peek(): Buffer | undefined {
    return this.items[this.head];
  }

  shift(): Buffer | undefined {
    const b = this.items[this.head];
    if (b === undefined) return undefined;
    this.items[this.head++] = undefined as unknown as Buffer;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return b;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export interface NodeState {
  id: NodeId;
  /** Circuits this node may be an end of (RelayNodeLimits). */
  maxCircuits: number;
  /** Circuits (pending or live) this node is an end of. */
  circuits: Set<Circuit>;
  /** Opens this node made that wait for the target. */
  pendingOut: number;
  opens: TokenBucket;
  bytes: TokenBucket;
  /** Directions sent by this node with queued frames, served round robin. */
  waiting: Direction[];
  timer: unknown;
  /** Its RELAY_DATA frames delayed by its byte rate so far. */
  throttled: number;
  /** When it was last reported over its rate (onThrottled), if ever. */
  noticedAt: number | undefined;
}

export interface Direction {
  circuit: Circuit;
  from: RelayEnd;
  to: RelayEnd;
  /** The sender's state (its byte rate). */
  node: NodeState;
  /** RELAY_DATA bytes forwarded or queued and not yet credited by `to`. */
  inFlight: number;
  queue: Fifo;
  queuedBytes: number;
  /** `from` closed the circuit while its data was queued: this RELAY_CLOSE goes after the data. */
  closeAfter: Buffer | null;
}

export interface Circuit {
  id: number;
  reqId: number;
  /** Requester. */
  a: RelayEnd;
  /** Target. */
  b: RelayEnd;
  aNode: NodeState;
  bNode: NodeState;
  live: boolean;
  ab: Direction;
  ba: Direction;
  lastData: number;
  /** Accept timeout while pending, idle check once live. */
  timer: unknown;
}

export const CODE_NAMES = new Map<number, string>(Object.entries(RelayCloseCode).map(([name, code]) => [code, name.toLowerCase()]));
/** Counter suffix of a RELAY_CLOSE code. */
export const codeName = (code: number): string => CODE_NAMES.get(code) ?? `code_${code}`;

export const REFUSAL_TEXT: Record<Exclude<RelayRefusal, 'not_found'>, string> = {
  disabled: 'this signaler does not relay',
  self: 'cannot relay to yourself',
  pending: 'too many relay opens waiting for an answer; wait for one to finish',
  node_circuits: 'you have too many relayed circuits here; close one first',
  target_circuits: 'the target has too many relayed circuits; retry later',
  circuits: 'the relay is full; retry later or elsewhere',
  open_rate: 'too many relay opens; retry in a few seconds',
};

/** A node's state when the hub starts tracking it: its limits, empty queues, full buckets. */
export function newNodeState(id: NodeId, l: RelayNodeLimits, openRate: Rate, now: number): NodeState {
  return {
    id,
    maxCircuits: l.maxCircuitsPerNode,
    circuits: new Set(),
    pendingOut: 0,
    opens: new TokenBucket(openRate.perSecond, openRate.burst, now),
    bytes: new TokenBucket(l.bytesPerSecond, Math.max(l.burstBytes, RELAY_MAX_DATA), now),
    waiting: [],
    timer: undefined,
    throttled: 0,
    noticedAt: undefined,
  };
}

/** A pending circuit from requester `a` to target `b`, with empty directions. */
export function newCircuit(id: number, reqId: number, a: RelayEnd, b: RelayEnd, aNode: NodeState, bNode: NodeState, now: number): Circuit {
  const c = { id, reqId, a, b, aNode, bNode, live: false, lastData: now, timer: undefined } as Circuit;
  c.ab = { circuit: c, from: a, to: b, node: aNode, inFlight: 0, queue: new Fifo(), queuedBytes: 0, closeAfter: null };
  c.ba = { circuit: c, from: b, to: a, node: bNode, inFlight: 0, queue: new Fifo(), queuedBytes: 0, closeAfter: null };
  return c;
}

/** The hub's {@link RelayStats} from its circuits, nodes and counters. */
export function hubStats(enabled: boolean, limits: RelayLimits, circuits: Iterable<Circuit>, nodeStates: Iterable<NodeState>, counters: Counters): RelayStats {
  let total = 0;
  let live = 0;
  let queuedBytes = 0;
  for (const c of circuits) {
    total++;
    if (c.live) live++;
    queuedBytes += c.ab.queuedBytes + c.ba.queuedBytes;
  }
  const nodes: RelayStats['nodes'] = {};
  for (const st of nodeStates) {
    if (st.circuits.size > 0 || st.pendingOut > 0) nodes[st.id] = { circuits: st.circuits.size, pending: st.pendingOut, throttled: st.throttled };
  }
  const refused: Record<string, number> = {};
  for (const [name, value] of Object.entries(counters.toJSON())) {
    if (name.startsWith('relay_refused.')) refused[name.slice('relay_refused.'.length)] = value;
  }
  return {
    enabled,
    bytesPerSecond: limits.bytesPerSecond,
    burstBytes: limits.burstBytes,
    circuits: live,
    pending: total - live,
    nodes,
    bytes: counters.get('relay.bytes'),
    throttled: counters.get('relay.throttled'),
    queuedBytes,
    refused,
  };
}
