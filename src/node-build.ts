/**
 * The services of a node, built and wired to each other (no I/O happens here: node.ts
 * builds the real I/O and starts them).
 */
import type { NodeEvent } from './api.js';
import { Dialer } from './connect/dialer.js';
import { EventBus } from './core/events.js';
import { errorMessage } from './errors.js';
import type { Identity } from './identity/index.js';
import { Messenger, VERIFY_WORKERS } from './messaging/index.js';
import { loadNative } from './native/index.js';
import { exclusiveFighterListen } from './connect/listen.js';
import { PunchCoordinator, localEndpoints } from './punch/index.js';
import { AllowList } from './vpn/allow-list.js';
import { GossipService } from './gossip/index.js';
import { recordAddresses } from './gossip/records.js';
import { DEFAULT_MIN_PEERS } from './membership/reconnect.js';
import { Membership } from './membership/membership.js';
import { DialBudget } from './peers/dial-budget.js';
import { PeerDirectory, chosenBefore } from './peers/directory.js';
import { PeerLifecycle } from './peers/lifecycle.js';
import { SessionRecorder } from './peers/recorder.js';
import { VpnService } from './vpn/service.js';
import { DEFAULT_DNS_PORT, NodeDns } from './dns/node-dns.js';
import { datagramModeFrom, type DatagramMode } from './vpn/path-policy.js';
import { bindUdpPort } from './vpn/udp-port.js';
import { tcpInfoReader } from './native/index.js';
import { vpnAddressesOf } from './vpn/index.js';
import { SignalerClient } from './signaler/index.js';
import { RelayAcceptor } from './relay/incoming.js';
import { RelayService, relayReachable } from './relay/service.js';
import { DirectUpgrader } from './relay/upgrade.js';
import { type Store } from './store/index.js';
import * as T from './transport/index.js';
import { FrameRouter } from './transport/router.js';
import { FrameType, HELLO_FLAG_CHAT_BATCH, HELLO_FLAG_GSO, type Endpoint, type Hello } from './wire/index.js';
import { DEFAULT_LIMITS, type NodeOptions } from './node-options.js';


/** The services of one node, built once (see the constructor). */
export interface Parts {
  clock: T.Clock;
  counters: T.Counters;
  limits: T.TransportLimits;
  allowList: AllowList;
  directory: PeerDirectory;
  events: EventBus<NodeEvent>;
  lifecycle: PeerLifecycle;
  manager: T.ConnectionManager;
  messenger: Messenger;
  vpn: VpnService;
  gossip: GossipService;
  membership: Membership;
  dialer: Dialer;
  relayAcceptor: RelayAcceptor;
  relay: RelayService;
  upgrader: DirectUpgrader;
  locals: () => Endpoint[];
  native: ReturnType<typeof loadNative>;
  dns: NodeDns;
}

/** Builds the services of a node and wires them to each other. No I/O happens here. */
export function build(
  opts: NodeOptions,
  identity: Identity,
  store: Store,
  port: () => number,
  puncher: () => PunchCoordinator | undefined,
  signaler: () => SignalerClient | undefined,
): Parts {
  const log = opts.log;
  const clock = opts.clock ?? T.systemClock;
  const counters = new T.Counters();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const native = opts.native === 'off' ? { ok: false as const, reason: 'disabled by configuration' } : loadNative();
  const allowList = new AllowList(store);
  const directory = new PeerDirectory({ store, clock, log, counters, wasChosen: chosenBefore((id) => allowList.has(id), (id) => store.history(id, 1)) });
  const events = new EventBus<NodeEvent>((err) => log.warn(`event listener failed: ${errorMessage(err)}`));
  const lifecycle = new PeerLifecycle(log);
  const router = new FrameRouter(counters);
  const acceptor: { current?: RelayAcceptor } = {};
  const relay = new RelayService({
    offer: opts.relay ?? null,
    trust: (id) => directory.trustOf(id),
    signaler,
    reachable: () => relayReachable(Boolean(opts.signaler), signaler()?.observed, locals()),
    onIncoming: (offers, circuit, peer) => acceptor.current?.offer(offers, circuit, peer),
    clock,
    counters,
    log,
  });
  const manager = new T.ConnectionManager({
    ...(native.ok ? { listener: exclusiveFighterListen } : {}),
    identity,
    clock,
    counters,
    limits,
    classify: (id) => directory.trustOf(id),
    localHello: (peer): Hello => ({ listenPort: port(), name: opts.name ?? '', flags: relay.helloFlags(peer) | HELLO_FLAG_GSO | HELLO_FLAG_CHAT_BATCH | vpn.helloFlags }),
    events: {
      onSessionUp: (s, replaced) => lifecycle.onSessionUp(s, replaced),
      onSessionDown: (id, reason) => lifecycle.onSessionDown(id, reason),
      onFrame: (s, type, payload) => router.dispatch(s, type, payload),
      onHello: (s, hello) => lifecycle.onHello(s, hello),
      log: (level, msg) => log[level](msg),
    },
  });
  const derived = vpnAddressesOf(identity.id);
  // Our addresses for peers on our LANs, never those of our own TUN (see localEndpoints).
  const locals = (): Endpoint[] =>
    localEndpoints(port(), opts.host, { interfaces: opts.vpn && opts.vpn.mode !== 'off' ? [opts.vpn.tunName] : [], addresses: [opts.vpn?.ipv4 ?? derived.ipv4, derived.ipv6] });
  const vpn = new VpnService({
    self: { ipv4: opts.vpn?.ipv4 ?? derived.ipv4, ipv6: derived.ipv6 },
    allow: allowList,
    log,
    counters,
    channelFor: (p) => manager.session(p),
    datagram: { selfId: identity.id, mode: datagramMode(log), bind: () => (opts.bindUdp ?? bindUdpPort)(port(), opts.host), clock, ...tcpSamples(native.ok) },
  });
  const dns = new NodeDns({
    config: opts.dns === null || !opts.vpn || opts.vpn.mode === 'off' ? null : { port: DEFAULT_DNS_PORT, ...opts.dns },
    self: { id: identity.id, name: opts.name ?? null },
    peers: () => directory.all(),
    selfAddresses: () => vpn.addresses,
    addressesOf: (p) => vpn.addressesOf(p),
    clock,
    counters,
    log,
  });
  const messenger = new Messenger({
    identity,
    store,
    clock,
    counters,
    channelFor: (p) => manager.session(p),
    emit: (e) => events.emit(e),
    trust: (p) => directory.trustOf(p),
    policy: () => opts.strangers ?? 'requests',
    verifyWorkers: VERIFY_WORKERS,
  });
  const gossip = new GossipService({
    identity,
    store,
    clock,
    log,
    // Global IPv6 addresses go with the public ones (records.ts recordAddresses).
    addresses: () => recordAddresses(signaler()?.observed, locals()),
    flags: () => relay.recordFlags(),
    signaler: () => signaler()?.endpoint ?? null,
    connected: () => manager.sessions(),
    // Hearsay: remembered while the stranger table has room, never instead of a peer we met.
    onLearned: (id, endpoints) => void directory.learned(id, endpoints),
    keep: (id) => directory.isContact(id),
    trusted: (id) => directory.isContact(id),
    ...(opts.gossipIntervalMs !== undefined ? { intervalMs: opts.gossipIntervalMs } : {}),
  });
  const dialer = new Dialer({
    manager,
    directory,
    budget: new DialBudget(clock.now()),
    clock,
    counters,
    log,
    punch: () => (signaler() === undefined ? 'no signaler' : !native.ok ? native.reason : (puncher() ?? 'signaler not started')),
    insideTunnel: (peer, host) => {
      const v = vpn.addressesOf(peer);
      return host === v.ipv4 || host === v.ipv6;
    },
    relays: (target) => relay.routes(target),
    connectTimeoutMs: limits.connectTimeoutMs,
  });
  const upgrader = new DirectUpgrader({
    self: identity.id,
    clock,
    counters,
    log,
    tryDirect: async (id) => (await dialer.dialId(id, () => {}, false, { directOnly: true })).session,
    relayed: (id) => manager.session(id)?.method === 'relay',
  });
  const relayAcceptor = new RelayAcceptor({ adopt: (stream, peer) => manager.adoptRelayed(stream, peer, 'server'), isBlocked: (id) => directory.isBlocked(id), counters, log });
  acceptor.current = relayAcceptor;
  const membership = new Membership({
    directory,
    manager,
    dialer,
    clock,
    log,
    minPeers: opts.minPeers ?? DEFAULT_MIN_PEERS,
    reconnect: opts.reconnect !== false,
    canPunch: () => puncher() !== undefined && native.ok,
    gossipKnown: () => gossip.known(),
  });
  router
    .on(FrameType.CHAT, (s, p) => messenger.onChat(s, p))
    .on(FrameType.CHAT_BATCHED, (s, p) => messenger.onChat(s, p, FrameType.CHAT_BATCHED))
    .on(FrameType.ACK, (s, p) => messenger.onAck(s, p))
    .on(FrameType.CHAT_REFUSED, (s, p) => messenger.onRefused(s, p))
    .on(FrameType.PACKETS, (s, p) => vpn.onPackets(s, p))
    .on(FrameType.PACKETS_GSO, (s, p) => vpn.onPacketsGso(s, p))
    .on(FrameType.VPN_ADDR, (s, p) => vpn.onVpnAddr(s, p))
    .on(FrameType.DGRAM_OFFER, (s, p) => vpn.onDgramOffer(s, p))
    .on(FrameType.GOSSIP_PUSH, (s, p) => gossip.onPush(s, p))
    .on(FrameType.GOSSIP_PULL_REPLY, (s, p) => gossip.onPullReply(s, p));
  relay.register(router);
  lifecycle
    .add(new SessionRecorder(directory, (id) => membership.sourceOf(id)))
    .add(membership)
    .add({ onSessionUp: (s) => messenger.onSessionUp(s), onSessionDown: (id) => messenger.onSessionDown(id) })
    .add({ onSessionUp: (s) => vpn.onSessionUp(s), onSessionDown: (id) => vpn.onSessionDown(id) })
    .add({ onSessionDown: (id) => gossip.onSessionDown(id) })
    .add({ onSessionUp: (s, replaced) => relay.onSessionUp(s, replaced), onSessionDown: (id) => relay.onSessionDown(id) })
    .add(upgrader);
  return { clock, counters, limits, allowList, directory, events, lifecycle, manager, messenger, vpn, gossip, membership, dialer, relayAcceptor, relay, upgrader, locals, native, dns };
}

/** SENTINEL_VPN_DATAGRAM (off | auto | always; default auto). An unknown value: auto, with a warning. */
function datagramMode(log: { warn(msg: string): void }): DatagramMode {
  try {
    return datagramModeFrom(process.env['SENTINEL_VPN_DATAGRAM']);
  } catch (err) {
    log.warn(`${errorMessage(err)}; using auto`);
    return 'auto';
  }
}

/** TCP_INFO of session sockets for the datagram path's 'auto' choice, when the addon has it. */
function tcpSamples(nativeOk: boolean): { tcpInfo?: (fd: number) => { segsOut: number; retrans: number } | null } {
  const read = nativeOk ? tcpInfoReader() : null;
  if (!read) return {};
  return {
    tcpInfo: (fd) => {
      const t = read(fd);
      return t && { segsOut: t.segsOut, retrans: t.totalRetrans };
    },
  };
}
