/**
 * An in-memory, scriptable {@link NodeApi} for tests of everything that drives a node
 * (control server, `sentinel`, the interactive shell). Tests set peers, inject events,
 * make methods fail with a chosen code and read back the calls that were made.
 */

import type {
  DialProgress,
  DialResult,
  NetcheckReport,
  HistoryEntry,
  NodeApi,
  NodeEvent,
  NodeId,
  PeerInfo,
  PingOptions,
  PingProgress,
  PingReply,
  PingResult,
  RequestSummary,
  SendResult,
  StatusInfo,
  TrustChange,
} from '../../src/api.js';
import { ERROR_CODES, SentinelError, type ErrorCode } from '../../src/errors.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const NODE_ID_LENGTH = 56;

/** A deterministic, well-formed node id derived from `seed`. */
export function fakeId(seed: string): NodeId {
  let h = 2166136261;
  let out = '';
  for (let i = 0; out.length < NODE_ID_LENGTH; i++) {
    h = Math.imul(h ^ (seed.charCodeAt(i % Math.max(seed.length, 1)) || 0) ^ i, 16777619) >>> 0;
    out += BASE32[h % 32];
  }
  return out;
}

/** A PeerInfo with sensible defaults (connected outbound peer). */
export function fakePeer(over: Partial<PeerInfo> & { id: NodeId }): PeerInfo {
  return {
    alias: null,
    name: null,
    address: '127.0.0.1:7001',
    path: 'direct',
    relay: null,
    method: 'outbound',
    rttMs: 3,
    connected: true,
    lastSeen: 1_700_000_000_000,
    vpn: { ipv4: '100.64.0.2', ipv6: 'fd00::2', allowed: false },
    learnedFrom: 'manual',
    trust: 'contact',
    ...over,
  };
}

/** One recorded api call. */
export interface FakeCall {
  method: keyof NodeApi;
  args: unknown[];
}

type Failable = 'id' | 'status' | 'peers' | 'dial' | 'send' | 'broadcast' | 'history' | 'alias' | 'setAllowed' | 'requests' | 'accept' | 'block' | 'unblock' | 'ping' | 'netcheck';

/** The scriptable fake node. Public fields are meant to be read and set by tests. */
export class FakeNode implements NodeApi {
  selfId: NodeId;
  name: string | null = 'fake';
  peerList: PeerInfo[] = [];
  messages: HistoryEntry[] = [];
  readonly calls: FakeCall[] = [];
  /** Progress events `dial` reports before it resolves. */
  dialProgress: DialProgress[] = [
    { stage: 'resolving', message: 'resolving target' },
    { stage: 'connecting', message: 'connecting to 127.0.0.1:7001' },
    { stage: 'tls', message: 'TLS handshake' },
  ];
  /**
   * What `ping` replies, seq by seq (beyond the list: lost, timeout). Default: every ping
   * answered in 1.5 ms on the peer's direct path.
   */
  pingReplies: PingReply[] | undefined;
  /** Optional gate `dial` awaits (after its progress events) before it resolves. */
  dialGate: Promise<void> | undefined;
  private readonly failures = new Map<Failable, unknown>();
  private readonly listeners = new Set<(e: NodeEvent) => void>();
  private nextMessage = 1;
  private now = 1_700_000_000_000;

  constructor(seed = 'self') {
    this.selfId = fakeId(seed);
  }

  /**
   * Makes `method` throw until cleared with `fail(method, null)`. A known code becomes a
   * SentinelError; any other string an Error with that `code`; an Error is thrown as is.
   */
  fail(method: Failable, what: string | Error | null): void {
    if (what === null) this.failures.delete(method);
    else this.failures.set(method, typeof what === 'string' ? makeError(what) : what);
  }

  /** Delivers an event to every subscriber. */
  emit(event: NodeEvent): void {
    for (const l of [...this.listeners]) l(event);
  }

  /** Number of current `onEvent` subscribers. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Calls recorded for one method. */
  callsOf(method: keyof NodeApi): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  id(): { id: NodeId } {
    this.enter('id', []);
    return { id: this.selfId };
  }

  status(): StatusInfo {
    this.enter('status', []);
    return {
      id: this.selfId,
      name: this.name,
      port: 7000,
      dataDir: '/tmp/fake',
      signaler: { address: '', state: 'disabled', id: null, observed: null },
      holePunching: { available: false, reason: 'fake' },
      vpn: { state: 'off', reason: null, ipv4: '100.64.0.1', ipv6: 'fd00::1', tun: null, mtu: null, drops: {}, collisions: [], peers: {} },
      peers: this.peerList.filter((p) => p.connected).length,
      known: this.peerList.length,
      uptimeMs: 1234,
      counters: { droppedFrames: 0 },
      trust: {
        strangers: 'requests',
        contacts: this.peerList.filter((p) => p.trust === 'contact').length,
        remembered: this.peerList.filter((p) => p.trust === 'stranger').length,
        blocked: this.peerList.filter((p) => p.trust === 'blocked').length,
        sessions: { contacts: 0, strangers: 0, pendingHandshakes: 0 },
        held: { count: 0, bytes: 0, requests: this.requestList().reduce((n, r) => n + r.count, 0) },
        limits: { maxSessions: 1024 },
      },
    };
  }

  peers(): PeerInfo[] {
    this.enter('peers', []);
    return this.peerList.map((p) => ({ ...p }));
  }

  async dial(target: string, onProgress?: (p: DialProgress) => void): Promise<DialResult> {
    this.enter('dial', [target]);
    for (const p of this.dialProgress) {
      await Promise.resolve();
      onProgress?.(p);
    }
    if (this.dialGate) await this.dialGate;
    const known = this.lookup(target, false);
    const peer = known ?? fakePeer({ id: fakeId(target), address: target, connected: false });
    const existing = peer.connected;
    Object.assign(peer, { connected: true, method: peer.method ?? 'outbound', path: 'direct' });
    if (!known) this.peerList.push(peer);
    if (!existing) this.emit({ type: 'peer-connected', peer: { ...peer } });
    return { id: peer.id, address: peer.address ?? target, method: peer.method ?? 'outbound', path: 'direct', relay: null, ms: 12, existing };
  }

  async send(target: string, text: string): Promise<SendResult> {
    this.enter('send', [target, text]);
    const peer = this.lookup(target, true) as PeerInfo;
    return this.store(peer, text);
  }

  async broadcast(text: string): Promise<SendResult[]> {
    this.enter('broadcast', [text]);
    return this.peerList.filter((p) => p.connected).map((p) => this.store(p, text));
  }

  history(target: string | undefined, limit?: number, before?: string): HistoryEntry[] {
    this.enter('history', before === undefined ? [target, limit] : [target, limit, before]);
    const peerId = target === undefined ? undefined : (this.lookup(target, true) as PeerInfo).id;
    let mine = this.messages.filter((m) => peerId === undefined || m.from === peerId || m.to === peerId);
    if (before !== undefined) {
      const at = mine.findIndex((m) => m.id === before);
      mine = at < 0 ? [] : mine.slice(0, at);
    }
    return limit === undefined ? mine : mine.slice(-limit);
  }

  requests(): RequestSummary[] {
    this.enter('requests', []);
    return this.requestList();
  }

  async accept(target: string): Promise<TrustChange> {
    this.enter('accept', [target]);
    const peer = this.lookup(target, true) as PeerInfo;
    peer.trust = 'contact';
    let n = 0;
    for (const m of this.messages) if (m.from === peer.id && m.request) (m.request = false), (m.status = 'received'), n++;
    return { id: peer.id, trust: 'contact', requests: n };
  }

  async block(target: string): Promise<TrustChange> {
    this.enter('block', [target]);
    const peer = this.lookup(target, true) as PeerInfo;
    peer.trust = 'blocked';
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => !(m.from === peer.id && m.request));
    return { id: peer.id, trust: 'blocked', requests: before - this.messages.length };
  }

  async unblock(target: string): Promise<TrustChange> {
    this.enter('unblock', [target]);
    const peer = this.lookup(target, true) as PeerInfo;
    if (peer.trust === 'blocked') peer.trust = 'stranger';
    return { id: peer.id, trust: peer.trust, requests: 0 };
  }

  /** What `netcheck` answers (a node behind an easy NAT by default). */
  netcheckReport: NetcheckReport = {
    signaler: { address: '203.0.113.10:8888', state: 'connected', reachable: true, rttMs: 12, error: null },
    publicAddress: '203.0.113.11:7001',
    probeAddress: '203.0.113.11:7001',
    behindNat: true,
    mapping: 'endpoint-independent',
    portPreserving: true,
    filtering: 'drop',
    filteringDetail: 'no answer within 2000 ms',
    natKind: 'easy',
    ipv6: { addresses: [], signaler: 'unknown', observed: null, detail: 'no global IPv6 address' },
    notes: [],
  };

  async netcheck(): Promise<NetcheckReport> {
    this.enter('netcheck', []);
    return structuredClone(this.netcheckReport);
  }

  private requestList(): RequestSummary[] {
    const by = new Map<NodeId, RequestSummary>();
    for (const m of this.messages) {
      if (!m.request) continue;
      const r = by.get(m.from) ?? { peer: m.from, count: 0, bytes: 0, first: m.timestamp, last: m.timestamp, preview: m.text.slice(0, 80) };
      r.count++;
      r.bytes += Buffer.byteLength(m.text);
      r.last = m.timestamp;
      by.set(m.from, r);
    }
    return [...by.values()];
  }

  async alias(target: string, alias: string): Promise<{ id: NodeId; alias: string }> {
    this.enter('alias', [target, alias]);
    const peer = this.lookup(target, true) as PeerInfo;
    peer.alias = alias;
    return { id: peer.id, alias };
  }

  async setAllowed(target: string, allowed: boolean): Promise<{ id: NodeId; allowed: boolean }> {
    this.enter('setAllowed', [target, allowed]);
    const peer = this.lookup(target, true) as PeerInfo;
    peer.vpn = { ...peer.vpn, allowed };
    return { id: peer.id, allowed };
  }

  async ping(target: string, opts: PingOptions = {}, onProgress?: (p: DialProgress | PingProgress) => void): Promise<PingResult> {
    const { count, intervalMs, timeoutMs } = opts;
    this.enter('ping', [target, { count, intervalMs, timeoutMs }]);
    const peer = this.lookup(target, true) as PeerInfo;
    const path = { kind: 'direct', address: peer.address ?? '127.0.0.1:7001', method: 'outbound', via: 'dialed', lan: true, relay: null, relayKind: null } as const;
    const pings: PingReply[] = [];
    for (let seq = 1; seq <= (count ?? 4); seq++) {
      await Promise.resolve();
      const reply: PingReply = this.pingReplies ? (this.pingReplies[seq - 1] ?? { seq, lost: true, reason: 'timeout' }) : { seq, rttMs: 1.5, path };
      pings.push(reply);
      onProgress?.({ stage: 'ping', message: `seq=${seq}`, reply });
    }
    const rtts = pings.flatMap((p) => ('rttMs' in p ? [p.rttMs] : []));
    const summary = {
      sent: pings.length,
      received: rtts.length,
      lossPercent: Math.round(((pings.length - rtts.length) / pings.length) * 1000) / 10,
      minMs: rtts.length ? Math.min(...rtts) : null,
      avgMs: rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : null,
      maxMs: rtts.length ? Math.max(...rtts) : null,
    };
    return { id: peer.id, path, dial: null, pings, summary };
  }

  onEvent(listener: (e: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a message as if `from` had sent it to us (a message request with `request`), and emits the event. */
  receive(from: NodeId, text: string, request = false): HistoryEntry {
    const message: HistoryEntry = {
      id: this.messageId(),
      from,
      to: this.selfId,
      text,
      timestamp: this.tick(),
      status: request ? 'request' : 'received',
      request,
    };
    this.messages.push(message);
    this.emit({ type: 'message', message });
    return message;
  }

  private enter(method: Failable, args: unknown[]): void {
    this.calls.push({ method, args });
    const failure = this.failures.get(method);
    if (failure !== undefined) throw failure;
  }

  private store(peer: PeerInfo, text: string): SendResult {
    const status = peer.connected ? 'delivered' : 'pending';
    const entry: HistoryEntry = { id: this.messageId(), from: this.selfId, to: peer.id, text, timestamp: this.tick(), status, request: false };
    this.messages.push(entry);
    return { id: entry.id, to: peer.id, status };
  }

  /** Finds a peer by alias, full id or unique prefix; throws like a node would. */
  private lookup(target: string, required: boolean): PeerInfo | undefined {
    const byAlias = this.peerList.find((p) => p.alias === target);
    if (byAlias) return byAlias;
    const matches = this.peerList.filter((p) => p.id.startsWith(target));
    if (matches.length > 1) throw new SentinelError('E_AMBIGUOUS_ID', target);
    if (matches.length === 0 && required) throw new SentinelError('E_UNKNOWN_ID', target);
    return matches[0];
  }

  private messageId(): string {
    return (this.nextMessage++).toString(16).padStart(32, '0');
  }

  private tick(): number {
    this.now += 1000;
    return this.now;
  }
}

function makeError(code: string): Error {
  if (Object.hasOwn(ERROR_CODES, code)) return new SentinelError(code as ErrorCode, 'injected');
  return Object.assign(new Error(`injected ${code}`), { code });
}
