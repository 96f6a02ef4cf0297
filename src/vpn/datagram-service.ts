/**
 * The VPN's UDP datagram path for all peers (docs/VPN-LOSS.md §3): one UDP socket per
 * node, per peer session the offer exchange (DGRAM_OFFER), keys from the session's TLS
 * exporter (datagram-crypto.ts), the path state machine (datagram-path.ts), the replay
 * window (replay-window.ts) and the choice of path (path-policy.ts).
 *
 * Per session, only for a direct one (not relayed) whose peer's HELLO has HELLO_FLAG_DGRAM:
 * on session up we bind the socket if not yet done (failure: no offers, counted, logged)
 * and send our DGRAM_OFFER; once both offers are known the keys are derived and, while
 * the peer is VPN-allowed, the path probes the peer at the session's remote IP and the
 * port from its offer. State is fixed per session (bounded by the session slots) and
 * dropped with the session.
 *
 * A received datagram is checked cheapest first, each failure dropped and counted under
 * `vpn.dgram.<reason>`: bad_length / bad_type (from the header alone, before anything is
 * allocated), unknown_index, not_allowed, replay (seen or too old), auth (AES-GCM open
 * fails); only then is its counter marked. Data goes to the router (its own checks: source
 * address, allow-list), batched per event-loop turn so the TUN gets few writes and the
 * router can merge TCP segments (coalesceTcp).
 */
import type { NodeId } from '../api.js';
import { errorMessage } from '../errors.js';
import { normalizeHost, parseHostPort } from '../core/host-port.js';
import {
  DGRAM_VERSION,
  DatagramType,
  FrameType,
  HELLO_FLAG_DGRAM,
  decodeDgramOffer,
  encodeDgramOffer,
  readDatagramHeader,
  type DatagramTypeValue,
} from '../wire/index.js';
import { deriveKeys, isFirstNode, openDatagram, sealDatagram, type DatagramKeys } from './datagram-crypto.js';
import { DatagramPath, type PathState } from './datagram-path.js';
import { DATAGRAM_TICK_MS, MAX_DATAGRAM_INNER, MAX_SEND_COUNTER, type DatagramChannel, type DatagramServiceOptions } from './datagram-types.js';
import { PathPolicy, type PathChoice } from './path-policy.js';
import { ReplayWindow } from './replay-window.js';
import type { UdpPort } from './udp-port.js';

export { DATAGRAM_TICK_MS, MAX_DATAGRAM_INNER, MAX_SEND_COUNTER, type DatagramChannel, type DatagramServiceOptions } from './datagram-types.js';

/** Data packets held for one delivery batch before it is flushed anyway. */
const MAX_INBOX = 256;

interface PeerState {
  ch: DatagramChannel;
  host: string;
  ourIndex: number;
  offered: boolean;
  theirs: { index: number; port: number } | null;
  keys: DatagramKeys | null;
  counter: number;
  window: ReplayWindow;
  path: DatagramPath;
  policy: PathPolicy;
  choice: PathChoice;
  inbox: Buffer[];
}

export class DatagramService {
  private readonly peers = new Map<NodeId, PeerState>();
  private readonly byIndex = new Map<number, PeerState>();
  /** An offer that came on a session before it was the peer's active one (one per peer). */
  private readonly early = new Map<NodeId, { ch: DatagramChannel; theirs: { index: number; port: number } }>();
  private socket: UdpPort | null = null;
  private binding: Promise<UdpPort | null> | null = null;
  private readonly timer: unknown;
  private readonly random32: () => number;
  private readonly defer: (fn: () => void) => void;
  private readonly maxInner: number;
  private closed = false;

  constructor(private readonly opts: DatagramServiceOptions) {
    this.random32 = opts.random32 ?? (() => (Math.random() * 0x1_0000_0000) >>> 0);
    this.defer = opts.defer ?? ((fn) => void setImmediate(fn));
    this.maxInner = Math.min(opts.mtu, MAX_DATAGRAM_INNER);
    this.timer = opts.clock.setInterval(() => this.tick(), DATAGRAM_TICK_MS);
  }

  /** The HELLO flag bit this node announces. */
  get helloFlags(): number {
    return HELLO_FLAG_DGRAM;
  }

  /**
   * A session is up (a replacement resets the peer's path): offer the path if it
   * qualifies. An offer that came on this session before it was the active one is used now.
   */
  onSessionUp(ch: DatagramChannel): void {
    if (this.peers.get(ch.peerId)?.ch === ch) return;
    this.remove(ch.peerId);
    if (this.closed || ((ch.peerHello?.flags ?? 0) & HELLO_FLAG_DGRAM) === 0 || ch.method === 'relay') return;
    const hp = ch.remoteAddress ? parseHostPort(ch.remoteAddress) : undefined;
    if (!hp || typeof ch.exportKeyingMaterial !== 'function') return;
    const st = this.create(ch, normalizeHost(hp.host));
    const early = this.early.get(ch.peerId);
    this.early.delete(ch.peerId);
    if (early?.ch === ch) st.theirs = early.theirs;
    void this.bound().then((sock) => {
      if (!sock || this.peers.get(ch.peerId) !== st) return;
      if (!ch.send(FrameType.DGRAM_OFFER, encodeDgramOffer({ version: DGRAM_VERSION, port: sock.port, index: st.ourIndex, epoch: 0 }))) return;
      st.offered = true;
      this.count('offers_sent');
      this.ready(st);
    });
  }

  onSessionDown(peer: NodeId): void {
    this.remove(peer);
    this.early.delete(peer);
  }

  /** The allow-list changed: an allowed peer's ready path starts probing. */
  onAllowChanged(peer: NodeId, allowed: boolean): void {
    const st = this.peers.get(peer);
    if (st && allowed) this.ready(st);
  }

  /**
   * A DGRAM_OFFER frame (malformed: throws E_PAYLOAD_MALFORMED, which closes the session).
   * On a session that is not (yet) the peer's active one it is kept (one per peer) for when
   * that session becomes active (duplicate sessions settle at slightly different times at
   * the two ends). A changed offer on the same session (the peer reset its side) gives new
   * keys (another context: counters start again under a new key).
   */
  onOffer(ch: DatagramChannel, payload: Buffer): void {
    const offer = decodeDgramOffer(payload);
    if (offer.version !== DGRAM_VERSION || offer.epoch !== 0) return this.count('offers_ignored');
    const theirs = { index: offer.index, port: offer.port };
    const st = this.peers.get(ch.peerId);
    if (!st || st.ch !== ch) {
      this.early.set(ch.peerId, { ch, theirs });
      return this.count('offers_early');
    }
    if (st.theirs) {
      if (st.theirs.index === theirs.index && st.theirs.port === theirs.port) return this.count('offers_ignored');
      this.count('offers_changed');
      this.restart(st);
    }
    st.theirs = theirs;
    this.ready(st);
  }

  /** The path `peer`'s packets take now. */
  route(peer: NodeId): PathChoice {
    return this.peers.get(peer)?.choice ?? 'tcp';
  }

  /**
   * Sends what it can of `packets` as datagrams (peer on 'udp'); returns the rest, for
   * the session (all of them when the peer is on 'tcp'; those over the size limit).
   */
  send(peer: NodeId, packets: readonly Buffer[]): Buffer[] {
    const st = this.peers.get(peer);
    if (!st || st.choice !== 'udp' || !st.path.usable || !st.keys || !st.theirs || !this.socket) return [...packets];
    const rest: Buffer[] = [];
    const out: Buffer[] = [];
    let bytes = 0;
    for (const p of packets) {
      if (p.length > this.maxInner) {
        rest.push(p);
        continue;
      }
      const d = this.sealOne(st, DatagramType.DATA, p);
      if (!d) break; // key exhausted (counted): the rest are lost like any datagram
      out.push(d);
      bytes += p.length;
    }
    if (out.length > 0) {
      this.transmit(st, out);
      st.path.sent();
      this.count('sent', out.length);
      this.count('sent_bytes', bytes);
    }
    return rest;
  }

  /** A datagram from the UDP socket (public for tests and benchmarks). */
  onDatagram(data: Buffer): void {
    const h = readDatagramHeader(data, this.maxInner);
    if (typeof h === 'string') return this.count(h);
    const st = this.byIndex.get(h.index);
    if (!st || !st.keys) return this.count('unknown_index');
    if (!this.opts.isAllowed(st.ch.peerId)) return this.count('not_allowed');
    if (st.window.check(h.counter) !== 'ok') return this.count('replay');
    const plain = openDatagram(st.keys.receive, data);
    if (!plain) return this.count('auth');
    st.window.accept(h.counter);
    st.path.heard();
    if (h.type === DatagramType.DATA) return this.received(st, plain);
    const id = plain.readUInt32BE(0) * 0x1_0000_0000 + plain.readUInt32BE(4);
    if (h.type === DatagramType.PROBE) {
      this.count('probes_answered');
      this.seal(st, DatagramType.PROBE_REPLY, plain);
    } else {
      st.path.probeReply(id);
    }
  }

  /** The peers' path states and choices (for status and tests). */
  paths(): Record<NodeId, { state: PathState; route: PathChoice }> {
    const out: Record<NodeId, { state: PathState; route: PathChoice }> = {};
    for (const [id, st] of this.peers) out[id] = { state: st.path.state, route: st.choice };
    return out;
  }

  close(): void {
    this.closed = true;
    this.opts.clock.clearInterval(this.timer);
    for (const id of [...this.peers.keys()]) this.remove(id);
    this.socket?.close();
    this.socket = null;
  }

  private create(ch: DatagramChannel, host: string): PeerState {
    let ourIndex = this.random32();
    while (ourIndex === 0 || this.byIndex.has(ourIndex)) ourIndex = this.random32();
    // The path's callbacks reach the state through `self` (it is built before the state exists).
    const self: { st?: PeerState } = {};
    const st: PeerState = {
      ch,
      host,
      ourIndex,
      offered: false,
      theirs: null,
      keys: null,
      counter: 0,
      window: new ReplayWindow(),
      path: this.newPath(self),
      policy: new PathPolicy(this.opts.mode),
      choice: 'tcp',
      inbox: [],
    };
    self.st = st;
    this.peers.set(ch.peerId, st);
    this.byIndex.set(ourIndex, st);
    return st;
  }

  private newPath(self: { st?: PeerState }): DatagramPath {
    return new DatagramPath({
      now: () => this.opts.clock.now(),
      sendProbe: (id) => self.st && this.probe(self.st, id),
      onChange: (from, to) => {
        this.count(`path_${to}`);
        if (self.st && (to === 'up' || from === 'up')) this.opts.log.info(`VPN datagram path to ${self.st.ch.peerId} (${self.st.host}) ${to}`);
      },
    });
  }

  /** The peer changed its offer: new keys, a fresh window and path; our index stays. */
  private restart(st: PeerState): void {
    st.keys = null;
    st.counter = 0;
    st.window = new ReplayWindow();
    st.path = this.newPath({ st });
    if (st.choice === 'udp') this.count('route_tcp');
    st.choice = 'tcp';
    st.policy = new PathPolicy(this.opts.mode);
  }

  private remove(peer: NodeId): void {
    const st = this.peers.get(peer);
    if (!st) return;
    this.peers.delete(peer);
    this.byIndex.delete(st.ourIndex);
    if (st.choice === 'udp') this.count('route_tcp');
  }

  /** Both offers known: derive the keys (once); an allowed peer's path starts probing. */
  private ready(st: PeerState): void {
    if (!st.offered || !st.theirs) return;
    if (!st.keys) {
      const first = isFirstNode(this.opts.selfId, st.ch.peerId);
      st.keys = deriveKeys((n, l, c) => st.ch.exportKeyingMaterial?.(n, l, c) ?? null, first, 0, st.ourIndex, st.theirs.index);
      if (!st.keys) return this.count('no_keys');
    }
    if (this.opts.isAllowed(st.ch.peerId)) st.path.start();
  }

  private bound(): Promise<UdpPort | null> {
    this.binding ??= this.opts.bind().then(
      (sock) => {
        if (this.closed) {
          sock.close();
          return null;
        }
        this.socket = sock;
        sock.onMessage(
          (data) => this.onDatagram(data),
          (err) => {
            this.count('read_failed');
            this.opts.log.warn(`VPN datagram socket stopped reading (${errorMessage(err)}); VPN traffic falls back to the sessions`);
          },
        );
        return sock;
      },
      (err: unknown) => {
        this.count('bind_failed');
        this.opts.log.warn(`VPN datagram path unavailable (UDP bind failed: ${errorMessage(err)}); VPN traffic stays on the sessions`);
        return null;
      },
    );
    return this.binding;
  }

  private probe(st: PeerState, id: number): void {
    const body = Buffer.alloc(8);
    body.writeUInt32BE(Math.floor(id / 0x1_0000_0000), 0);
    body.writeUInt32BE(id >>> 0, 4);
    this.count('probes');
    this.seal(st, DatagramType.PROBE, body);
  }

  private seal(st: PeerState, type: DatagramTypeValue, plaintext: Uint8Array): void {
    const d = this.sealOne(st, type, plaintext);
    if (d) this.transmit(st, [d]);
  }

  private sealOne(st: PeerState, type: DatagramTypeValue, plaintext: Uint8Array): Buffer | null {
    if (!st.keys || !st.theirs) return null;
    if (st.counter >= MAX_SEND_COUNTER) {
      this.count('key_exhausted');
      return null;
    }
    return sealDatagram(st.keys.send, type, st.theirs.index, st.counter++, plaintext);
  }

  /** One system call for the batch when the port can (sendMany), else one send each. */
  private transmit(st: PeerState, datagrams: Buffer[]): void {
    const sock = this.socket;
    if (!sock || !st.theirs) return;
    if (datagrams.length > 1 && sock.sendMany) sock.sendMany(datagrams, st.host, st.theirs.port, (n) => this.count('send_errors', n));
    else for (const d of datagrams) sock.send(d, st.host, st.theirs.port, () => this.count('send_errors'));
  }

  private received(st: PeerState, packet: Buffer): void {
    this.count('received');
    st.inbox.push(packet);
    if (st.inbox.length >= MAX_INBOX) return this.flush(st);
    if (st.inbox.length === 1) this.defer(() => this.flush(st));
  }

  private flush(st: PeerState): void {
    if (st.inbox.length === 0) return;
    const batch = st.inbox;
    st.inbox = [];
    if (this.peers.get(st.ch.peerId) === st) this.opts.deliver(st.ch.peerId, batch);
  }

  private tick(): void {
    const now = this.opts.clock.now();
    for (const st of this.peers.values()) {
      if (!this.opts.isAllowed(st.ch.peerId)) {
        st.choice = 'tcp';
        continue;
      }
      st.path.tick();
      const fd = st.ch.socketFd;
      const tcp = fd !== null && fd !== undefined && this.opts.tcpInfo ? this.opts.tcpInfo(fd) : null;
      const choice = st.keys && st.counter < MAX_SEND_COUNTER ? st.policy.decide(now, st.path.usable, tcp, st.window) : 'tcp';
      if (choice !== st.choice) this.count(`route_${choice}`);
      st.choice = choice;
    }
  }

  private count(name: string, by = 1): void {
    this.opts.counters?.inc(`vpn.dgram.${name}`, by);
  }
}
