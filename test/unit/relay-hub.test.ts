/**
 * The signaler's relay bookkeeping (src/relay/hub.ts RelayHub) with fake sessions and
 * a manual clock: circuits, refusals, flow control, per-node byte rate, timeouts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/api.js';
import { publicKeyFromNodeId } from '../../src/identity/index.js';
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
  SIGNAL_MAX_PAYLOAD,
} from '../../src/signaler/limits.js';
import { DEFAULT_RELAY_LIMITS, RelayHub, relayBurstFor, type RelayLimits } from '../../src/relay/hub.js';
import { Counters } from '../../src/transport/index.js';
import {
  FrameType,
  RELAY_MAX_DATA,
  RELAY_WINDOW,
  RelayCloseCode,
  SignalErrorCode,
  decodeRelayClose,
  decodeRelayIncoming,
  decodeRelayOpened,
  decodeSignalError,
  encodeRelayAccept,
  encodeRelayClose,
  encodeRelayCredit,
  encodeRelayData,
} from '../../src/wire/index.js';
import { FakeEnd, newId } from '../helpers/fake-end.js';
import { fakeClock, type FakeClock } from '../helpers/fake-clock.js';

const End = FakeEnd;
type End = FakeEnd;

interface Setup {
  clock: FakeClock;
  counters: Counters;
  hub: RelayHub;
}

function setup(opts: { enabled?: boolean; limits?: Partial<RelayLimits> } = {}): Setup {
  const clock = fakeClock(1_000_000);
  const counters = new Counters();
  const hub = new RelayHub({ clock, counters, ...opts });
  return { clock, counters, hub };
}

/** The one SIGNAL_ERROR `e` got, decoded. */
function onlyError(e: End) {
  const errors = e.of(FrameType.SIGNAL_ERROR);
  assert.equal(errors.length, 1, `one SIGNAL_ERROR, got ${errors.length}`);
  return decodeSignalError(errors[0] as Buffer);
}

/** The RELAY_CLOSEs `e` got, decoded. */
const closes = (e: End) => e.of(FrameType.RELAY_CLOSE).map(decodeRelayClose);

/** Opens a circuit from `a` to `b` and has `b` accept it; returns its id. */
function connect(hub: RelayHub, a: End, b: End, reqId = 1): number {
  const before = b.of(FrameType.RELAY_INCOMING).length;
  hub.open(a, reqId, b.peerId, b);
  const incoming = b.of(FrameType.RELAY_INCOMING);
  assert.equal(incoming.length, before + 1, 'RELAY_INCOMING sent to the target');
  const { circuit } = decodeRelayIncoming(incoming.at(-1) as Buffer);
  hub.accept(b, encodeRelayAccept({ circuit }));
  return circuit;
}

const data = (circuit: number, n: number, fill = 0xab): Buffer => encodeRelayData({ circuit, data: Buffer.alloc(n, fill) });
const received = (e: End): Buffer[] => e.of(FrameType.RELAY_DATA);

describe('relay limits', () => {
  it('the defaults are the named limits, and a full RELAY_DATA fits the signaler frame cap', () => {
    assert.deepEqual(DEFAULT_RELAY_LIMITS, {
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
    });
    assert.deepEqual([RELAY_MAX_CIRCUITS_PER_NODE, RELAY_MAX_CIRCUITS, RELAY_MAX_PENDING_PER_NODE, RELAY_ACCEPT_TIMEOUT_MS, RELAY_IDLE_TIMEOUT_MS], [16, 1024, 4, 5_000, 300_000]);
    assert.deepEqual(RELAY_OPEN_RATE, { perSecond: 1, burst: 8 });
    assert.deepEqual(RELAY_RATE, { bytesPerSecond: 1024 * 1024, burst: 2 * 1024 * 1024 });
    assert.equal(SIGNAL_MAX_PAYLOAD, data(1, RELAY_MAX_DATA).length);
    assert.equal(relayBurstFor(RELAY_RATE.bytesPerSecond), RELAY_RATE.burst, 'an operator rate gets the default shape');
    assert.equal(relayBurstFor(100), RELAY_MAX_DATA, 'the burst always holds one full RELAY_DATA');
    assert.equal(setup({ limits: { bytesPerSecond: 3 * 1024 * 1024 } }).hub.limits.burstBytes, 6 * 1024 * 1024);
    assert.throws(() => setup({ limits: { bytesPerSecond: 0 } }), RangeError);
  });
});

describe('RelayHub: opening a circuit', () => {
  it('open -> RELAY_INCOMING to the target -> RELAY_ACCEPT -> RELAY_OPENED to the requester', () => {
    const { hub, counters } = setup();
    const [a, b] = [new End(), new End()];
    hub.open(a, 42, b.peerId, b);
    assert.equal(a.frames.length, 0, 'nothing for the requester before the target answers');
    const incoming = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING)[0] as Buffer);
    assert.notEqual(incoming.circuit, 0);
    assert.deepEqual(Buffer.from(incoming.peer), Buffer.from(publicKeyFromNodeId(a.peerId)), "the target learns the requester's key");
    assert.deepEqual(hub.stats().pending, 1);
    assert.deepEqual(hub.stats().nodes[a.peerId], { circuits: 1, pending: 1, throttled: 0 });
    hub.accept(b, encodeRelayAccept({ circuit: incoming.circuit }));
    assert.deepEqual(a.of(FrameType.RELAY_OPENED).map(decodeRelayOpened), [{ reqId: 42, circuit: incoming.circuit }]);
    const s = hub.stats();
    assert.equal(s.circuits, 1);
    assert.equal(s.pending, 0);
    assert.deepEqual(s.nodes[a.peerId], { circuits: 1, pending: 0, throttled: 0 });
    assert.deepEqual(s.nodes[b.peerId], { circuits: 1, pending: 0, throttled: 0 });
    assert.equal(counters.get('relay.circuits_opened'), 1);
    // Another circuit between the same two gets another id.
    const second = connect(hub, a, b, 43);
    assert.notEqual(second, incoming.circuit);
    assert.equal(hub.stats().circuits, 2);
  });

  it('only the target accepts: anyone else gets RELAY_CLOSE PROTOCOL and the open still waits', () => {
    const { hub, counters } = setup();
    const [a, b, c] = [new End(), new End(), new End()];
    hub.open(a, 1, b.peerId, b);
    const { circuit } = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING)[0] as Buffer);
    hub.accept(c, encodeRelayAccept({ circuit }));
    hub.accept(a, encodeRelayAccept({ circuit }));
    assert.deepEqual(closes(c).map((m) => [m.circuit, m.code]), [[circuit, RelayCloseCode.PROTOCOL]]);
    assert.deepEqual(closes(a).map((m) => [m.circuit, m.code]), [[circuit, RelayCloseCode.PROTOCOL]]);
    assert.equal(a.of(FrameType.RELAY_OPENED).length, 0);
    assert.equal(counters.get('relay_refused.not_member'), 2);
    assert.equal(hub.stats().pending, 1);
    hub.accept(b, encodeRelayAccept({ circuit }));
    assert.equal(a.of(FrameType.RELAY_OPENED).length, 1);
  });

  it('refuses when relaying is disabled', () => {
    const { hub, counters } = setup({ enabled: false });
    const [a, b] = [new End(), new End()];
    hub.open(a, 5, b.peerId, b);
    const e = onlyError(a);
    assert.deepEqual([e.reqId, e.code], [5, SignalErrorCode.RELAY_DISABLED]);
    assert.equal(b.frames.length, 0);
    assert.equal(counters.get('relay_refused.disabled'), 1);
    assert.equal(hub.stats().enabled, false);
  });

  it('refuses a target that is not registered (or whose session closed), and yourself', () => {
    const { hub, counters } = setup();
    const [a, b] = [new End(), new End()];
    const stranger = newId();
    hub.open(a, 1, stranger, undefined);
    let e = onlyError(a);
    assert.deepEqual([e.reqId, e.code], [1, SignalErrorCode.NOT_FOUND]);
    assert.match(e.reason, new RegExp(`${stranger} is not registered`));
    a.take();
    b.isClosed = true;
    hub.open(a, 2, b.peerId, b);
    e = onlyError(a);
    assert.deepEqual([e.reqId, e.code], [2, SignalErrorCode.NOT_FOUND]);
    assert.equal(counters.get('relay_refused.not_found'), 2);
    a.take();
    hub.open(a, 3, a.peerId, a);
    e = onlyError(a);
    assert.deepEqual([e.reqId, e.code], [3, SignalErrorCode.BAD_REQUEST]);
    assert.equal(counters.get('relay_refused.self'), 1);
    assert.equal(hub.stats().pending, 0);
  });

  it(`at most ${RELAY_MAX_PENDING_PER_NODE} opens of one node wait for an answer; a refusal spends no open token`, () => {
    const { hub, counters } = setup();
    const a = new End();
    const targets = Array.from({ length: RELAY_MAX_PENDING_PER_NODE + 1 }, () => new End());
    targets.forEach((t, i) => hub.open(a, i + 1, t.peerId, t));
    const e = onlyError(a);
    assert.deepEqual([e.reqId, e.code], [RELAY_MAX_PENDING_PER_NODE + 1, SignalErrorCode.RATE_LIMITED]);
    assert.match(e.reason, /waiting/);
    assert.equal(counters.get('relay_refused.pending'), 1);
    assert.equal(targets.filter((t) => t.of(FrameType.RELAY_INCOMING).length === 1).length, RELAY_MAX_PENDING_PER_NODE);
    // Answering one frees a place; the open rate still has tokens (burst 8, 4 spent).
    const first = targets[0] as End;
    hub.accept(first, encodeRelayAccept({ circuit: decodeRelayIncoming(first.of(FrameType.RELAY_INCOMING)[0] as Buffer).circuit }));
    const late = targets.at(-1) as End;
    hub.open(a, 99, late.peerId, late);
    assert.equal(late.of(FrameType.RELAY_INCOMING).length, 1);
    assert.equal(a.of(FrameType.SIGNAL_ERROR).length, 1, 'no new refusal');
  });

  it(`open rate: a burst of ${RELAY_OPEN_RATE.burst}, then ${RELAY_OPEN_RATE.perSecond}/s`, async () => {
    const { hub, counters, clock } = setup();
    const a = new End();
    const opened: number[] = [];
    const tryOpen = (reqId: number): boolean => {
      const t = new End();
      hub.open(a, reqId, t.peerId, t);
      const ok = t.of(FrameType.RELAY_INCOMING).length === 1;
      // Accept at once so the pending limit is not what stops us.
      if (ok) hub.accept(t, encodeRelayAccept({ circuit: decodeRelayIncoming(t.of(FrameType.RELAY_INCOMING)[0] as Buffer).circuit }));
      if (ok) opened.push(reqId);
      return ok;
    };
    for (let i = 1; i <= RELAY_OPEN_RATE.burst + 2; i++) tryOpen(i);
    assert.equal(opened.length, RELAY_OPEN_RATE.burst);
    assert.equal(counters.get('relay_refused.open_rate'), 2);
    assert.ok(a.of(FrameType.SIGNAL_ERROR).map(decodeSignalError).every((e) => e.code === SignalErrorCode.RATE_LIMITED));
    await clock.advance(1_000 / RELAY_OPEN_RATE.perSecond - 1);
    assert.equal(tryOpen(100), false);
    await clock.advance(1);
    assert.equal(tryOpen(101), true);
  });

  it(`circuits per node (${RELAY_MAX_CIRCUITS_PER_NODE}, both ends counted) and in total`, () => {
    const { hub, counters } = setup({ limits: { openRate: { perSecond: 1_000, burst: 1_000 } } });
    const a = new End();
    // a is the target of 6 and the requester of 10.
    for (let i = 0; i < 6; i++) connect(hub, new End(), a);
    for (let i = 0; i < RELAY_MAX_CIRCUITS_PER_NODE - 6; i++) connect(hub, a, new End(), i);
    assert.equal(hub.stats().nodes[a.peerId]?.circuits, RELAY_MAX_CIRCUITS_PER_NODE);
    const t = new End();
    hub.open(a, 77, t.peerId, t);
    let e = onlyError(a);
    assert.deepEqual([e.reqId, e.code], [77, SignalErrorCode.RATE_LIMITED]);
    assert.equal(counters.get('relay_refused.node_circuits'), 1);
    assert.equal(t.frames.length, 0);
    // a is full as a target too.
    const c = new End();
    hub.open(c, 8, a.peerId, a);
    e = onlyError(c);
    assert.deepEqual([e.reqId, e.code], [8, SignalErrorCode.RATE_LIMITED]);
    assert.equal(counters.get('relay_refused.target_circuits'), 1);

    const small = setup({ limits: { maxCircuits: 3 } });
    for (let i = 0; i < 3; i++) connect(small.hub, new End(), new End());
    const [x, y] = [new End(), new End()];
    small.hub.open(x, 9, y.peerId, y);
    e = onlyError(x);
    assert.deepEqual([e.reqId, e.code], [9, SignalErrorCode.RATE_LIMITED]);
    assert.equal(small.counters.get('relay_refused.circuits'), 1);
    assert.equal(small.hub.stats().circuits, 3);
    assert.deepEqual(small.hub.stats().refused, { circuits: 1 });
  });

  it('an open not accepted in time: SIGNAL_ERROR TIMEOUT to the requester, RELAY_CLOSE TIMEOUT to the target', async () => {
    const { hub, clock, counters } = setup();
    const [a, b] = [new End(), new End()];
    hub.open(a, 11, b.peerId, b);
    const { circuit } = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING)[0] as Buffer);
    await clock.advance(RELAY_ACCEPT_TIMEOUT_MS - 1);
    assert.equal(a.frames.length, 0);
    await clock.advance(1);
    const e = onlyError(a);
    assert.deepEqual([e.reqId, e.code], [11, SignalErrorCode.TIMEOUT]);
    assert.deepEqual(closes(b).map((m) => [m.circuit, m.code]), [[circuit, RelayCloseCode.TIMEOUT]]);
    assert.equal(hub.stats().pending, 0);
    assert.equal(counters.get('relay.closed.timeout'), 1);
    // A late accept finds no circuit.
    b.take();
    hub.accept(b, encodeRelayAccept({ circuit }));
    assert.equal(a.of(FrameType.RELAY_OPENED).length, 0);
    assert.deepEqual(closes(b).map((m) => m.code), [RelayCloseCode.PROTOCOL]);
  });

  it('the target declines (RELAY_CLOSE before accepting): SIGNAL_ERROR REFUSED to the requester', async () => {
    const { hub, clock } = setup();
    const [a, b] = [new End(), new End()];
    hub.open(a, 12, b.peerId, b);
    const { circuit } = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING)[0] as Buffer);
    hub.close(b, encodeRelayClose({ circuit, code: RelayCloseCode.REFUSED, reason: 'no strangers' }));
    const e = onlyError(a);
    assert.deepEqual([e.reqId, e.code], [12, SignalErrorCode.REFUSED]);
    assert.equal(hub.stats().pending, 0);
    assert.equal(hub.stats().nodes[a.peerId], undefined);
    await clock.advance(RELAY_ACCEPT_TIMEOUT_MS);
    assert.equal(a.of(FrameType.SIGNAL_ERROR).length, 1, 'no timeout after the decline');
    assert.equal(closes(b).length, 0, 'the decliner is not told anything');
  });
});

describe('RelayHub: data, credit, close', () => {
  it('forwards RELAY_DATA unchanged both ways and credits to the sender', () => {
    const { hub, counters } = setup();
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    const ab = encodeRelayData({ circuit, data: randomBytes(RELAY_MAX_DATA) });
    const ba = encodeRelayData({ circuit, data: randomBytes(77) });
    hub.data(a, ab);
    hub.data(b, ba);
    assert.deepEqual(received(b), [ab]);
    assert.deepEqual(received(a), [ba]);
    const credit = encodeRelayCredit({ circuit, bytes: RELAY_MAX_DATA });
    hub.credit(b, credit);
    assert.deepEqual(a.of(FrameType.RELAY_CREDIT), [credit]);
    assert.equal(b.of(FrameType.RELAY_CREDIT).length, 0);
    assert.equal(counters.get('relay.bytes'), RELAY_MAX_DATA + 77);
    assert.equal(hub.stats().bytes, RELAY_MAX_DATA + 77);
  });

  it(`more than RELAY_WINDOW (${RELAY_WINDOW}) bytes in flight closes the circuit on both ends; credit makes room`, () => {
    const { hub, counters } = setup();
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    for (let i = 0; i < RELAY_WINDOW / RELAY_MAX_DATA; i++) hub.data(a, data(circuit, RELAY_MAX_DATA));
    assert.equal(received(b).length, RELAY_WINDOW / RELAY_MAX_DATA, 'a full window passes');
    hub.credit(b, encodeRelayCredit({ circuit, bytes: 100 }));
    hub.data(a, data(circuit, 100));
    assert.equal(received(b).length, RELAY_WINDOW / RELAY_MAX_DATA + 1, 'credited bytes may be sent again');
    assert.equal(closes(a).length + closes(b).length, 0);
    hub.data(a, data(circuit, 1));
    assert.deepEqual(closes(a).map((m) => [m.circuit, m.code]), [[circuit, RelayCloseCode.PROTOCOL]]);
    assert.deepEqual(closes(b).map((m) => [m.circuit, m.code]), [[circuit, RelayCloseCode.PROTOCOL]]);
    assert.equal(received(b).length, RELAY_WINDOW / RELAY_MAX_DATA + 1, 'the excess is not forwarded');
    assert.equal(hub.stats().circuits, 0);
    assert.equal(counters.get('relay.closed.protocol'), 1);
  });

  it('the window is per direction: each side may have a full window in flight', () => {
    const { hub } = setup();
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    for (let i = 0; i < RELAY_WINDOW / RELAY_MAX_DATA; i++) {
      hub.data(a, data(circuit, RELAY_MAX_DATA));
      hub.data(b, data(circuit, RELAY_MAX_DATA));
    }
    assert.equal(closes(a).length + closes(b).length, 0);
    assert.equal(hub.stats().circuits, 1);
  });

  it('a credit exceeding what was sent to the creditor closes the circuit on both ends', () => {
    const { hub } = setup();
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    hub.data(a, data(circuit, 1000));
    hub.credit(b, encodeRelayCredit({ circuit, bytes: 600 }));
    hub.credit(b, encodeRelayCredit({ circuit, bytes: 400 }));
    assert.equal(a.of(FrameType.RELAY_CREDIT).length, 2, 'exact credits pass');
    assert.equal(hub.stats().circuits, 1);
    // Credit from a for data b never sent.
    hub.credit(a, encodeRelayCredit({ circuit, bytes: 1 }));
    assert.deepEqual(closes(a).map((m) => m.code), [RelayCloseCode.PROTOCOL]);
    assert.deepEqual(closes(b).map((m) => m.code), [RelayCloseCode.PROTOCOL]);
    assert.equal(b.of(FrameType.RELAY_CREDIT).length, 0, 'the bad credit is not forwarded');
    assert.equal(hub.stats().circuits, 0);
  });

  it("a stranger's DATA/CREDIT/CLOSE/ACCEPT on a circuit is refused to the stranger only; the circuit is untouched", () => {
    const { hub, counters } = setup();
    const [a, b, c] = [new End(), new End(), new End()];
    const circuit = connect(hub, a, b);
    a.take();
    b.take();
    hub.data(c, data(circuit, 10));
    hub.credit(c, encodeRelayCredit({ circuit, bytes: 1 }));
    hub.close(c, encodeRelayClose({ circuit, code: RelayCloseCode.NORMAL, reason: '' }));
    hub.accept(c, encodeRelayAccept({ circuit }));
    assert.deepEqual(closes(c).map((m) => [m.circuit, m.code]), [
      [circuit, RelayCloseCode.PROTOCOL],
      [circuit, RelayCloseCode.PROTOCOL],
      [circuit, RelayCloseCode.PROTOCOL],
    ], 'DATA, CREDIT and ACCEPT answered; a RELAY_CLOSE is never answered');
    assert.equal(counters.get('relay_refused.not_member'), 4);
    assert.deepEqual([a.frames.length, b.frames.length], [0, 0], 'the ends heard nothing');
    assert.equal(hub.stats().circuits, 1);
    hub.data(a, data(circuit, 10));
    assert.equal(received(b).length, 1, 'the circuit still works');
    // An unknown circuit id is refused the same way.
    hub.data(c, data(circuit + 1000, 10));
    assert.equal(counters.get('relay_refused.unknown_circuit'), 1);
    assert.equal(closes(c).length, 4);
  });

  it('RELAY_CLOSE from one end is forwarded with its code and reason; the circuit is gone', () => {
    const { hub, counters } = setup();
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    const close = encodeRelayClose({ circuit, code: RelayCloseCode.NORMAL, reason: 'bye' });
    hub.close(a, close);
    assert.deepEqual(b.of(FrameType.RELAY_CLOSE), [close]);
    assert.equal(closes(a).length, 0);
    assert.equal(hub.stats().circuits, 0);
    assert.equal(counters.get('relay.closed.normal'), 1);
    hub.data(b, data(circuit, 5));
    assert.equal(received(a).length, 0);
    assert.deepEqual(closes(b).map((m) => m.code), [RelayCloseCode.NORMAL, RelayCloseCode.PROTOCOL]);
  });

  it('data to an end whose session already closed: RELAY_CLOSE GONE to the sender', () => {
    const { hub } = setup();
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    b.isClosed = true;
    hub.data(a, data(circuit, 5));
    assert.deepEqual(closes(a).map((m) => m.code), [RelayCloseCode.GONE]);
    assert.equal(hub.stats().circuits, 0);
  });

  it('malformed RELAY_DATA is a protocol violation of the session (throws)', () => {
    const { hub } = setup();
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    assert.throws(() => hub.data(a, Buffer.from([0, 0, 0, circuit])), /RELAY_DATA: 0 data bytes/);
    const tooBig = Buffer.alloc(4 + RELAY_MAX_DATA + 1);
    tooBig.writeUInt32BE(circuit, 0);
    assert.throws(() => hub.data(a, tooBig), (e: Error & { code?: string }) => e.code === 'E_PAYLOAD_MALFORMED');
    assert.throws(() => hub.credit(a, Buffer.alloc(8)), (e: Error & { code?: string }) => e.code === 'E_PAYLOAD_MALFORMED');
    assert.equal(received(b).length, 0);
  });
});

describe('RelayHub: per-node byte rate', () => {
  const rate = 16 * 1024;

  it('a node over its rate is delayed, in order; other nodes and the other direction flow at once', async () => {
    const { hub, clock, counters } = setup({ limits: { bytesPerSecond: rate } });
    assert.equal(hub.limits.burstBytes, 2 * rate);
    const [a, b, c, d] = [new End(), new End(), new End(), new End()];
    const ab = connect(hub, a, b);
    const cd = connect(hub, c, d);
    const frames = [1, 2, 3, 4].map((i) => data(ab, rate, i));
    for (const f of frames) hub.data(a, f);
    assert.deepEqual(received(b), frames.slice(0, 2), 'the burst passes at once');
    assert.equal(counters.get('relay.throttled'), 2);
    assert.equal(hub.stats().queuedBytes, 2 * rate);
    hub.data(c, data(cd, 100));
    assert.equal(received(d).length, 1, "another node's circuit is not delayed");
    hub.data(b, data(ab, 100));
    assert.equal(received(a).length, 1, "the receiver's own data is not delayed");
    await clock.advance(999);
    assert.equal(received(b).length, 2);
    await clock.advance(1);
    assert.deepEqual(received(b), frames.slice(0, 3), 'one more after a second');
    await clock.advance(1_000);
    assert.deepEqual(received(b), frames, 'all of them, in order');
    assert.equal(hub.stats().queuedBytes, 0);
    assert.equal(counters.get('relay.bytes'), 4 * rate + 200);
  });

  it("the rate is per node, shared by its circuits (round robin), and queued bytes still count against the window", async () => {
    const { hub, clock } = setup({ limits: { bytesPerSecond: rate } });
    const [a, b, e] = [new End(), new End(), new End()];
    const ab = connect(hub, a, b);
    const ae = connect(hub, a, e);
    hub.data(a, data(ab, rate));
    hub.data(a, data(ab, rate));
    // The burst is spent: a's other circuit waits too.
    hub.data(a, data(ae, rate));
    hub.data(a, data(ab, rate));
    assert.deepEqual([received(b).length, received(e).length], [2, 0]);
    await clock.advance(1_000);
    assert.deepEqual([received(b).length, received(e).length], [2, 1], 'the circuit that queued first goes first');
    await clock.advance(1_000);
    assert.deepEqual([received(b).length, received(e).length], [3, 1]);
    // Fill ab's window with queued data: in-flight counts queued bytes.
    const room = RELAY_WINDOW - 3 * rate;
    for (let n = 0; n < room / rate; n++) hub.data(a, data(ab, rate));
    assert.equal(closes(a).length, 0);
    hub.data(a, data(ab, 1));
    assert.deepEqual(closes(b).map((m) => [m.circuit, m.code]), [[ab, RelayCloseCode.PROTOCOL]]);
    assert.equal(hub.stats().queuedBytes, 0, 'queued data of a closed circuit is dropped');
    assert.equal(hub.stats().circuits, 1, 'the other circuit stays');
  });

  it('too many tiny queued frames close the circuit (LIMIT)', () => {
    const { hub, counters } = setup({ limits: { bytesPerSecond: rate, maxQueuedFrames: 3 } });
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    hub.data(a, data(circuit, rate));
    hub.data(a, data(circuit, rate));
    for (let i = 0; i < 3; i++) hub.data(a, data(circuit, 1));
    assert.equal(closes(b).length, 0);
    hub.data(a, data(circuit, 1));
    assert.deepEqual(closes(b).map((m) => m.code), [RelayCloseCode.LIMIT]);
    assert.deepEqual(closes(a).map((m) => m.code), [RelayCloseCode.LIMIT]);
    assert.equal(counters.get('relay.queue_full'), 1);
  });

  it("a RELAY_CLOSE goes after the closer's queued data", async () => {
    const { hub, clock } = setup({ limits: { bytesPerSecond: rate } });
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    b.take();
    for (let i = 0; i < 3; i++) hub.data(a, data(circuit, rate, i));
    hub.close(a, encodeRelayClose({ circuit, code: RelayCloseCode.NORMAL, reason: 'done' }));
    assert.deepEqual(b.take().map((f) => f.type), [FrameType.RELAY_DATA, FrameType.RELAY_DATA]);
    await clock.advance(1_000);
    assert.deepEqual(b.take().map((f) => f.type), [FrameType.RELAY_DATA, FrameType.RELAY_CLOSE]);
    assert.equal(hub.stats().circuits, 0);
  });

  it('a node over its rate is reported by id (once per notice interval, with its delayed frames); nodes within their rate never are', async () => {
    const clock = fakeClock(1_000_000);
    const reports: { node: NodeId; delayed: number; queuedBytes: number }[] = [];
    const hub = new RelayHub({ clock, counters: new Counters(), limits: { bytesPerSecond: rate }, onThrottled: (node, r) => reports.push({ node, ...r }) });
    const [a, b, c, d] = [new End(), new End(), new End(), new End()];
    const ab = connect(hub, a, b);
    const cd = connect(hub, c, d);
    for (let i = 0; i < 4; i++) hub.data(a, data(ab, rate, i));
    hub.data(c, data(cd, 100));
    hub.data(b, data(ab, 100));
    assert.deepEqual(reports, [{ node: a.peerId, delayed: 1, queuedBytes: rate }], 'reported at its first delayed frame, alone');
    await clock.advance(10_000);
    for (let i = 0; i < 3; i++) hub.data(a, data(ab, rate, i));
    assert.equal(reports.length, 1, 'not again within the interval');
    assert.equal(hub.stats().nodes[a.peerId]?.throttled, 3);
    assert.equal(hub.stats().nodes[c.peerId]?.throttled, 0);
    await clock.advance(RELAY_THROTTLE_NOTICE_MS);
    for (let i = 0; i < 4; i++) hub.data(a, data(ab, rate, i));
    assert.deepEqual(reports.slice(1).map((r) => [r.node, r.delayed]), [[a.peerId, 4]], 'again after the interval, with the running count');
  });
});

describe('RelayHub: timeouts and sessions going down', () => {
  it('no RELAY_DATA either way for the idle timeout: RELAY_CLOSE IDLE to both', async () => {
    const { hub, clock, counters } = setup();
    const [a, b] = [new End(), new End()];
    const circuit = connect(hub, a, b);
    await clock.advance(RELAY_IDLE_TIMEOUT_MS / 2);
    hub.data(b, data(circuit, 1));
    await clock.advance(RELAY_IDLE_TIMEOUT_MS - 1);
    assert.equal(closes(a).length + closes(b).length, 0, 'data restarted the idle time');
    await clock.advance(1);
    assert.deepEqual(closes(a).map((m) => [m.circuit, m.code]), [[circuit, RelayCloseCode.IDLE]]);
    assert.deepEqual(closes(b).map((m) => [m.circuit, m.code]), [[circuit, RelayCloseCode.IDLE]]);
    assert.equal(counters.get('relay.closed.idle'), 1);
    assert.equal(hub.stats().circuits, 0);
    assert.equal(clock.pending, 0, 'no timers left');
  });

  it("a node's session goes down: its circuits close with GONE to the other end, its opens are dropped, opens towards it fail", () => {
    const { hub, counters } = setup();
    const [a, b, c, d, x, y] = [new End(), new End(), new End(), new End(), new End(), new End()];
    const ab = connect(hub, a, b);
    const da = connect(hub, d, a);
    hub.open(a, 5, c.peerId, c); // pending, made by a
    const ac = decodeRelayIncoming(c.of(FrameType.RELAY_INCOMING)[0] as Buffer).circuit;
    hub.open(x, 6, a.peerId, a); // pending, towards a
    connect(hub, x, y);
    [b, c, d, x, y].forEach((e) => e.take());
    a.isClosed = true;
    hub.sessionDown(a.peerId);
    assert.deepEqual(closes(b).map((m) => [m.circuit, m.code]), [[ab, RelayCloseCode.GONE]]);
    assert.deepEqual(closes(d).map((m) => [m.circuit, m.code]), [[da, RelayCloseCode.GONE]]);
    assert.deepEqual(closes(c).map((m) => [m.circuit, m.code]), [[ac, RelayCloseCode.GONE]], 'the target of its open is told');
    const e = onlyError(x);
    assert.deepEqual([e.reqId, e.code], [6, SignalErrorCode.NOT_FOUND]);
    assert.equal(y.frames.length, 0, 'circuits without it are untouched');
    const s = hub.stats();
    assert.deepEqual([s.circuits, s.pending], [1, 0]);
    assert.deepEqual(Object.keys(s.nodes).sort(), [x.peerId, y.peerId].sort());
    assert.equal(counters.get('relay.closed.gone'), 4);
    hub.data(b, data(ab, 1));
    assert.deepEqual(closes(b).map((m) => m.code), [RelayCloseCode.GONE, RelayCloseCode.PROTOCOL], 'the circuit id is dead');
  });

  it('a new session of the same node replaces the old one: circuits on the old one close, the new one keeps its own', () => {
    const { hub } = setup();
    const id = newId();
    const [old, b] = [new End(id), new End()];
    const circuit = connect(hub, old, b);
    const fresh = new End(id);
    const c = new End();
    const kept = connect(hub, c, fresh);
    // (In the server, the manager reports the new session before it closes the old one.)
    hub.sessionDown(id, fresh);
    assert.deepEqual(closes(b).map((m) => [m.circuit, m.code]), [[circuit, RelayCloseCode.GONE]]);
    assert.equal(closes(c).length, 0);
    hub.data(c, data(kept, 3));
    assert.equal(received(fresh).length, 1);
  });
});
