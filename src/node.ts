/**
 * Composition root: the only place that builds real I/O (data dir, key file, LMDB, TCP
 * listener, control socket, TUN, mDNS socket, signaler connection) and wires the services
 * together. Domain logic lives in the modules; `SentinelNode` is the {@link NodeApi}
 * (node-api.ts) plus start and stop.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { startControlServer, controlSocketPath, type ControlServer } from './control/index.js';
import { prepareDataDir } from './core/data-dir.js';
import { errorMessage } from './errors.js';
import { discardCreatedIdentity, loadOrCreateIdentity, type Identity } from './identity/index.js';
import type { Logger } from './log.js';
import { fighterConnect } from './native/index.js';
import { PunchCoordinator, natKind } from './punch/index.js';
import { NetcheckService } from './netcheck/service.js';
import { MdnsDiscovery, createMulticastTransport, lanAddresses } from './discovery/index.js';
import { NodeFacade } from './node-api.js';
import { VPN_IPV4_PREFIX_LENGTH, VPN_IPV6_PREFIX_LENGTH, openNativeTun } from './vpn/index.js';
import { SignalerClient, parseSignalerList } from './signaler/index.js';
import { openLmdbStore, type Store } from './store/index.js';
import * as T from './transport/index.js';
import { type NodeOptions } from './node-options.js';
import { startDashboard, type WebServer } from './web/index.js';

import { build, type Parts } from './node-build.js';
import { nodeRegistry, pendingCount, serveMetrics, type MetricsServer } from './metrics/endpoint.js';
import { PEER_LABEL_SLOTS } from './metrics/limits.js';
import { PeerTraffic } from './metrics/peer-traffic.js';

export * from './node-options.js';

/** Start a node: everything is listening when this resolves. */
export async function startNode(opts: NodeOptions): Promise<SentinelNode> {
  const dataDir = resolve(opts.dataDir);
  await prepareDataDir(dataDir);
  const { identity, created } = await loadOrCreateIdentity(dataDir);
  // A start that fails leaves no identity behind that it made: the next start, with the
  // mistake fixed, is the one that creates it (and says "new identity").
  const undo = async (): Promise<void> => void (created && (await discardCreatedIdentity(dataDir, identity)));
  let node: SentinelNode;
  try {
    const store = await openLmdbStore(join(dataDir, 'store'), { log: opts.log });
    node = new SentinelNode(opts, dataDir, identity, store);
  } catch (err) {
    await undo();
    throw err;
  }
  try {
    await node.start(created);
  } catch (err) {
    try {
      await node.close();
    } finally {
      await undo();
    }
    throw err;
  }
  return node;
}

export class SentinelNode extends NodeFacade {
  readonly identity: Identity;
  readonly counters: T.Counters;
  port = 0;
  /** True when this start created the key: a new identity. */
  identityCreated = false;
  private readonly parts: Parts;
  private readonly log: Logger;
  private control: ControlServer | undefined;
  private signaler: SignalerClient | undefined;
  private puncher: PunchCoordinator | undefined;
  private mdns: MdnsDiscovery | undefined;
  private closing: Promise<void> | undefined;
  /** The web dashboard, when started with `web`. */
  web: WebServer | undefined;
  private metrics: MetricsServer | undefined;
  /** Session bytes per peer, for the metrics (with or without --metrics: it is cheap). */
  private readonly traffic: PeerTraffic;

  constructor(
    private readonly opts: NodeOptions,
    readonly dataDir: string,
    identity: Identity,
    private readonly store: Store,
  ) {
    const ref: { node?: SentinelNode } = {};
    const parts = build(opts, identity, store, () => ref.node?.port ?? 0, () => ref.node?.puncher, () => ref.node?.signaler);
    const netcheck = new NetcheckService({ signaler: () => ref.node?.signaler, puncher: () => ref.node?.puncher, port: () => ref.node?.port ?? 0, host: opts.host, native: parts.native, localHosts: () => parts.locals().map((e) => e.host) });
    super({
      identity,
      dataDir,
      name: opts.name ?? null,
      port: () => ref.node?.port ?? 0,
      startedAt: parts.clock.now(),
      clock: parts.clock,
      counters: parts.counters,
      store,
      directory: parts.directory,
      manager: parts.manager,
      messenger: parts.messenger,
      dialer: parts.dialer,
      vpn: parts.vpn,
      allowList: parts.allowList,
      events: parts.events,
      policy: opts.strangers ?? 'requests',
      limits: parts.limits,
      vpnConfig: { tunName: opts.vpn?.tunName ?? null, mtu: opts.vpn?.mtu ?? null },
      signaler: () => ref.node?.signaler,
      signalerOf: (id) => parts.gossip.signalerOf(id),
      holePunching: { available: parts.native.ok, reason: parts.native.ok ? null : parts.native.reason },
      relay: parts.relay,
      network: () => ({ listenHost: opts.host ?? null, nat: natKind(ref.node?.signaler?.observed ?? null, ref.node?.port ?? 0, parts.locals().map((e) => e.host)) }),
      ...(opts.clock ? {} : { hrNow: () => performance.now() }),
      netcheck: () => netcheck.run(),
      explainDial: (peer, err) => netcheck.explain(peer, err),
      dns: () => parts.dns.status(),
      extraCounters: () => ({ ...parts.gossip.counters(), ...(ref.node?.control ? { 'control.bad_requests': ref.node.control.counters.badRequests } : {}) }),
    });
    ref.node = this;
    this.parts = parts;
    this.identity = identity;
    this.counters = parts.counters;
    this.log = opts.log;
    if (!parts.native.ok) this.log.warn(`hole punching unavailable: ${parts.native.reason}`);
    this.traffic = new PeerTraffic((id) => parts.directory.trustOf(id), PEER_LABEL_SLOTS);
    parts.lifecycle.add(this.traffic);
    parts.lifecycle.add({
      onSessionUp: (s, replaced) => {
        if (replaced) return;
        this.log.info(`session up with ${s.peerId} (${s.method}, ${s.remoteAddress})`);
        parts.events.emit({ type: 'peer-connected', peer: this.peerInfo(s.peerId, parts.directory.get(s.peerId)) });
      },
      onSessionDown: (id, reason) => {
        const why = reason ? reason.message : 'closed';
        this.log.info(`session with ${id} down: ${why}`);
        parts.events.emit({ type: 'peer-disconnected', id, reason: why });
      },
    });
  }

  /** `http://host:port/metrics` when started with `metrics`, else null. */
  get metricsUrl(): string | null {
    return this.metrics?.url ?? null;
  }

  /** Bind the control socket and the identity port, then start every service. */
  async start(created: boolean): Promise<void> {
    this.identityCreated = created;
    const { store, parts } = this;
    const meta = store.getMeta<{ id: string; createdAt: number }>('identity');
    // Written once per identity: a node must be able to start on a full disk.
    if (created || meta?.id !== this.identity.id) await store.putMeta('identity', { id: this.identity.id, createdAt: parts.clock.now() });
    // First: a taken metrics port fails the start before anything else listens.
    if (this.opts.metrics) this.metrics = await serveMetrics(this.opts.metrics, nodeRegistry({ status: () => this.status(), peers: () => this.peers(), traffic: this.traffic, pendingMessages: () => pendingCount(store) }), this.log);
    await this.startVpn();
    // Listen first: once the control socket answers, the node can be dialed.
    this.port = await parts.manager.listen(this.opts.port, this.opts.host);
    this.control = await startControlServer({
      path: controlSocketPath(this.dataDir),
      api: this,
      log: (level, msg) => this.log[level === 'info' ? 'debug' : level](`control: ${msg}`),
    });
    this.log.info(`node ${this.identity.id} listening on port ${this.port}${created ? ' (new identity)' : ''}`);
    if (this.opts.web) this.web = await startDashboard({ api: this, dataDir: this.dataDir, ...this.opts.web, count: (n) => this.counters.inc(n), log: (level, msg) => this.log[level](msg) });
    if (this.opts.signaler) this.startSignaler(this.opts.signaler);
    parts.directory.start();
    parts.messenger.start();
    parts.membership.start();
    parts.gossip.start();
    if (this.opts.mdns !== false) this.startMdns();
  }

  /** Apply --allow, then open the TUN if asked (required: failure stops the start). */
  private async startVpn(): Promise<void> {
    const v = this.opts.vpn;
    if (!v) return;
    for (const target of v.allow) await this.setAllowed(target, true);
    if (v.mode === 'off') return;
    const open = this.opts.openTun ?? openNativeTun;
    const { vpn } = this.parts;
    const self = vpn.addresses;
    try {
      const tun = await open({ name: v.tunName, mtu: v.mtu, ipv4: self.ipv4, ipv4Prefix: VPN_IPV4_PREFIX_LENGTH, ipv6: self.ipv6, ipv6Prefix: VPN_IPV6_PREFIX_LENGTH });
      vpn.attach(tun, v.mtu);
      this.log.info(`VPN up on ${tun.name}: ${self.ipv4}, ${self.ipv6}`);
      await this.parts.dns.start();
    } catch (err) {
      if (v.mode === 'required') throw err;
      vpn.unavailable(errorMessage(err));
      this.log.warn(`VPN unavailable, running without it: ${errorMessage(err)}`);
    }
  }

  private startMdns(): void {
    const { clock, counters, membership } = this.parts;
    this.mdns = new MdnsDiscovery({
      selfId: this.identity.id,
      port: () => this.port,
      addresses: () => lanAddresses(),
      onPeer: (id, endpoints) => membership.onHint(id, endpoints, 'mdns'),
      // The VPN's own subnet is not a LAN: hints must not point into the tunnel.
      interfaces: () => {
        const all = networkInterfaces();
        if (this.opts.vpn && this.opts.vpn.mode !== 'off') delete all[this.opts.vpn.tunName];
        return all;
      },
      transport: createMulticastTransport(),
      clock,
      log: this.log,
      counters,
    });
    this.mdns.start();
  }

  private startSignaler(text: string): void {
    const addresses = parseSignalerList(text);
    const pinKey = (address: string): string => `signaler-pin:${address}`;
    const { native, clock, counters, limits, manager, directory, events, gossip } = this.parts;
    this.signaler = new SignalerClient({
      identity: this.identity,
      addresses,
      trusted: (address) => this.store.getMeta<string>(pinKey(address)),
      trust: (address, id) => this.store.putMeta(pinKey(address), id),
      connect: async (host, port, timeoutMs) => {
        const ip = isIP(host) ? host : (await lookup(host, { family: 4 })).address;
        // From the identity port, so the signaler observes the mapping peers will hit.
        return native.ok ? fighterConnect({ localPort: this.port, host: ip, port, timeoutMs }) : T.tcpConnector(ip, port, timeoutMs);
      },
      listenPort: () => this.port,
      localEndpoints: () => this.parts.locals(),
      onPunchStart: (ps) => this.puncher?.onPunchStart(ps),
      onRelayIncoming: (circuit, peer) => this.signaler && this.parts.relayAcceptor.offer(this.signaler, circuit, peer),
      // Our record names the signaler we are registered at: re-issue it when that changes.
      onRegistered: () => gossip.refreshOwn(),
      clock,
      counters,
      limits,
      log: this.log,
    });
    this.puncher = new PunchCoordinator({
      selfId: this.identity.id,
      manager,
      signaler: this.signaler,
      clock,
      log: this.log,
      counters,
      trust: (id) => directory.trustOf(id),
      port: () => this.port,
      localHosts: () => this.parts.locals().map((e) => e.host),
      tunInterfaces: () => (this.opts.vpn && this.opts.vpn.mode !== 'off' ? [this.opts.vpn.tunName] : []),
      onEvent: (l) => events.on(l),
    });
    this.signaler.start();
  }

  /** Graceful stop: GOAWAY to every peer, close sockets and the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const { membership, manager, gossip, messenger, vpn, directory, upgrader, relay } = this.parts;
      membership.stop();
      upgrader.close();
      relay.close();
      this.mdns?.stop();
      await this.metrics?.close();
      await this.control?.close();
      await this.web?.close();
      this.signaler?.close();
      await manager.close();
      await gossip.close();
      messenger.stop();
      await this.parts.dns.close();
      await vpn.close();
      await directory.close();
      await this.store.close();
    })();
    return this.closing;
  }
}
