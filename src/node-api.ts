/**
 * The node's public {@link NodeApi}, over the services the composition root built: what
 * the prompt, the control socket and tests call. Trust decisions (contacts, blocks) are
 * made here from the user's actions and passed to every service that acts on them.
 */
import type {
  DialProgress,
  DialResult,
  HistoryEntry,
  NodeApi,
  NodeEvent,
  NodeId,
  PeerInfo,
  PingOptions,
  PingProgress,
  PingResult,
  RequestSummary,
  SendResult,
  RelayStatus,
  StatusInfo,
  StrangerPolicy,
  TrustChange,
  NetcheckReport,
  DialReason,
} from './api.js';
import type { Dialer, Progress } from './connect/dialer.js';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, HISTORY_MAX_REPLY_BYTES } from './control/limits.js';
import type { EventBus } from './core/events.js';
import { SentinelError, errorMessage, isSentinelError } from './errors.js';
import type { Identity } from './identity/index.js';
import { toHistoryEntry, type Messenger } from './messaging/index.js';
import type { PeerDirectory } from './peers/directory.js';
import * as peerLimits from './peers/limits.js';
import { PingService } from './ping/index.js';
import type { SignalerClient } from './signaler/index.js';
import type { PeerRecord, Store, Trust } from './store/index.js';
import { formatHostPort, parseHostPort, type Clock, type ConnectionManager, type Counters, type Session, type TransportLimits } from './transport/index.js';
import type { AllowList } from './vpn/allow-list.js';
import type { VpnService } from './vpn/service.js';
import type { DnsStatus } from './dns/node-dns.js';

/** How long `send` waits for a connected peer's acknowledgement before answering `pending`. */
export const DELIVERY_WAIT_MS = 3_000;

export interface NodeFacadeDeps {
  identity: Identity;
  dataDir: string;
  name: string | null;
  port(): number;
  /** Listen host and NAT kind for `status` (optional: test facades leave it out). */
  network?: () => NonNullable<StatusInfo['network']>;
  startedAt: number;
  clock: Clock;
  counters: Counters;
  store: Store;
  directory: PeerDirectory;
  manager: ConnectionManager;
  messenger: Messenger;
  dialer: Dialer;
  vpn: VpnService;
  allowList: AllowList;
  events: EventBus<NodeEvent>;
  policy: StrangerPolicy;
  limits: TransportLimits;
  vpnConfig: { tunName: string | null; mtu: number | null };
  signaler(): SignalerClient | undefined;
  /** The signaler a peer's record names (gossip), if any. */
  signalerOf?: (id: NodeId) => { host: string; port: number } | null;
  holePunching: { available: boolean; reason: string | null };
  /** Relaying: `status` shows it; trust changes reach it (a peer relay serves contacts). */
  relay: { status(): RelayStatus; trustChanged(id: NodeId): void };
  /** The DNS responder for `<name>.sentinel` (src/dns/node-dns.ts), for `status`. */
  dns?: () => DnsStatus;
  extraCounters(): Record<string, number>;
  /** Sub-millisecond time for ping RTTs (performance.now); default `clock.now`. */
  hrNow?: () => number;
  /** Netcheck (src/netcheck/service.ts): absent, `netcheck` fails with E_NOT_RUNNING. */
  netcheck?: () => Promise<NetcheckReport>;
  /** Why a dial to `peer` ended relayed (no `err`) or failed; null: nothing to say. */
  explainDial?: (peer: NodeId, err?: unknown) => { reason: DialReason; explanation: string } | null;
}

export class NodeFacade implements NodeApi {
  private readonly pinger: PingService;

  constructor(private readonly d: NodeFacadeDeps) {
    this.pinger = new PingService({
      clock: d.clock,
      ...(d.hrNow ? { hrNow: d.hrNow } : {}),
      counters: d.counters,
      resolve: (target) => this.resolve(target),
      session: (id) => d.manager.session(id),
      dial: (target, onProgress) => this.dial(target, onProgress),
      signalerId: () => d.signaler()?.signalerId ?? null,
    });
  }

  id(): { id: NodeId; vpn: { ipv4: string; ipv6: string } } {
    return { id: this.d.identity.id, vpn: { ...this.d.vpn.addresses } };
  }

  status(): StatusInfo {
    const { d } = this;
    const signaler = d.signaler();
    const counts = d.directory.counts();
    const requests = d.messenger.requests().reduce((n, r) => n + r.count, 0);
    const store = d.store.health();
    return {
      id: d.identity.id,
      name: d.name,
      port: d.port(),
      dataDir: d.dataDir,
      signaler: {
        address: signaler?.address ?? 'none',
        state: signaler?.state ?? 'disabled',
        id: signaler?.signalerId ?? null,
        observed: signaler?.observed ? formatHostPort(signaler.observed.host, signaler.observed.port) : null,
        endpoint: signaler?.endpoint ? formatHostPort(signaler.endpoint.host, signaler.endpoint.port) : null,
        list: signaler?.entries() ?? [],
      },
      holePunching: { ...d.holePunching },
      vpn: d.vpn.status(d.vpnConfig.tunName, d.vpnConfig.mtu),
      ...(d.dns ? { dns: d.dns() } : {}),
      peers: d.manager.sessions().length,
      known: counts.contact + counts.stranger + counts.blocked,
      uptimeMs: d.clock.now() - d.startedAt,
      store: { full: store.full, freeBytes: store.freeBytes, reserveBytes: store.reserveBytes },
      counters: { ...d.counters.toJSON(), ...d.extraCounters(), ...store.counters },
      trust: {
        strangers: d.policy,
        contacts: counts.contact,
        remembered: counts.stranger,
        blocked: counts.blocked,
        sessions: d.manager.slotCounts(),
        held: { ...d.messenger.quota.usage(), requests },
        limits: this.limits(),
      },
      relay: d.relay.status(),
      ...(d.network ? { network: d.network() } : {}),
    };
  }

  private limits(): Record<string, number> {
    const l = this.d.limits;
    const q = this.d.messenger.quota.limits;
    return {
      maxSessions: l.maxSessions,
      maxStrangerSessions: l.maxStrangerSessions,
      maxStrangerSessionsPerIp: l.maxStrangerSessionsPerIp,
      maxPendingHandshakes: l.maxPendingHandshakes,
      maxPendingHandshakesPerIp: l.maxPendingHandshakesPerIp,
      strangerWriteBufferBytes: l.strangerWriteBufferBytes,
      maxRememberedStrangers: peerLimits.MAX_REMEMBERED_STRANGERS,
      strangerTtlMs: peerLimits.STRANGER_TTL_MS,
      heldPerStranger: q.perStranger,
      heldBytesPerStranger: q.bytesPerStranger,
      heldTotal: q.total,
      heldBytesTotal: q.bytesTotal,
      requestTtlMs: q.requestTtlMs,
      strangerDialsInFlight: peerLimits.MAX_STRANGER_DIALS_IN_FLIGHT,
    };
  }

  peers(): PeerInfo[] {
    const byId = new Map<NodeId, PeerInfo>();
    for (const rec of this.d.directory.all()) byId.set(rec.id, this.peerInfo(rec.id, rec));
    for (const s of this.d.manager.sessions()) byId.set(s.peerId, this.peerInfo(s.peerId, this.d.directory.get(s.peerId)));
    return [...byId.values()].sort((a, b) => Number(b.connected) - Number(a.connected) || (b.lastSeen ?? 0) - (a.lastSeen ?? 0));
  }

  /** What the prompt and the peer table show for one peer. */
  peerInfo(id: NodeId, rec: PeerRecord | undefined): PeerInfo {
    const s = this.d.manager.session(id);
    return {
      id,
      alias: rec?.alias ?? null,
      name: s?.peerHello?.name || rec?.name || null,
      address: s?.remoteAddress ?? rec?.addresses[0] ?? null,
      path: s ? pathOf(s) : null,
      relay: s ? relayOf(s) : null,
      method: s?.method ?? null,
      rttMs: s?.rttMs ?? null,
      connected: s !== undefined,
      bytesIn: s?.bytesIn ?? null,
      bytesOut: s?.bytesOut ?? null,
      lastSeen: s ? s.lastHeard : (rec?.lastSeen ?? null),
      vpn: { ...this.d.vpn.addressesOf(id), allowed: this.d.allowList.has(id) },
      learnedFrom: rec?.learnedFrom ?? (s?.method === 'tcp-simultaneous-open' ? 'signaler' : 'manual'),
      trust: this.d.directory.trustOf(id),
      signaler: signalerText(this.d.signalerOf?.(id) ?? null),
    };
  }

  /** A dial the user asked for: the peer becomes a contact. */
  async dial(target: string, onProgress?: (p: DialProgress) => void): Promise<DialResult> {
    const started = this.d.clock.now();
    const progress: Progress = (stage, message) => onProgress?.({ stage, message });
    const hp = parseHostPort(target.trim());
    let r: { session: Session; existing: boolean };
    if (hp) {
      r = await this.dialAddress(hp.host, hp.port, progress);
    } else {
      progress('resolving', `resolving ${target}`);
      const id = this.resolve(target);
      if (this.d.directory.isBlocked(id)) throw new SentinelError('E_BLOCKED', `${id} is blocked; unblock it first`);
      await this.setTrust(id, 'contact');
      try {
        r = await this.d.dialer.dialId(id, progress, true);
      } catch (err) {
        const why = isSentinelError(err, 'E_DIAL_FAILED') ? this.d.explainDial?.(id, err) : null;
        throw why ? new SentinelError('E_DIAL_FAILED', `${errorMessage(err)}. Why: ${why.explanation}`, { cause: err }) : err;
      }
    }
    const s = r.session;
    const why = pathOf(s) === 'relay' ? (this.d.explainDial?.(s.peerId) ?? null) : null;
    progress('connected', s.method === 'relay' ? `connected to ${s.peerId} through ${s.remoteAddress}` : `connected directly to ${s.peerId} at ${s.remoteAddress} by ${s.method}`);
    return { id: s.peerId, address: s.remoteAddress, method: s.method, path: pathOf(s), relay: relayOf(s), ms: this.d.clock.now() - started, existing: r.existing, explanation: why?.explanation ?? null, reason: why?.reason ?? null };
  }

  /**
   * A dial by address; the peer becomes a contact. The durable trust write starts as soon as
   * TLS proved the peer's id, in parallel with the HELLO exchange (not after it); the dial
   * answers once both are done. If the dial fails after that, the peer's trust is put back.
   */
  private async dialAddress(host: string, port: number, progress: Progress): Promise<{ session: Session; existing: boolean }> {
    let trusted: { peer: NodeId; before: Trust; done: Promise<number> } | undefined;
    const onPeer = (peer: NodeId): void => {
      const before = this.d.directory.trustOf(peer);
      const done = this.setTrust(peer, 'contact');
      done.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled
      trusted = { peer, before, done };
    };
    let r: { session: Session; existing: boolean };
    try {
      r = await this.d.dialer.dialAddress(host, port, progress, undefined, onPeer);
    } catch (err) {
      const t = trusted as typeof trusted;
      if (t && t.before !== 'contact' && (await t.done.then(() => true, () => false))) await this.setTrust(t.peer, t.before).catch(() => {});
      throw err;
    }
    await (trusted?.done ?? this.setTrust(r.session.peerId, 'contact'));
    return r;
  }

  /** See {@link NodeApi.netcheck}. */
  netcheck(): Promise<NetcheckReport> {
    if (!this.d.netcheck) return Promise.reject(new SentinelError('E_NOT_RUNNING', 'netcheck is not available in this node'));
    return this.d.netcheck();
  }

  /** Messaging a peer makes it a contact. */
  async send(target: string, text: string): Promise<SendResult> {
    const id = this.resolve(target);
    if (this.d.directory.isBlocked(id)) throw new SentinelError('E_BLOCKED', `${id} is blocked; unblock it first`);
    if (id !== this.d.identity.id) await this.setTrust(id, 'contact');
    return this.d.messenger.send(id, text, DELIVERY_WAIT_MS);
  }

  /** Plain text at the prompt: to every connected contact, never to strangers. */
  async broadcast(text: string): Promise<SendResult[]> {
    const contacts = this.d.manager.sessions().filter((s) => this.d.directory.isContact(s.peerId));
    return Promise.all(contacts.map((s) => this.d.messenger.send(s.peerId, text, DELIVERY_WAIT_MS)));
  }

  history(target: string | undefined, limit?: number, before?: string): HistoryEntry[] {
    const n = Math.min(Math.max(1, Math.floor(limit ?? HISTORY_DEFAULT_LIMIT)), HISTORY_MAX_LIMIT);
    const { store } = this.d;
    const list = target === undefined ? store.allHistory(n, before) : store.history(this.resolve(target), n, before);
    // The newest messages first fill the reply; older ones wait for the next page.
    let bytes = 0;
    let first = list.length;
    while (first > 0) {
      const size = Buffer.byteLength((list[first - 1] as { text: string }).text, 'utf8') + 512;
      if (bytes + size > HISTORY_MAX_REPLY_BYTES && first < list.length) break;
      bytes += size;
      first--;
    }
    return list.slice(first).map(toHistoryEntry);
  }

  async alias(target: string, alias: string): Promise<{ id: NodeId; alias: string }> {
    const id = this.resolve(target);
    const name = alias.trim();
    if (!/^[\w.-]{1,32}$/u.test(name)) throw new SentinelError('E_BAD_REQUEST', 'alias must be 1-32 letters, digits, ".", "_" or "-"');
    if (this.d.directory.isBlocked(id)) throw new SentinelError('E_BLOCKED', `${id} is blocked; unblock it first`);
    await this.d.directory.setAlias(id, name);
    await this.afterTrust(id, 'contact');
    return { id, alias: name };
  }

  /** Allowing VPN traffic makes the peer a contact; denying changes nothing else. */
  async setAllowed(target: string, allowed: boolean): Promise<{ id: NodeId; allowed: boolean }> {
    const id = this.resolve(target);
    if (allowed) {
      if (this.d.directory.isBlocked(id)) throw new SentinelError('E_BLOCKED', `${id} is blocked; unblock it first`);
      await this.setTrust(id, 'contact');
    }
    await this.d.allowList.set(id, allowed);
    this.d.vpn.onAllowChanged(id, allowed, this.d.manager.session(id) !== undefined);
    return { id, allowed };
  }

  requests(): RequestSummary[] {
    return this.d.messenger.requests();
  }

  async accept(target: string): Promise<TrustChange> {
    const id = this.resolve(target);
    if (id === this.d.identity.id) throw new SentinelError('E_BAD_REQUEST', 'this node is not a peer');
    return { id, trust: 'contact', requests: await this.setTrust(id, 'contact', true) };
  }

  async block(target: string): Promise<TrustChange> {
    const id = this.resolve(target);
    if (id === this.d.identity.id) throw new SentinelError('E_BAD_REQUEST', 'cannot block this node');
    await this.setTrust(id, 'blocked');
    if (this.d.allowList.has(id)) {
      await this.d.allowList.set(id, false);
      this.d.vpn.onAllowChanged(id, false, false);
    }
    return { id, trust: 'blocked', requests: await this.d.messenger.dropFrom(id) };
  }

  async unblock(target: string): Promise<TrustChange> {
    const id = this.resolve(target);
    if (this.d.directory.trustOf(id) === 'blocked') await this.setTrust(id, 'stranger');
    return { id, trust: this.d.directory.trustOf(id), requests: 0 };
  }

  /** Pings over the peer's session, dialing it first if needed (src/ping/service.ts). */
  ping(target: string, opts?: PingOptions, onProgress?: (p: DialProgress | PingProgress) => void): Promise<PingResult> {
    return this.pinger.ping(target, opts, onProgress);
  }

  onEvent(listener: (e: NodeEvent) => void): () => void {
    return this.d.events.on(listener);
  }

  /**
   * A full id, an exact alias, or a prefix: contacts first; a prefix that only matches
   * strangers must be long (see identity/resolve.ts).
   */
  resolve(target: string): NodeId {
    return this.d.directory.resolve(target, this.d.manager.sessions().map((s) => s.peerId));
  }

  /**
   * Records a user decision and tells every service that acts on it (also when nothing
   * changed, with `always`: accepting a contact still accepts its requests). Resolves with
   * the requests accepted.
   */
  private async setTrust(id: NodeId, trust: Trust, always = false): Promise<number> {
    if (this.d.directory.trustOf(id) === trust && !always) return 0;
    if (this.d.directory.trustOf(id) !== trust) await this.d.directory.setTrust(id, trust);
    return this.afterTrust(id, trust);
  }

  private async afterTrust(id: NodeId, trust: Trust): Promise<number> {
    this.d.manager.retrust(id);
    this.d.relay.trustChanged(id);
    // A contact's waiting requests become ordinary messages.
    return trust === 'contact' && this.d.messenger.quota.usage(id).count > 0 ? this.d.messenger.acceptFrom(id) : 0;
  }
}

/** `relay` for a session through a relay's circuit, else `direct`. */
function pathOf(s: Session): 'direct' | 'relay' {
  return s.method === 'relay' ? 'relay' : 'direct';
}

/** The relay of a relayed session (its remote address reads `relay <id> at host:port`). */
function relayOf(s: Session): string | null {
  return s.method === 'relay' ? s.remoteAddress.replace(/^relay /, '') : null;
}

function signalerText(e: { host: string; port: number } | null): string | null {
  return e ? formatHostPort(e.host, e.port) : null;
}
