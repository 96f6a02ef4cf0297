/**
 * The node's public, transport-neutral API. The control server exposes it on the
 * local unix socket, the interactive terminal drives it directly, and tests drive
 * it through fakes. All values are plain JSON-serialisable data.
 */
import type { PingOptions, PingProgress, PingResult } from './ping/types.js';

/** A node id: see docs/PROTOCOL.md "Node ids" (56 lowercase base32 characters). */
export type NodeId = string;

/**
 * `pending`: ours, saved, not yet acknowledged; `delivered`: ours, acknowledged;
 * `refused`: ours, the recipient refused it for good (it does not take messages from us);
 * `received`: theirs; `request`: theirs, from a stranger, kept as a message request until
 * the user accepts (it becomes `received`) or blocks the sender (it is deleted).
 */
export type MessageStatus = 'pending' | 'delivered' | 'refused' | 'received' | 'request';

/**
 * How a session came to be. `inbound`: the peer's connection reached our listener;
 * `outbound`: we dialed it; `tcp-simultaneous-open`: a hole-punching attempt of ours
 * (connect() from the identity port, coordinated by the signaler) produced it; `relay`: the
 * session runs through a relay's circuit (end-to-end TLS inside; the relay sees ciphertext).
 */
export type ConnectMethod = 'inbound' | 'outbound' | 'tcp-simultaneous-open' | 'relay';

export interface PeerInfo {
  id: NodeId;
  alias: string | null;
  /** Name the peer announced for itself (HELLO), if any. */
  name: string | null;
  /** Remote address of the live session as host:port, else the last known dialable address. */
  address: string | null;
  /** How the live session reaches the peer: `direct`, or through a `relay`; null when not connected. */
  path: 'direct' | 'relay' | null;
  /** The relay carrying the session (`<relay id> at host:port`) when `path` is `relay`. */
  relay: string | null;
  method: ConnectMethod | null;
  rttMs: number | null;
  connected: boolean;
  /**
   * Bytes received from and sent to the peer on the live session (whole frames: messages,
   * VPN packets, keepalives); null when not connected. They start at 0 with each session.
   */
  bytesIn?: number | null;
  bytesOut?: number | null;
  /** Milliseconds since the epoch when we last heard from the peer. */
  lastSeen: number | null;
  /** The peer's VPN addresses and whether it may exchange VPN traffic with us. */
  vpn: { ipv4: string; ipv6: string; allowed: boolean };
  /** How we learned of it: `manual` (dialed or dialed us), `signaler`, `mdns` or `gossip`. */
  learnedFrom: 'manual' | 'signaler' | 'mdns' | 'gossip';
  /** What the user decided: a `contact` (chosen), a `stranger`, or `blocked`. */
  trust: 'contact' | 'stranger' | 'blocked';
  /**
   * The signaler the peer's signed record says it is registered with (IP address and
   * port), when we hold such a record (absent from older nodes).
   */
  signaler?: string | null;
}

export interface HistoryEntry {
  id: string;
  from: NodeId;
  to: NodeId;
  text: string;
  timestamp: number;
  status: MessageStatus;
  /** True for a message request (from a stranger, not accepted yet): status `request`. */
  request: boolean;
}

/**
 * What a node does with messages from strangers (`--strangers`): `requests` (default) keeps
 * them as message requests until the user accepts or blocks the sender; `accept` treats
 * them as ordinary messages; `refuse` refuses them. In every case within the stranger quotas.
 */
export type StrangerPolicy = 'accept' | 'requests' | 'refuse';

/** Waiting message requests from one stranger. */
export interface RequestSummary {
  peer: NodeId;
  count: number;
  bytes: number;
  /** Arrival of the first and last request (ms since the epoch). */
  first: number;
  last: number;
  /** The beginning of the first request's text. */
  preview: string;
}

/**
 * A signaler's state: `connected` (registered, in use), `connecting`, `unreachable` (the
 * last attempt or session failed), `untrusted` (it did not prove the pinned or trusted id),
 * `standby` (listed, not tried yet); `disabled`: no signaler configured.
 */
export type SignalerState = 'disabled' | 'standby' | 'connecting' | 'connected' | 'unreachable' | 'untrusted';

/** One configured signaler in `status`. */
export interface SignalerEntryStatus {
  /** `host:port` as configured. */
  address: string;
  /** The id it must prove: pinned (`#id`) or trusted on first use; null before first contact. */
  id: NodeId | null;
  pinned: boolean;
  state: Exclude<SignalerState, 'disabled'>;
  /** Why the last attempt or session at it failed; null when none did (or it is connected). */
  lastError: string | null;
}

export interface StatusInfo {
  id: NodeId;
  name: string | null;
  port: number;
  dataDir: string;
  /** The signaler in use (or being tried), and every configured one. */
  signaler: {
    /** `host:port` as configured, or `none`. */
    address: string;
    state: SignalerState;
    /** The signaler's node id once known (pinned or trusted on first use). */
    id: NodeId | null;
    /** Our public address as the signaler observes it (host:port). */
    observed: string | null;
    /** The signaler's IP address and port we are registered at, as named in our peer record (absent from older nodes). */
    endpoint?: string | null;
    /** The configured signalers (`--signaler a,b,...`) in the order they are tried (absent from older nodes). */
    list?: SignalerEntryStatus[];
  };
  /** Whether fighter sockets (the native addon) are available, and if not, why. */
  holePunching: { available: boolean; reason: string | null };
  /** Number of connected peers. */
  peers: number;
  /** Number of known peers (connected or not). */
  known: number;
  uptimeMs: number;
  /** The durable store's disk space (absent from nodes that predate it). */
  store?: StoreStatus;
  /** Named counters: dropped frames, refused handshakes, ... */
  counters: Record<string, number>;
  vpn: VpnStatus;
  trust: TrustStatus;
  /** Relaying: the relays this node may use, and what it offers others (absent from older nodes). */
  relay?: RelayStatus;
  /**
   * Where this node listens (`listenHost`: `--host`, null for all interfaces) and its NAT as
   * the signaler's observation suggests (`public`: no NAT, `easy`: the NAT keeps the
   * identity port, `hard`: it changes it, `unknown`: not registered). Absent from older nodes.
   */
  network?: { listenHost: string | null; nat: 'public' | 'easy' | 'hard' | 'unknown' };
  /**
   * The DNS responder for `<name>.sentinel` on the VPN IPv4: `up` on `address` (host:port),
   * `off` (no VPN, or --no-dns), or `failed` with the reason (absent from older nodes).
   */
  dns?: { state: 'off' | 'up' | 'failed'; address: string | null; reason: string | null };
}

/** The relay part of `status`. */
export interface RelayStatus {
  /**
   * The signaler's relay: whether a circuit can be asked for now, from whom, and the limits
   * it stated for this node when we registered (null: it does not relay, or not registered).
   */
  signaler: { available: boolean; label: string | null; limits: { maxCircuits: number; bytesPerSecond: number; idleTimeoutS: number } | null };
  /**
   * Peer relays this node has a session with: bound (they may offer us circuits; with the
   * limits they stated for us) or not (usable for dialing only). The dial chain tries them
   * by RTT, before the signaler.
   */
  peers: Array<{
    id: NodeId;
    address: string;
    rttMs: number | null;
    bound: { maxCircuits: number; bytesPerSecond: number; idleTimeoutS: number } | null;
    circuits: number;
  }>;
  /** What this node offers with `--relay`; null when it does not relay. */
  offering: RelayOffering | null;
}

/** A peer relay's own view (`sentinel-node --relay`): its policy, limits and use. */
export interface RelayOffering {
  mode: 'contacts' | 'all';
  /** Whether the signed peer record says so (only when reachable from the internet). */
  advertised: boolean;
  /** Why it is not advertised, when it is not. */
  reason: string | null;
  limits: {
    maxBound: number;
    maxBoundStrangers: number;
    maxCircuits: number;
    circuitsPerContact: number;
    circuitsPerStranger: number;
    bytesPerSecondPerContact: number;
    bytesPerSecondPerStranger: number;
    idleTimeoutMs: number;
  };
  /** Nodes bound now (of them strangers), circuits live and pending. */
  bound: number;
  boundStrangers: number;
  circuits: number;
  pending: number;
  /** RELAY_DATA bytes forwarded, frames delayed by a node's rate, bytes queued now. */
  bytes: number;
  throttled: number;
  queuedBytes: number;
  /** Refusals by reason. */
  refused: Record<string, number>;
}

/** The trust part of `status`: the policy, who is what, what strangers hold, and the limits. */
export interface TrustStatus {
  /** What happens to messages from strangers (`--strangers`). */
  strangers: StrangerPolicy;
  contacts: number;
  /** Strangers remembered now. */
  remembered: number;
  blocked: number;
  sessions: { contacts: number; strangers: number; pendingHandshakes: number };
  /** Messages held from strangers (requests, and accepted-policy ones still counting). */
  held: { count: number; bytes: number; requests: number };
  /** The named limits in force (see docs/SECURITY.md). */
  limits: Record<string, number>;
}

/** The store part of `status`. */
export interface StoreStatus {
  /** True while new messages are refused (E_STORE_FULL) for lack of disk space. */
  full: boolean;
  /** Free bytes on the data dir's filesystem at the last check, null when unknown. */
  freeBytes: number | null;
  /** Free space the store keeps in reserve: messages are refused below it. */
  reserveBytes: number;
}

/** The VPN part of `status`. */
export interface VpnStatus {
  /** 'off': not requested; 'up': TUN running; 'unavailable': requested as optional but could not start. */
  state: 'off' | 'up' | 'unavailable';
  reason: string | null;
  /** Our VPN addresses (also when off: they are derived from the id). */
  ipv4: string;
  ipv6: string;
  tun: string | null;
  mtu: number | null;
  /** Dropped packets by reason, all peers. */
  drops: Record<string, number>;
  /** Peers whose announced VPN address is refused because another node (or we) hold it. */
  collisions: Array<{ peer: NodeId; address: string; heldBy: NodeId | 'self' }>;
  /** Per-peer traffic counters. */
  peers: Record<NodeId, { packetsIn: number; packetsOut: number; bytesIn: number; bytesOut: number; drops: Record<string, number> }>;
}

export interface DialProgress {
  stage: 'resolving' | 'looking-up' | 'connecting' | 'punching' | 'relaying' | 'tls' | 'connected';
  message: string;
}

export interface DialResult {
  id: NodeId;
  address: string;
  method: ConnectMethod;
  /** `direct`, or `relay` when the session runs through a relay. */
  path: 'direct' | 'relay';
  /** The relay (`<relay id> at host:port`) when `path` is `relay`. */
  relay: string | null;
  ms: number;
  /** True when a session with this peer already existed. */
  existing: boolean;
  /** Why the dial ended relayed (netcheck terms, src/netcheck/explain.ts); null when direct. */
  explanation?: string | null;
  /** The same, structured. */
  reason?: DialReason | null;
}

/** NAT mapping behaviour in RFC 4787 terms. */
export type NatMapping = 'endpoint-independent' | 'endpoint-dependent' | 'unknown';
/** What happens to unsolicited inbound TCP: dropped, answered with a reset (or ICMP error), or let through. */
export type NatFiltering = 'drop' | 'reset' | 'open' | 'unknown';
/** The punch planner's NAT kinds (src/punch/plan.ts): public, easy (port kept), hard (port changed). */
export type PunchNatKind = 'public' | 'easy' | 'hard' | 'unknown';

/** `sentinel netcheck`: how this node's network treats it (src/netcheck/). */
export interface NetcheckReport {
  signaler: { address: string; state: string; reachable: boolean; rttMs: number | null; error: string | null };
  /** Our public address (ip:port) as the signaler sees our session, or null. */
  publicAddress: string | null;
  /** The same socket's public address seen from the signaler's probe port (second observation), or null. */
  probeAddress: string | null;
  /** False: the signaler sees one of our own addresses (no NAT); null: unknown. */
  behindNat: boolean | null;
  mapping: NatMapping;
  /** The NAT keeps our identity port as the public port; null: unknown. */
  portPreserving: boolean | null;
  filtering: NatFiltering;
  /** How `filtering` was found, e.g. "TCP reset", "no answer within 2000 ms", "not tested: ...". */
  filteringDetail: string;
  /** The punch planner's name for this network (what dials use). */
  natKind: PunchNatKind;
  ipv6: { addresses: string[]; signaler: 'reachable' | 'unreachable' | 'unknown'; observed: string | null; detail: string };
  /** Caveats, e.g. where the punch planner's guess differs from what netcheck measured. */
  notes: string[];
}

/** Why a dial ended relayed or failed, in netcheck terms. */
export interface DialReason {
  code: 'both-endpoint-dependent' | 'endpoint-dependent-birthday' | 'firewall-refuses' | 'punch-timed-out' | 'punch-unavailable' | 'not-registered' | 'unknown';
  self: { natKind: PunchNatKind; mapping: NatMapping; filtering: NatFiltering };
  peer: { natKind: PunchNatKind; mapping: NatMapping } | null;
}

// `ping`'s types (path, replies, summary, options, result, progress) live beside it.
export type { PingOptions, PingPath, PingProgress, PingReply, PingResult, PingSummary } from './ping/types.js';

/** Result of accept, block and unblock. */
export interface TrustChange {
  id: NodeId;
  trust: 'contact' | 'stranger' | 'blocked';
  /** Requests accepted (accept) or deleted (block). */
  requests: number;
}

export interface SendResult {
  id: string;
  to: NodeId;
  status: MessageStatus;
}

export type NodeEvent =
  | { type: 'message'; message: HistoryEntry }
  | { type: 'delivered'; id: string; to: NodeId }
  | { type: 'refused'; id: string; to: NodeId }
  | { type: 'peer-connected'; peer: PeerInfo }
  | { type: 'peer-disconnected'; id: NodeId; reason: string };

export interface NodeApi {
  /** The node id, and its VPN addresses (derived from the id unless overridden). */
  id(): { id: NodeId; vpn?: { ipv4: string; ipv6: string } };
  status(): StatusInfo;
  peers(): PeerInfo[];
  /** `target`: a node id, a unique prefix of a known id, or host:port. */
  dial(target: string, onProgress?: (p: DialProgress) => void): Promise<DialResult>;
  /** Stores durably, then delivers now or from the outbox when a session comes up. */
  send(target: string, text: string): Promise<SendResult>;
  /** Sends to every connected peer; returns one result per peer. */
  broadcast(text: string): Promise<SendResult[]>;
  /**
   * Messages with one peer (or all peers when target is undefined), oldest first: the last
   * `limit` (default and cap in control/limits) stored before message `before` if given.
   * A page never exceeds the reply size cap (older entries are left for the next page).
   */
  history(target: string | undefined, limit?: number, before?: string): HistoryEntry[];
  /** Makes a peer a contact (alias); persisted. */
  alias(target: string, alias: string): Promise<{ id: NodeId; alias: string }>;
  /** Allow (true) or stop allowing (false) VPN traffic with a peer (allowing makes it a contact); persisted. */
  setAllowed(target: string, allowed: boolean): Promise<{ id: NodeId; allowed: boolean }>;
  /** Message requests waiting, one summary per stranger. */
  requests(): RequestSummary[];
  /** Makes a peer a contact: its requests become ordinary messages. */
  accept(target: string): Promise<TrustChange>;
  /** Blocks a peer: its session is closed, its requests deleted, nothing more is taken from it. */
  block(target: string): Promise<TrustChange>;
  /** Unblocks a peer (it becomes a stranger again). */
  unblock(target: string): Promise<TrustChange>;
  /**
   * Pings a peer (an id, unique prefix, alias or host:port) over its session, dialing it
   * first when there is none (the peer then becomes a contact, as with `dial`). Progress:
   * the dial's, then one {@link PingProgress} per reply.
   */
  ping(target: string, opts?: PingOptions, onProgress?: (p: DialProgress | PingProgress) => void): Promise<PingResult>;
  /** Classify this node's network: signaler, public address, NAT mapping and filtering, IPv6. */
  netcheck(): Promise<NetcheckReport>;
  /** Subscribe to events; returns an unsubscribe function. */
  onEvent(listener: (e: NodeEvent) => void): () => void;
}
