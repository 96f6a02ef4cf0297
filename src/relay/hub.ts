/**
 * Blind relaying, by the signaler (server.ts) and by peer relays (peer-server.ts): the relay
 * joins two nodes' sessions with it into a *circuit* and forwards RELAY_DATA / RELAY_CREDIT / RELAY_CLOSE between them unchanged (the circuit id
 * is the same on both sides). The nodes run an end-to-end TLS session inside, so the
 * relay sees only ciphertext. Message layouts and the flow: src/wire/relay.ts.
 *
 * {@link RelayHub} is pure bookkeeping: time comes from an injected clock, frames leave
 * through an injected `send`, and it works on a minimal view of a session
 * ({@link RelayEnd}), so it can be tested with fakes. Malformed payloads throw
 * SentinelError (E_PAYLOAD_MALFORMED): the session treats that as a protocol violation.
 *
 * What one node can make the relay hold is bounded: its circuits
 * (RELAY_MAX_CIRCUITS_PER_NODE, both ends counted), its pending opens, and per circuit and
 * direction at most RELAY_WINDOW bytes in flight (forwarded or queued, not yet credited by
 * the receiver) in at most RELAY_MAX_QUEUED_FRAMES queued frames. The per-node byte rate
 * delays a node's own frames only: each node has its own bucket, queue and drain timer.
 */
import type { NodeId } from '../api.js';
import { SentinelError } from '../errors.js';
import { publicKeyFromNodeId } from '../identity/index.js';
import type { Clock, Counters } from '../transport/index.js';
import {
  FrameType,
  RELAY_MAX_DATA,
  RelayCloseCode,
  SignalErrorCode,
  decodeRelayAccept,
  decodeRelayClose,
  decodeRelayCredit,
  encodeRelayClose,
  encodeRelayIncoming,
  encodeRelayOpened,
  encodeSignalError,
} from '../wire/index.js';
import { DEFAULT_RELAY_LIMITS, REFUSAL_TEXT, codeName, hubStats, newCircuit, newNodeState, relayBurstFor } from './hub-state.js';
import type { Circuit, Direction, NodeState, RelayEnd, RelayFrameRefusal, RelayHubOptions, RelayLimits, RelayNodeLimits, RelayRefusal, RelaySend, RelayStats, ThrottleReport } from './hub-state.js';

export { DEFAULT_RELAY_LIMITS, relayBurstFor } from './hub-state.js';
export type { RelayEnd, RelayFrameRefusal, RelayHubOptions, RelayLimits, RelayNodeLimits, RelayRefusal, RelaySend, RelayStats, ThrottleReport } from './hub-state.js';

/** Joins pairs of sessions into circuits and forwards relay frames between them. */
export class RelayHub {
  readonly enabled: boolean;
  readonly limits: RelayLimits;
  private readonly clock: Clock;
  private readonly counters: Counters;
  private readonly sendFrame: RelaySend;
  private readonly limitsFor: ((id: NodeId) => RelayNodeLimits) | undefined;
  private readonly onThrottled: ((node: NodeId, report: ThrottleReport) => void) | undefined;
  private readonly circuits = new Map<number, Circuit>();
  private readonly nodes = new Map<NodeId, NodeState>();
  private nextId = 1;

  constructor(opts: RelayHubOptions) {
    this.clock = opts.clock;
    this.counters = opts.counters;
    this.enabled = opts.enabled ?? true;
    const limits = { ...DEFAULT_RELAY_LIMITS, ...opts.limits };
    if (opts.limits?.bytesPerSecond !== undefined && opts.limits.burstBytes === undefined) limits.burstBytes = relayBurstFor(limits.bytesPerSecond);
    if (!(Number.isFinite(limits.bytesPerSecond) && limits.bytesPerSecond > 0)) throw new RangeError(`relay bytesPerSecond must be a positive number, got ${limits.bytesPerSecond}`);
    limits.burstBytes = Math.max(limits.burstBytes, RELAY_MAX_DATA);
    this.limits = limits;
    this.sendFrame = opts.send ?? ((to, type, payload) => void to.send(type, payload));
    this.limitsFor = opts.limitsFor;
    this.onThrottled = opts.onThrottled;
  }

  /**
   * RELAY_OPEN from `from` (already admitted: registered, request rate) towards `targetId`,
   * whose registered session is `target` (undefined: not registered). Refusals are
   * answered SIGNAL_ERROR with `reqId` and counted; otherwise the target is sent
   * RELAY_INCOMING and has the accept timeout to answer.
   */
  open(from: RelayEnd, reqId: number, targetId: NodeId, target: RelayEnd | undefined): void {
    const now = this.clock.now();
    if (!this.enabled) return this.refuse(from, reqId, 'disabled', SignalErrorCode.RELAY_DISABLED);
    if (!target || target.isClosed) return this.refuse(from, reqId, 'not_found', SignalErrorCode.NOT_FOUND, `${targetId} is not registered`);
    if (targetId === from.peerId || target === from) return this.refuse(from, reqId, 'self', SignalErrorCode.BAD_REQUEST);
    const me = this.node(from.peerId, now);
    if (me.pendingOut >= this.limits.maxPendingPerNode) return this.refuse(from, reqId, 'pending', SignalErrorCode.RATE_LIMITED);
    if (me.circuits.size >= me.maxCircuits) return this.refuse(from, reqId, 'node_circuits', SignalErrorCode.RATE_LIMITED);
    const existing = this.nodes.get(targetId);
    if (existing && existing.circuits.size >= existing.maxCircuits) return this.refuse(from, reqId, 'target_circuits', SignalErrorCode.RATE_LIMITED);
    if (this.circuits.size >= this.limits.maxCircuits) return this.refuse(from, reqId, 'circuits', SignalErrorCode.RATE_LIMITED);
    // Last, so that a refusal spends no token.
    if (!me.opens.take(now)) return this.refuse(from, reqId, 'open_rate', SignalErrorCode.RATE_LIMITED);
    const them = existing ?? this.node(targetId, now);
    const id = this.allocate();
    const c = newCircuit(id, reqId, from, target, me, them, now);
    this.circuits.set(id, c);
    me.circuits.add(c);
    them.circuits.add(c);
    me.pendingOut++;
    c.timer = this.clock.setTimeout(() => this.acceptTimedOut(c), this.limits.acceptTimeoutMs);
    this.counters.inc('relay.opens');
    this.tell(target, FrameType.RELAY_INCOMING, encodeRelayIncoming({ circuit: id, peer: publicKeyFromNodeId(from.peerId) }));
  }

  /** RELAY_ACCEPT from a session. */
  accept(from: RelayEnd, payload: Uint8Array): void {
    const { circuit } = decodeRelayAccept(payload);
    const c = this.circuits.get(circuit);
    if (!c) return this.refuseFrame(from, circuit, 'unknown_circuit');
    if (from !== c.b) return this.refuseFrame(from, circuit, 'not_member');
    if (c.live) return this.closeCircuit(c, RelayCloseCode.PROTOCOL, 'RELAY_ACCEPT for a circuit already open', [c.a, c.b]);
    if (c.a.isClosed) return this.closeCircuit(c, RelayCloseCode.GONE, 'the requester left the relay', [c.b]);
    c.live = true;
    c.aNode.pendingOut--;
    this.clock.clearTimeout(c.timer);
    c.lastData = this.clock.now();
    c.timer = this.clock.setTimeout(() => this.idleCheck(c), this.limits.idleTimeoutMs);
    this.counters.inc('relay.circuits_opened');
    this.tell(c.a, FrameType.RELAY_OPENED, encodeRelayOpened({ reqId: c.reqId, circuit: c.id }));
  }

  /** RELAY_DATA from a session: forwarded unchanged (same payload) to the other end, at the sender's byte rate. */
  data(from: RelayEnd, payload: Buffer): void {
    const n = payload.length - 4;
    if (n < 1 || n > RELAY_MAX_DATA) throw new SentinelError('E_PAYLOAD_MALFORMED', `RELAY_DATA: ${Math.max(0, n)} data bytes (1..${RELAY_MAX_DATA})`);
    const c = this.member(from, payload.readUInt32BE(0));
    if (!c) return;
    const d = from === c.a ? c.ab : c.ba;
    // After a RELAY_CLOSE whose delivery waits for queued data: the closer sends nothing
    // more, and nothing goes to it.
    if (c.ab.closeAfter || c.ba.closeAfter) return void this.counters.inc('relay.dropped_after_close');
    const now = this.clock.now();
    c.lastData = now;
    if (d.inFlight + n > this.limits.window) {
      this.counters.inc('relay.window_exceeded');
      return this.closeCircuit(c, RelayCloseCode.PROTOCOL, `more than ${this.limits.window} bytes in flight`, [c.a, c.b]);
    }
    const node = d.node;
    if (node.waiting.length === 0 && node.bytes.take(now, n)) {
      d.inFlight += n;
      return this.forward(d, payload, n);
    }
    if (d.queue.length >= this.limits.maxQueuedFrames) {
      this.counters.inc('relay.queue_full');
      return this.closeCircuit(c, RelayCloseCode.LIMIT, `more than ${this.limits.maxQueuedFrames} frames queued`, [c.a, c.b]);
    }
    d.inFlight += n;
    d.queue.push(payload);
    d.queuedBytes += n;
    this.counters.inc('relay.throttled');
    node.throttled++;
    if (!node.waiting.includes(d)) node.waiting.push(d);
    this.schedule(node);
    this.noticeThrottled(node, now);
  }

  /** RELAY_CREDIT from a session: lowers the in-flight bytes towards it, forwarded unchanged. */
  credit(from: RelayEnd, payload: Buffer): void {
    const m = decodeRelayCredit(payload);
    const c = this.member(from, m.circuit);
    if (!c) return;
    if (c.ab.closeAfter || c.ba.closeAfter) return void this.counters.inc('relay.dropped_after_close');
    // Credit returns data sent *to* `from`: it can only credit what it received.
    const d = from === c.a ? c.ba : c.ab;
    if (m.bytes > d.inFlight - d.queuedBytes) {
      this.counters.inc('relay.credit_exceeded');
      return this.closeCircuit(c, RelayCloseCode.PROTOCOL, `credit of ${m.bytes} bytes exceeds the ${d.inFlight - d.queuedBytes} in flight`, [c.a, c.b]);
    }
    d.inFlight -= m.bytes;
    this.tell(d.from, FrameType.RELAY_CREDIT, payload);
  }

  /** RELAY_CLOSE from a session: forwarded to the other end (after the closer's queued data), the circuit dropped. */
  close(from: RelayEnd, payload: Buffer): void {
    const m = decodeRelayClose(payload);
    const c = this.circuits.get(m.circuit);
    // A RELAY_CLOSE is never answered (two closes may cross).
    if (!c) return void this.counters.inc('relay_refused.unknown_circuit');
    if (from !== c.a && from !== c.b) return void this.counters.inc('relay_refused.not_member');
    if (!c.live) {
      if (from === c.b) {
        this.counters.inc('relay.declined');
        this.dropCircuit(c, m.code);
        this.tell(c.a, FrameType.SIGNAL_ERROR, encodeSignalError({ reqId: c.reqId, code: SignalErrorCode.REFUSED, reason: 'the target declined' }));
      } else {
        // The requester gives up waiting (it knows the id only from RELAY_OPENED, so this is unusual).
        this.dropCircuit(c, m.code);
        this.tell(c.b, FrameType.RELAY_CLOSE, payload);
      }
      return;
    }
    const d = from === c.a ? c.ab : c.ba;
    if (d.closeAfter) return; // closed twice
    // Both ends closed: nobody wants the rest of the data.
    if ((from === c.a ? c.ba : c.ab).closeAfter) return this.dropCircuit(c, m.code);
    if (d.queue.length > 0) {
      d.closeAfter = payload;
      return;
    }
    this.dropCircuit(c, m.code);
    this.tell(d.to, FrameType.RELAY_CLOSE, payload);
  }

  /**
   * The session of node `id` is gone: every circuit it is an end of closes (RELAY_CLOSE GONE
   * to the other end), its pending opens are dropped (the target is told RELAY_CLOSE GONE),
   * and opens towards it are answered SIGNAL_ERROR NOT_FOUND. With `keep` (a new session of
   * the same node replaced the old one), circuits on `keep` stay and the node's rate
   * buckets are kept; otherwise the node is forgotten.
   */
  sessionDown(id: NodeId, keep?: RelayEnd): void {
    const st = this.nodes.get(id);
    if (!st) return;
    this.endsGone(st, (end) => end.peerId === id && end !== keep, `${id} left the signaler`, 'the other end left the relay');
    if (keep === undefined && st.circuits.size === 0) {
      this.clock.clearTimeout(st.timer);
      this.nodes.delete(id);
    }
  }

  /** One end is gone (a remote end whose cluster instance died): its circuits close as in {@link sessionDown}. */
  endGone(end: RelayEnd, reason: string): void {
    const st = this.nodes.get(end.peerId);
    if (st) this.endsGone(st, (e) => e === end, reason, reason);
  }

  /** Closes the circuits of `st` with a gone end: an open still waiting for it gets NOT_FOUND, a live circuit RELAY_CLOSE GONE. */
  private endsGone(st: NodeState, gone: (end: RelayEnd) => boolean, notFound: string, closed: string): void {
    for (const c of [...st.circuits]) {
      if (this.circuits.get(c.id) !== c) continue;
      const [aGone, bGone] = [gone(c.a), gone(c.b)];
      if (!aGone && !bGone) continue;
      if (!c.live && !aGone) {
        this.dropCircuit(c, RelayCloseCode.GONE);
        this.tell(c.a, FrameType.SIGNAL_ERROR, encodeSignalError({ reqId: c.reqId, code: SignalErrorCode.NOT_FOUND, reason: notFound }));
      } else {
        this.closeCircuit(c, RelayCloseCode.GONE, closed, aGone ? [c.b] : [c.a]);
      }
    }
  }

  /** Clears every timer and forgets every circuit without sending anything (server shutdown). */
  dispose(): void {
    for (const c of this.circuits.values()) this.clock.clearTimeout(c.timer);
    for (const st of this.nodes.values()) this.clock.clearTimeout(st.timer);
    this.circuits.clear();
    this.nodes.clear();
  }

  /** Whether circuit `id` (pending or live) exists. */
  hasCircuit(id: number): boolean {
    return this.circuits.has(id);
  }

  stats(): RelayStats {
    return hubStats(this.enabled, this.limits, this.circuits.values(), this.nodes.values(), this.counters);
  }

  private node(id: NodeId, now: number): NodeState {
    let st = this.nodes.get(id);
    if (!st) this.nodes.set(id, (st = newNodeState(id, this.limitsFor?.(id) ?? this.limits, this.limits.openRate, now)));
    return st;
  }

  /** A fresh circuit id: u32, non-zero, not in use. */
  private allocate(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= 0xffffffff ? 1 : id + 1;
      if (!this.circuits.has(id)) return id;
    }
  }

  private refuse(to: RelayEnd, reqId: number, reason: RelayRefusal, code: number, text?: string): void {
    this.counters.inc(`relay_refused.${reason}`);
    this.tell(to, FrameType.SIGNAL_ERROR, encodeSignalError({ reqId, code, reason: text ?? REFUSAL_TEXT[reason as Exclude<RelayRefusal, 'not_found'>] }));
  }

  /** A frame for circuit `id` from someone who is not one of its ends: answered to the sender only. */
  private refuseFrame(from: RelayEnd, id: number, reason: RelayFrameRefusal): void {
    this.counters.inc(`relay_refused.${reason}`);
    this.tell(from, FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: id, code: RelayCloseCode.PROTOCOL, reason: 'not your circuit' }));
  }

  /**
   * The circuit `id` if `from` may send DATA/CREDIT on it now; otherwise answers and
   * returns undefined. The target sending on a circuit it has not accepted breaks the
   * protocol: the open fails. The requester does not know the id before RELAY_OPENED.
   */
  private member(from: RelayEnd, id: number): Circuit | undefined {
    const c = this.circuits.get(id);
    if (!c) return void this.refuseFrame(from, id, 'unknown_circuit');
    if (from !== c.a && from !== c.b) return void this.refuseFrame(from, id, 'not_member');
    if (c.live) return c;
    if (from === c.a) return void this.refuseFrame(from, id, 'not_member');
    this.dropCircuit(c, RelayCloseCode.PROTOCOL);
    this.tell(c.b, FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: id, code: RelayCloseCode.PROTOCOL, reason: 'data before RELAY_ACCEPT' }));
    this.tell(c.a, FrameType.SIGNAL_ERROR, encodeSignalError({ reqId: c.reqId, code: SignalErrorCode.REFUSED, reason: 'the target broke the relay protocol' }));
    return undefined;
  }

  private forward(d: Direction, payload: Buffer, n: number): void {
    if (d.to.isClosed) return this.closeCircuit(d.circuit, RelayCloseCode.GONE, 'the other end left the relay', [d.from]);
    this.counters.inc('relay.bytes', n);
    this.tell(d.to, FrameType.RELAY_DATA, payload);
  }

  /** Reports `node` as over its rate, unless it was reported less than `throttleNoticeMs` ago. */
  private noticeThrottled(node: NodeState, now: number): void {
    if (!this.onThrottled) return;
    if (node.noticedAt !== undefined && now - node.noticedAt < this.limits.throttleNoticeMs) return;
    node.noticedAt = now;
    let queuedBytes = 0;
    for (const d of node.waiting) queuedBytes += d.queuedBytes;
    this.onThrottled(node.id, { delayed: node.throttled, queuedBytes });
  }

  /** Makes sure `node`'s drain timer runs when its first queued frame can go. */
  private schedule(node: NodeState): void {
    if (node.timer !== undefined) return;
    const d = node.waiting[0];
    const head = d?.queue.peek();
    if (!head) return;
    node.timer = this.clock.setTimeout(() => {
      node.timer = undefined;
      this.drain(node);
    }, node.bytes.waitMs(this.clock.now(), head.length - 4));
  }

  /** Forwards `node`'s queued frames, round robin over its circuits, while its rate allows. */
  private drain(node: NodeState): void {
    for (;;) {
      const d = node.waiting[0];
      if (!d) return;
      const head = d.queue.peek();
      if (!head) {
        // Only the closer's RELAY_CLOSE is left.
        node.waiting.shift();
        const close = d.closeAfter;
        if (close) {
          this.dropCircuit(d.circuit, close.readUInt16BE(4));
          this.tell(d.to, FrameType.RELAY_CLOSE, close);
        }
        continue;
      }
      const n = head.length - 4;
      if (!node.bytes.take(this.clock.now(), n)) return this.schedule(node);
      d.queue.shift();
      d.queuedBytes -= n;
      node.waiting.shift();
      if (d.queue.length > 0 || d.closeAfter) node.waiting.push(d);
      // May re-enter (a failing send closes a session): the loop re-reads the state.
      this.forward(d, head, n);
    }
  }

  private acceptTimedOut(c: Circuit): void {
    if (this.circuits.get(c.id) !== c || c.live) return;
    this.counters.inc('relay.accept_timeouts');
    this.dropCircuit(c, RelayCloseCode.TIMEOUT);
    this.tell(c.a, FrameType.SIGNAL_ERROR, encodeSignalError({ reqId: c.reqId, code: SignalErrorCode.TIMEOUT, reason: 'the target did not answer in time' }));
    this.tell(c.b, FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: c.id, code: RelayCloseCode.TIMEOUT, reason: 'not accepted in time' }));
  }

  private idleCheck(c: Circuit): void {
    if (this.circuits.get(c.id) !== c) return;
    const idle = this.clock.now() - c.lastData;
    if (idle >= this.limits.idleTimeoutMs) return this.closeCircuit(c, RelayCloseCode.IDLE, 'no data for too long', [c.a, c.b]);
    c.timer = this.clock.setTimeout(() => this.idleCheck(c), this.limits.idleTimeoutMs - idle);
  }

  /** Drops `c` and tells `notify` RELAY_CLOSE `code`. */
  private closeCircuit(c: Circuit, code: number, reason: string, notify: RelayEnd[]): void {
    this.dropCircuit(c, code);
    const payload = encodeRelayClose({ circuit: c.id, code, reason });
    for (const end of notify) this.tell(end, FrameType.RELAY_CLOSE, payload);
  }

  /** Forgets `c` (timers, queues, counts); sends nothing. Counted as `relay.closed.<code>`. */
  private dropCircuit(c: Circuit, code: number): void {
    if (this.circuits.get(c.id) !== c) return;
    this.circuits.delete(c.id);
    this.clock.clearTimeout(c.timer);
    if (!c.live) c.aNode.pendingOut--;
    for (const [st, d] of [
      [c.aNode, c.ab],
      [c.bNode, c.ba],
    ] as const) {
      st.circuits.delete(c);
      const i = st.waiting.indexOf(d);
      if (i >= 0) st.waiting.splice(i, 1);
      d.queue.clear();
      d.queuedBytes = 0;
      if (st.waiting.length === 0 && st.timer !== undefined) {
        this.clock.clearTimeout(st.timer);
        st.timer = undefined;
      }
    }
    this.counters.inc(`relay.closed.${codeName(code)}`);
  }

  private tell(to: RelayEnd, type: number, payload: Uint8Array): void {
    if (to.isClosed) return;
    this.sendFrame(to, type, payload);
  }
}
