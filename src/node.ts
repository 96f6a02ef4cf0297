/**
 * Composition root: the only place that builds real I/O (data dir, key file, LMDB,
 * TCP listener, control socket) and wires the modules together. `SentinelNode`
 * implements the public {@link NodeApi}.
 */
import { promises as fs } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import type { DialProgress, DialResult, HistoryEntry, NodeApi, NodeEvent, NodeId, PeerInfo, SendResult, StatusInfo } from './api.js';
import { startControlServer, controlSocketPath, type ControlServer } from './control/index.js';
import { SentinelError, errorCode, errorMessage } from './errors.js';
import { isNodeId, loadOrCreateIdentity, resolveNodeId, type Identity } from './identity/index.js';
import type { Logger } from './log.js';
import { Messenger, toHistoryEntry } from './messaging/index.js';
import { fighterConnect, fighterListen, loadNative } from './native/index.js';
import { PunchCoordinator, localEndpoints } from './punch/index.js';
import { AllowList } from './vpn/allow-list.js';
import { GossipService } from './gossip/index.js';
import { MdnsDiscovery, createMulticastTransport, lanAddresses } from './discovery/index.js';
import { DEFAULT_MIN_PEERS, MAINTAIN_INTERVAL_MS, ReconnectPlanner } from './membership/reconnect.js';
import { VpnService } from './vpn/service.js';
import { VPN_IPV4_PREFIX_LENGTH, VPN_IPV6_PREFIX_LENGTH, openNativeTun, vpnAddressesOf, type NativeTunOptions, type TunDevice } from './vpn/index.js';
import { SignalerClient, parseSignalerAddress } from './signaler/index.js';
import { openLmdbStore, type PeerRecord, type PeerSource, type Store } from './store/index.js';
import {
  ConnectionManager,
  Counters,
  plainListen,
  tcpConnector as tcpConnect,
  CONNECT_TIMEOUT_MS,
  DEAD_AFTER_MS,
  HANDSHAKE_TIMEOUT_MS,
  MAX_PENDING_HANDSHAKES_PER_IP,
  MAX_SESSIONS,
  MAX_SESSIONS_PER_IP,
  MAX_WRITE_BUFFER_BYTES,
  PING_INTERVAL_MS,
  formatHostPort,
  normalizeHost,
  parseHostPort,
  systemClock,
  type Clock,
  type Session,
  type TransportLimits,
} from './transport/index.js';
import { FrameType, GoawayCode, MAX_PAYLOAD_SIZE, type Hello } from './wire/index.js';

export const DEFAULT_PORT = 8443;
export const DEFAULT_SIGNALER = '127.0.0.1:8888';
/** How many peers the store remembers; new ones beyond it are not saved (counted). */
export const MAX_KNOWN_PEERS = 10_000;
/** How many addresses we remember per peer. */
export const MAX_ADDRESSES_PER_PEER = 8;
export { DEFAULT_TUN_NAME, DEFAULT_TUN_MTU as DEFAULT_MTU, MIN_TUN_MTU as MIN_MTU, MAX_TUN_MTU as MAX_MTU } from './vpn/index.js';

/** VPN settings from the command line. `off`: no TUN, but `allow` is still applied. */
export interface VpnOptions {
  mode: 'off' | 'required' | 'optional';
  tunName: string;
  mtu: number;
  /** IPv4 override inside 100.64.0.0/10, or null for the derived address. */
  ipv4: string | null;
  /** Peers to add to the allow-list at start (ids or unique prefixes of known ids). */
  allow: string[];
}

/** TCP connect timeout for a peer's known direct address when the signaler can help next. */
export const DIRECT_TRY_TIMEOUT_MS = 1_500;
/** TCP connect timeout per known address when no signaler can help (several may be stale). */
export const KNOWN_ADDRESS_TIMEOUT_MS = 3_000;
/** How long `send` waits for a connected peer's acknowledgement before answering `pending`. */
export const DELIVERY_WAIT_MS = 3_000;

export interface NodeOptions {
  dataDir: string;
  port: number;
  /** Listen host; default all interfaces (dual-stack). */
  host?: string;
  name?: string | null;
  /** `host:port` or `host:port#<id>` of the signaler, or null for none. */
  signaler?: string | null;
  /** Use fighter sockets (native addon) when it loads: 'auto' (default) or 'off'. */
  native?: 'auto' | 'off';
  vpn?: VpnOptions | null;
  /** Keep at least this many sessions by dialing known peers (default DEFAULT_MIN_PEERS). */
  minPeers?: number;
  /** Redial lost peers with backoff (default true). */
  reconnect?: boolean;
  /** Advertise and browse `_sentinel._tcp.local` on the LAN (default true). */
  mdns?: boolean;
  /** Cap on remembered peers (default MAX_KNOWN_PEERS). */
  maxKnownPeers?: number;
  /** Gossip round interval (default GOSSIP_INTERVAL_MS). */
  gossipIntervalMs?: number;
  /** Opens the TUN device (injected by tests; default: the native one). */
  openTun?: (o: NativeTunOptions) => Promise<TunDevice>;
  log: Logger;
  limits?: Partial<TransportLimits>;
  clock?: Clock;
}

export const DEFAULT_LIMITS: TransportLimits = {
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  connectTimeoutMs: CONNECT_TIMEOUT_MS,
  maxPendingHandshakesPerIp: MAX_PENDING_HANDSHAKES_PER_IP,
  maxSessionsPerIp: MAX_SESSIONS_PER_IP,
  maxSessions: MAX_SESSIONS,
  pingIntervalMs: PING_INTERVAL_MS,
  deadAfterMs: DEAD_AFTER_MS,
  maxWriteBufferBytes: MAX_WRITE_BUFFER_BYTES,
  maxPayload: MAX_PAYLOAD_SIZE,
};

/** Create the data dir (0700) and prove it is writable; one-line E_DATA_DIR otherwise. */
async function prepareDataDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.write-test-${process.pid}`);
    await fs.writeFile(probe, '');
    await fs.rm(probe);
  } catch (err) {
    throw new SentinelError('E_DATA_DIR', `${dir} is not a writable directory (${errorCode(err) ?? errorMessage(err)})`);
  }
}

/** Start a node: everything is listening when this resolves. */
export async function startNode(opts: NodeOptions): Promise<SentinelNode> {
  const dataDir = resolve(opts.dataDir);
  await prepareDataDir(dataDir);
  const { identity, created } = await loadOrCreateIdentity(dataDir);
  const store = await openLmdbStore(join(dataDir, 'store'), { log: opts.log });
  const node = new SentinelNode(opts, dataDir, identity, store);
  try {
    await node.start(created);
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}

export class SentinelNode implements NodeApi {
  readonly identity: Identity;
  readonly counters = new Counters();
  port = 0;
  private readonly clock: Clock;
  private readonly manager: ConnectionManager;
  private readonly messenger: Messenger;
  private readonly listeners = new Set<(e: NodeEvent) => void>();
  private control: ControlServer | undefined;
  private readonly startedAt: number;
  private closing: Promise<void> | undefined;
  private readonly log: Logger;
  private peerWrites: Promise<void> = Promise.resolve();
  private readonly native: ReturnType<typeof loadNative>;
  private signaler: SignalerClient | undefined;
  private puncher: PunchCoordinator | undefined;
  private readonly allowList: AllowList;
  private readonly planner = new ReconnectPlanner();
  private maintainTimer: unknown;
  private mdns: MdnsDiscovery | undefined;
  private readonly gossip: GossipService;
  /** How a peer we are dialing on our own was learned (recorded once its session is up). */
  private readonly hintSource = new Map<NodeId, PeerSource>();
  private readonly vpn: VpnService;

  constructor(
    private readonly opts: NodeOptions,
    readonly dataDir: string,
    identity: Identity,
    private readonly store: Store,
  ) {
    this.identity = identity;
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.native = opts.native === 'off' ? { ok: false, reason: 'disabled by configuration' } : loadNative();
    if (!this.native.ok) this.log.warn(`hole punching unavailable: ${this.native.reason}`);
    this.manager = new ConnectionManager({
      ...(this.native.ok ? { listener: exclusiveFighterListen } : {}),
      identity,
      clock: this.clock,
      counters: this.counters,
      limits: { ...DEFAULT_LIMITS, ...opts.limits },
      localHello: (): Hello => ({ listenPort: this.port, name: opts.name ?? '' }),
      events: {
        onSessionUp: (s, replaced) => this.onSessionUp(s, replaced),
        onSessionDown: (id, reason) => this.onSessionDown(id, reason),
        onFrame: (s, type, payload) => this.onFrame(s, type, payload),
        onHello: (s, hello) => this.onHello(s, hello),
        log: (level, msg) => this.log[level](msg),
      },
    });
    this.allowList = new AllowList(store);
    const derived = vpnAddressesOf(identity.id);
    this.vpn = new VpnService({
      self: { ipv4: opts.vpn?.ipv4 ?? derived.ipv4, ipv6: derived.ipv6 },
      allow: this.allowList,
      log: this.log,
      channelFor: (peer) => this.manager.session(peer),
    });
    this.gossip = new GossipService({
      identity,
      store,
      clock: this.clock,
      log: this.log,
      addresses: () => ({
        public: this.signaler?.observed ? [this.signaler.observed] : [],
        local: localEndpoints(this.port, this.opts.host),
      }),
      connected: () => this.manager.sessions(),
      onLearned: (id, endpoints) => this.learnAddresses(id, endpoints, 'gossip'),
      ...(opts.gossipIntervalMs !== undefined ? { intervalMs: opts.gossipIntervalMs } : {}),
    });
    this.messenger = new Messenger({
      identity,
      store,
      clock: this.clock,
      counters: this.counters,
      channelFor: (peer) => this.manager.session(peer),
      emit: (e) => this.emit(e),
    });
  }

  /** Bind the control socket and the identity port. */
  async start(created: boolean): Promise<void> {
    await this.store.putMeta('identity', { id: this.identity.id, createdAt: this.getCreatedAt(created) });
    await this.startVpn();
    // Listen first: once the control socket answers, the node can be dialed.
    this.port = await this.manager.listen(this.opts.port, this.opts.host);
    this.control = await startControlServer({
      path: controlSocketPath(this.dataDir),
      api: this,
      log: (level, msg) => this.log[level === 'info' ? 'debug' : level](`control: ${msg}`),
    });
    this.log.info(`node ${this.identity.id} listening on port ${this.port}${created ? ' (new identity)' : ''}`);
    if (this.opts.signaler) this.startSignaler(this.opts.signaler);
    this.maintainTimer = this.clock.setInterval(() => this.maintain(), MAINTAIN_INTERVAL_MS);
    this.gossip.start();
    if (this.opts.mdns !== false) this.startMdns();
  }

  private startMdns(): void {
    this.mdns = new MdnsDiscovery({
      selfId: this.identity.id,
      port: () => this.port,
      addresses: () => lanAddresses(),
      onPeer: (id, endpoints) => this.onMdnsPeer(id, endpoints),
      transport: createMulticastTransport(),
      clock: this.clock,
      log: this.log,
      counters: this.counters,
    });
    this.mdns.start();
  }

  /**
   * An mDNS announcement is only a hint: dial it expecting that id, so TLS proves who
   * answers. A spoofed hint fails the handshake and changes nothing we know.
   */
  private onMdnsPeer(id: NodeId, endpoints: ReadonlyArray<{ host: string; port: number }>): void {
    if (this.manager.session(id) || this.closing) return;
    if (!this.store.getPeer(id)) this.hintSource.set(id, 'mdns');
    void (async () => {
      for (const e of endpoints) {
        try {
          await this.manager.dial(e.host, e.port, id, undefined, DIRECT_TRY_TIMEOUT_MS);
          return;
        } catch (err) {
          this.log.debug(`mDNS hint ${id} at ${formatHostPort(e.host, e.port)}: ${errorMessage(err)}`);
        }
      }
      this.hintSource.delete(id);
    })();
  }

  /** Redial lost peers whose backoff expired, and top up to the minimum peer count. */
  private maintain(): void {
    if (this.closing) return;
    const now = this.clock.now();
    const targets = this.opts.reconnect === false ? [] : this.planner.due(now);
    const connected = new Set(this.manager.sessions().map((s) => s.peerId));
    const canPunch = this.signaler !== undefined && this.native.ok;
    const known = this.store.listPeers().map((p) => ({ id: p.id, lastSeen: p.lastSeen, dialable: p.addresses.length > 0 || canPunch }));
    for (const id of this.planner.toFill(known, connected, this.opts.minPeers ?? DEFAULT_MIN_PEERS, now)) {
      this.planner.failed(id, now); // counts as in flight until the outcome below
      targets.push(id);
    }
    for (const id of targets) {
      if (connected.has(id)) {
        this.planner.forget(id);
        continue;
      }
      this.log.debug(`redialing ${id}`);
      this.dial(id).then(
        () => this.planner.forget(id),
        (err) => {
          this.planner.failed(id, this.clock.now());
          this.log.debug(`redial of ${id} failed: ${errorMessage(err)}`);
        },
      );
    }
  }

  /** Apply --allow, then open the TUN if asked (required: failure stops the start). */
  private async startVpn(): Promise<void> {
    const v = this.opts.vpn;
    if (!v) return;
    for (const target of v.allow) await this.allowList.set(this.resolve(target), true);
    if (v.mode === 'off') return;
    const open = this.opts.openTun ?? openNativeTun;
    const self = this.vpn.addresses;
    try {
      const tun = await open({ name: v.tunName, mtu: v.mtu, ipv4: self.ipv4, ipv4Prefix: VPN_IPV4_PREFIX_LENGTH, ipv6: self.ipv6, ipv6Prefix: VPN_IPV6_PREFIX_LENGTH });
      this.vpn.attach(tun, v.mtu);
      this.log.info(`VPN up on ${tun.name}: ${self.ipv4}, ${self.ipv6}`);
    } catch (err) {
      if (v.mode === 'required') throw err;
      this.vpn.unavailable(errorMessage(err));
      this.log.warn(`VPN unavailable, running without it: ${errorMessage(err)}`);
    }
  }

  private startSignaler(text: string): void {
    const addr = parseSignalerAddress(text);
    if (!addr) throw new SentinelError('E_USAGE', `bad signaler address "${text}"`);
    const pinKey = `signaler-pin:${formatHostPort(addr.host, addr.port)}`;
    const native = this.native;
    this.signaler = new SignalerClient({
      identity: this.identity,
      address: addr,
      pinned: addr.pinned,
      trusted: () => this.store.getMeta<string>(pinKey),
      trust: (id) => this.store.putMeta(pinKey, id),
      connect: async (host, port, timeoutMs) => {
        const ip = isIP(host) ? host : (await lookup(host, { family: 4 })).address;
        // From the identity port, so the signaler observes the mapping peers will hit.
        return native.ok ? fighterConnect({ localPort: this.port, host: ip, port, timeoutMs }) : tcpConnect(ip, port, timeoutMs);
      },
      listenPort: () => this.port,
      localEndpoints: () => localEndpoints(this.port, this.opts.host),
      onPunchStart: (ps) => this.puncher?.onPunchStart(ps),
      clock: this.clock,
      counters: this.counters,
      limits: { ...DEFAULT_LIMITS, ...this.opts.limits },
      log: this.log,
    });
    this.puncher = new PunchCoordinator({
      manager: this.manager,
      signaler: this.signaler,
      clock: this.clock,
      log: this.log,
      port: () => this.port,
      localHosts: () => localEndpoints(this.port, this.opts.host).map((e) => e.host),
      onEvent: (l) => this.onEvent(l),
    });
    this.signaler.start();
  }

  private getCreatedAt(created: boolean): number {
    const meta = this.store.getMeta<{ id: string; createdAt: number }>('identity');
    return !created && meta && meta.id === this.identity.id ? meta.createdAt : this.clock.now();
  }

  /** Graceful stop: GOAWAY to every peer, close sockets and the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.clock.clearInterval(this.maintainTimer);
      this.mdns?.stop();
      await this.control?.close();
      this.signaler?.close();
      await this.manager.close();
      await this.gossip.close();
      await this.vpn.close();
      await this.peerWrites;
      await this.store.close();
    })();
    return this.closing;
  }

  // ---- NodeApi -------------------------------------------------------------

  id(): { id: NodeId; vpn: { ipv4: string; ipv6: string } } {
    return { id: this.identity.id, vpn: { ...this.vpn.addresses } };
  }

  status(): StatusInfo {
    const control = this.control?.counters;
    const store = this.store.health();
    return {
      id: this.identity.id,
      name: this.opts.name ?? null,
      port: this.port,
      dataDir: this.dataDir,
      signaler: {
        address: this.signaler?.address ?? 'none',
        state: this.signaler?.state ?? 'disabled',
        id: this.signaler?.signalerId ?? null,
        observed: this.signaler?.observed ? formatHostPort(this.signaler.observed.host, this.signaler.observed.port) : null,
      },
      holePunching: { available: this.native.ok, reason: this.native.ok ? null : this.native.reason },
      vpn: this.vpn.status(this.opts.vpn?.tunName ?? null, this.opts.vpn?.mtu ?? null),
      peers: this.manager.sessions().length,
      known: this.store.listPeers().length,
      uptimeMs: this.clock.now() - this.startedAt,
      store: { full: store.full, freeBytes: store.freeBytes, reserveBytes: store.reserveBytes },
      counters: { ...this.counters.toJSON(), ...this.gossip.counters(), ...store.counters, ...(control ? { 'control.bad_requests': control.badRequests } : {}) },
    };
  }

  peers(): PeerInfo[] {
    const byId = new Map<NodeId, PeerInfo>();
    for (const rec of this.store.listPeers()) byId.set(rec.id, this.peerInfo(rec.id, rec));
    for (const s of this.manager.sessions()) byId.set(s.peerId, this.peerInfo(s.peerId, this.store.getPeer(s.peerId)));
    return [...byId.values()].sort((a, b) => Number(b.connected) - Number(a.connected) || (b.lastSeen ?? 0) - (a.lastSeen ?? 0));
  }

  private peerInfo(id: NodeId, rec: PeerRecord | undefined): PeerInfo {
    const s = this.manager.session(id);
    return {
      id,
      alias: rec?.alias ?? null,
      name: s?.peerHello?.name || rec?.name || null,
      address: s?.remoteAddress ?? rec?.addresses[0] ?? null,
      path: s ? 'direct' : null,
      method: s?.method ?? null,
      rttMs: s?.rttMs ?? null,
      connected: s !== undefined,
      lastSeen: s ? s.lastHeard : (rec?.lastSeen ?? null),
      vpn: { ...this.vpn.addressesOf(id), allowed: this.allowList.has(id) },
      learnedFrom: rec?.learnedFrom ?? (s?.method === 'tcp-simultaneous-open' ? 'signaler' : 'manual'),
    };
  }

  async dial(target: string, onProgress?: (p: DialProgress) => void): Promise<DialResult> {
    const started = this.clock.now();
    const progress = (stage: DialProgress['stage'], message: string): void => onProgress?.({ stage, message });
    const hp = parseHostPort(target.trim());
    if (hp) {
      progress('connecting', `connecting to ${formatHostPort(hp.host, hp.port)}`);
      const { session, existing } = await this.manager.dial(hp.host, hp.port, undefined, () => progress('tls', 'TCP connected, TLS handshake'));
      return this.dialResult(session, existing, started, progress);
    }
    progress('resolving', `resolving ${target}`);
    const id = this.resolve(target);
    const current = this.manager.session(id);
    if (current) return this.dialResult(current, true, started, progress);
    const addresses = this.store.getPeer(id)?.addresses ?? [];
    const canPunch = this.signaler !== undefined && this.native.ok;
    const failures: string[] = [];
    for (const addr of addresses) {
      const a = parseHostPort(addr);
      if (!a) continue;
      progress('connecting', `connecting to ${addr}`);
      try {
        const { session, existing } = await this.manager.dial(a.host, a.port, id, () => progress('tls', `TCP connected to ${addr}, TLS handshake`), canPunch ? DIRECT_TRY_TIMEOUT_MS : KNOWN_ADDRESS_TIMEOUT_MS);
        return this.dialResult(session, existing, started, progress);
      } catch (err) {
        if (errorCode(err) === 'E_SELF_DIAL') throw err;
        failures.push(`${addr}: ${errorMessage(err)}`);
      }
    }
    if (!this.signaler) {
      if (addresses.length === 0) throw new SentinelError('E_NO_ADDRESS', `${id}: no signaler configured; dial it once by host:port`);
      throw new SentinelError('E_DIAL_FAILED', `${id}: ${failures.join('; ')}`);
    }
    if (!this.native.ok) throw new SentinelError('E_DIAL_FAILED', `${id}: ${[...failures, `hole punching unavailable (${this.native.reason})`].join('; ')}`);
    const session = await (this.puncher as PunchCoordinator).punchTo(id, (m) => progress(m.stage, m.message));
    return this.dialResult(session, false, started, progress);
  }

  private dialResult(s: Session, existing: boolean, started: number, progress: (stage: DialProgress['stage'], m: string) => void): DialResult {
    const ms = this.clock.now() - started;
    progress('connected', `connected to ${s.peerId} at ${s.remoteAddress}`);
    return { id: s.peerId, address: s.remoteAddress, method: s.method, ms, existing };
  }

  async send(target: string, text: string): Promise<SendResult> {
    return this.messenger.send(this.resolve(target), text, DELIVERY_WAIT_MS);
  }

  async broadcast(text: string): Promise<SendResult[]> {
    return Promise.all(this.manager.sessions().map((s) => this.messenger.send(s.peerId, text, DELIVERY_WAIT_MS)));
  }

  history(target: string | undefined, limit?: number): HistoryEntry[] {
    const list = target === undefined ? this.store.allHistory(limit) : this.store.history(this.resolve(target), limit);
    return list.map(toHistoryEntry);
  }

  async alias(target: string, alias: string): Promise<{ id: NodeId; alias: string }> {
    const id = this.resolve(target);
    const name = alias.trim();
    if (!/^[\w.-]{1,32}$/u.test(name)) throw new SentinelError('E_BAD_REQUEST', 'alias must be 1-32 letters, digits, ".", "_" or "-"');
    const taken = this.store.listPeers().find((p) => p.alias === name && p.id !== id);
    if (taken) throw new SentinelError('E_BAD_REQUEST', `alias "${name}" is already used by ${taken.id}`);
    await this.updatePeer(id, (rec) => ({ ...rec, alias: name }));
    return { id, alias: name };
  }

  async setAllowed(target: string, allowed: boolean): Promise<{ id: NodeId; allowed: boolean }> {
    const id = this.resolve(target);
    await this.allowList.set(id, allowed);
    return { id, allowed };
  }

  onEvent(listener: (e: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- internals ---------------------------------------------------------

  /** id, unique prefix of a known id, or exact alias. */
  private resolve(target: string): NodeId {
    if (isNodeId(target)) return target;
    const peers = this.store.listPeers();
    const byAlias = peers.find((p) => p.alias !== null && p.alias === target.trim());
    if (byAlias) return byAlias.id;
    return resolveNodeId(target, [...peers.map((p) => p.id), ...this.manager.sessions().map((s) => s.peerId)]);
  }

  private emit(e: NodeEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.warn(`event listener failed: ${errorMessage(err)}`);
      }
    }
  }

  /**
   * Read-modify-write of a peer record. Updates are chained so each one reads the
   * previous one's committed result (concurrent HELLO / session-up writes never lose data).
   */
  private updatePeer(id: NodeId, change: (rec: PeerRecord) => PeerRecord): Promise<void> {
    const next = this.peerWrites.then(() => {
      const existing = this.store.getPeer(id);
      // Anyone can make a new key and connect: the number of peers we remember is capped.
      if (!existing && this.store.listPeers().length >= (this.opts.maxKnownPeers ?? MAX_KNOWN_PEERS)) {
        this.counters.inc('peers_not_saved.store_full');
        return;
      }
      return this.store.putPeer(change(existing ?? { id, alias: null, name: null, addresses: [], lastSeen: null }));
    });
    this.peerWrites = next.catch(() => {});
    return next;
  }

  private onSessionUp(s: Session, replaced: boolean): void {
    this.vpn.onSessionUp(s);
    const sent = this.messenger.flushOutbox(s);
    if (sent > 0) this.log.debug(`sent ${sent} queued message(s) to ${s.peerId}`);
    if (replaced) return;
    this.planner.forget(s.peerId);
    this.log.info(`session up with ${s.peerId} (${s.method}, ${s.remoteAddress})`);
    // A dial that worked is remembered at once (the peer may vanish before its HELLO).
    if (s.method === 'outbound') this.savePeer(s.peerId, { address: s.remoteAddress, source: this.hintSource.get(s.peerId) ?? 'manual' });
    this.hintSource.delete(s.peerId);
    this.emit({ type: 'peer-connected', peer: this.peerInfo(s.peerId, this.store.getPeer(s.peerId)) });
  }

  private onSessionDown(id: NodeId, reason: SentinelError | undefined): void {
    const why = reason ? reason.message : 'closed';
    this.log.info(`session with ${id} down: ${why}`);
    if (this.opts.reconnect !== false && !this.closing) this.planner.lost(id, this.clock.now());
    this.gossip.onSessionDown(id);
    this.updatePeer(id, (r) => ({ ...r, lastSeen: this.clock.now() })).catch(() => {});
    this.emit({ type: 'peer-disconnected', id, reason: why });
  }

  /** The peer's name and, for inbound peers, its dialable address: its source IP and the port it listens on. */
  private onHello(s: Session, hello: Hello): void {
    let address: string | null = null;
    if (s.method === 'inbound' && hello.listenPort !== 0) {
      const ip = normalizeHost(s.remoteAddress.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''));
      address = formatHostPort(ip, hello.listenPort);
    }
    const rec = this.store.getPeer(s.peerId);
    // Skip the durable write when nothing changes (a reconnect of a known peer).
    if (rec && (!hello.name || hello.name === rec.name) && (!address || rec.addresses[0] === address)) return;
    this.savePeer(s.peerId, { name: hello.name || null, address, source: s.method === 'tcp-simultaneous-open' ? 'signaler' : 'manual' });
  }

  /** Addresses a peer's signed record announced: kept after the ones we proved by connecting. */
  private learnAddresses(id: NodeId, endpoints: ReadonlyArray<{ host: string; port: number }>, source: PeerSource): void {
    const rec = this.store.getPeer(id);
    const have = new Set(rec?.addresses ?? []);
    const fresh = endpoints.map((e) => formatHostPort(e.host, e.port)).filter((a) => !have.has(a));
    if (rec && fresh.length === 0) return;
    this.updatePeer(id, (r) => ({
      ...r,
      learnedFrom: r.learnedFrom ?? source,
      addresses: [...r.addresses, ...fresh.filter((a) => !r.addresses.includes(a))].slice(0, MAX_ADDRESSES_PER_PEER),
    })).catch((err) => this.log.warn(`cannot save peer ${id}: ${errorMessage(err)}`));
  }

  /** Record a peer's name and most recent dialable address (punched endpoints are not dialable). */
  private savePeer(id: NodeId, seen: { name?: string | null; address: string | null; source: PeerSource }): void {
    const { address } = seen;
    this.updatePeer(id, (r) => ({
      ...r,
      learnedFrom: r.learnedFrom ?? seen.source,
      name: seen.name || r.name,
      lastSeen: this.clock.now(),
      addresses: address ? [address, ...r.addresses.filter((a) => a !== address)].slice(0, MAX_ADDRESSES_PER_PEER) : r.addresses,
    })).catch((err) => this.log.warn(`cannot save peer ${id}: ${errorMessage(err)}`));
  }

  private onFrame(s: Session, type: number, payload: Buffer): void {
    if (type === FrameType.CHAT) this.messenger.onChat(s, payload);
    else if (type === FrameType.ACK) this.messenger.onAck(s, payload);
    else if (type === FrameType.PACKETS) this.vpn.onPackets(s, payload);
    else if (type === FrameType.VPN_ADDR) this.vpn.onVpnAddr(s, payload);
    else if (type === FrameType.GOSSIP_PUSH) this.gossip.onPush(s, payload);
    else if (type === FrameType.GOSSIP_PULL_REPLY) this.gossip.onPullReply(s, payload);
    else {
      // Known type, wrong context (e.g. a signaler message from a peer).
      this.counters.inc('frames_unexpected');
      s.close(GoawayCode.PROTOCOL_ERROR, `frame type 0x${type.toString(16)} is not for nodes`);
    }
  }
}

/**
 * A fighter listener (SO_REUSEPORT) on the identity port, but only if nobody else holds
 * that port: SO_REUSEPORT would otherwise let a second node share it silently. A plain
 * bind (without SO_REUSEPORT) fails with EADDRINUSE against any existing holder.
 */
async function exclusiveFighterListen(port: number, host: string | undefined): Promise<Server> {
  const h = host ?? '0.0.0.0';
  if (port !== 0) {
    const probe = await plainListen(port, h);
    await new Promise<void>((r) => probe.close(() => r()));
  }
  return fighterListen({ host: h, port });
}
