/**
 * The node's public, transport-neutral API. The control server exposes it on the
 * local unix socket, the interactive terminal drives it directly, and tests drive
 * it through fakes. All values are plain JSON-serialisable data.
 */

/** A node id: see docs/PROTOCOL.md "Node ids" (56 lowercase base32 characters). */
export type NodeId = string;

export type MessageStatus = 'pending' | 'delivered' | 'received';

/**
 * How a session came to be. `inbound`: the peer's connection reached our listener;
 * `outbound`: we dialed it; `tcp-simultaneous-open`: a hole-punching attempt of ours
 * (connect() from the identity port, coordinated by the signaler) produced it.
 */
export type ConnectMethod = 'inbound' | 'outbound' | 'tcp-simultaneous-open';

export interface PeerInfo {
  id: NodeId;
  alias: string | null;
  /** Name the peer announced for itself (HELLO), if any. */
  name: string | null;
  /** Remote address of the live session as host:port, else the last known dialable address. */
  address: string | null;
  /** `direct` while a session is up (a later `relay` is reserved); null when not connected. */
  path: 'direct' | null;
  method: ConnectMethod | null;
  rttMs: number | null;
  connected: boolean;
  /** Milliseconds since the epoch when we last heard from the peer. */
  lastSeen: number | null;
  /** The peer's VPN addresses and whether it may exchange VPN traffic with us. */
  vpn: { ipv4: string; ipv6: string; allowed: boolean };
  /** How we learned of it: `manual` (dialed or dialed us), `signaler`, `mdns` or `gossip`. */
  learnedFrom: 'manual' | 'signaler' | 'mdns' | 'gossip';
}

export interface HistoryEntry {
  id: string;
  from: NodeId;
  to: NodeId;
  text: string;
  timestamp: number;
  status: MessageStatus;
}

export interface StatusInfo {
  id: NodeId;
  name: string | null;
  port: number;
  dataDir: string;
  signaler: {
    address: string;
    state: 'disabled' | 'connecting' | 'connected' | 'unreachable' | 'untrusted';
    /** The signaler's node id once known (pinned or trusted on first use). */
    id: NodeId | null;
    /** Our public address as the signaler observes it (host:port). */
    observed: string | null;
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
  stage: 'resolving' | 'looking-up' | 'connecting' | 'punching' | 'tls' | 'connected';
  message: string;
}

export interface DialResult {
  id: NodeId;
  address: string;
  method: ConnectMethod;
  ms: number;
  /** True when a session with this peer already existed. */
  existing: boolean;
}

export interface SendResult {
  id: string;
  to: NodeId;
  status: MessageStatus;
}

export type NodeEvent =
  | { type: 'message'; message: HistoryEntry }
  | { type: 'delivered'; id: string; to: NodeId }
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
  /** Messages with one peer (or all peers when target is undefined), oldest first, last `limit`. */
  history(target: string | undefined, limit?: number): HistoryEntry[];
  alias(target: string, alias: string): Promise<{ id: NodeId; alias: string }>;
  /** Allow (true) or stop allowing (false) VPN traffic with a peer; persisted. */
  setAllowed(target: string, allowed: boolean): Promise<{ id: NodeId; allowed: boolean }>;
  /** Subscribe to events; returns an unsubscribe function. */
  onEvent(listener: (e: NodeEvent) => void): () => void;
}
