/**
 * Relaying on a node, in one place: the peer relay this node offers (`--relay`,
 * peer-server.ts) or the peer relays it uses (peer-client.ts), the signaler's relay, and
 * what `status` shows of them. node.ts builds one and wires it to the frame router, the
 * session lifecycle, the dial chain (`routes`) and the HELLO/record flags.
 *
 * Relay frames on a session with a peer go to the server when this node is a relay and to
 * the client otherwise: a node is never both, so one session never carries circuits of
 * both directions and a circuit id always has one meaning.
 */
import type { NodeId, RelayStatus } from '../api.js';
import { SentinelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Trust } from '../store/types.js';
import { formatHostPort, type Clock, type Counters, type Session } from '../transport/index.js';
import type { FrameRouter } from '../transport/router.js';
import { FrameType, HELLO_FLAG_RELAY, RECORD_FLAG_RELAY } from '../wire/index.js';
import type { CircuitStream } from './circuit.js';
import type { RelayOffers } from './incoming.js';
import { PeerRelayClient } from './peer-client.js';
import { PeerRelayServer, peerRelayLimits, type RelayMode } from './peer-server.js';

/** A relay the dial chain may use (connect/dialer.ts RelayRoute). */
export interface RelayRouteLike {
  label: string;
  open(target: NodeId): Promise<CircuitStream & { remoteAddress?: string }>;
}

/** The signaler as a relay: what the service needs of SignalerClient. */
export interface SignalerRelay {
  readonly canRelay: boolean;
  readonly relayLabel: string;
  readonly relayLimits: { maxCircuits: number; bytesPerSecond: number; idleTimeoutS: number } | null;
  openRelay(target: NodeId): Promise<CircuitStream>;
}

export interface RelayServiceOptions {
  /** `--relay`: offer relaying, and to whom; absent: use peer relays. */
  offer?: { mode: RelayMode; bytesPerSecond?: number } | null;
  trust(id: NodeId): Trust;
  signaler(): SignalerRelay | undefined;
  /**
   * Whether this node is reachable from the internet (for the record flag), or why not.
   * Only asked when offering.
   */
  reachable(): true | string;
  onIncoming(relay: RelayOffers, circuit: number, peer: NodeId): void;
  clock: Clock;
  counters: Counters;
  log: Logger;
  /** Hub limits for tests (timeouts). */
  hubLimits?: ConstructorParameters<typeof PeerRelayServer>[0]['hubLimits'];
}

/** Frame types a relay receives from its nodes. */
const TO_RELAY = [FrameType.RELAY_BIND, FrameType.RELAY_OPEN, FrameType.RELAY_ACCEPT] as const;
/** Frame types a node receives from its relay. */
const TO_NODE = [FrameType.RELAY_BOUND, FrameType.RELAY_OPENED, FrameType.RELAY_INCOMING, FrameType.SIGNAL_ERROR] as const;
/** Both ways. */
const CIRCUIT = [FrameType.RELAY_DATA, FrameType.RELAY_CREDIT, FrameType.RELAY_CLOSE] as const;

export class RelayService {
  readonly server: PeerRelayServer | undefined;
  readonly client: PeerRelayClient | undefined;

  constructor(private readonly opts: RelayServiceOptions) {
    const offer = opts.offer;
    if (offer) {
      this.server = new PeerRelayServer({ mode: offer.mode, trust: opts.trust, clock: opts.clock, counters: opts.counters, limits: peerRelayLimits(offer.bytesPerSecond), ...(opts.hubLimits ? { hubLimits: opts.hubLimits } : {}) });
    } else {
      this.client = new PeerRelayClient({ clock: opts.clock, counters: opts.counters, log: opts.log, isContact: (id) => opts.trust(id) === 'contact', onIncoming: opts.onIncoming });
    }
  }

  /** Registers the relay frame types with the node's router. */
  register(router: FrameRouter): void {
    const server = this.server;
    const client = this.client;
    for (const type of [...TO_RELAY, ...TO_NODE, ...CIRCUIT]) {
      router.on(type, (s, payload) => {
        if (server) {
          if (!server.onFrame(s, type, payload)) throw new SentinelError('E_PROTOCOL', 'relay answer sent to a node that is a relay');
        } else if (client) client.onFrame(s, type, payload);
      });
    }
  }

  /** HELLO flags for a session with `peer`: the relay flag when we relay for it. */
  helloFlags(peer: NodeId): number {
    return this.server?.serves(peer) ? HELLO_FLAG_RELAY : 0;
  }

  /** Flags of our signed peer record: the relay flag when we offer relaying and are reachable. */
  recordFlags(): number {
    return this.server && this.opts.reachable() === true ? RECORD_FLAG_RELAY : 0;
  }

  onSessionUp(s: Session, replaced: boolean): void {
    if (replaced) this.server?.sessionDown(s.peerId, s);
    this.client?.onSessionUp(s);
  }

  onSessionDown(id: NodeId): void {
    this.server?.sessionDown(id);
    this.client?.onSessionDown(id);
  }

  trustChanged(id: NodeId): void {
    this.server?.trustChanged(id);
    this.client?.trustChanged(id);
  }

  /** Relays for reaching `target`, in the order to try: peer relays by RTT, then the signaler. */
  routes(target: NodeId): RelayRouteLike[] {
    const out: RelayRouteLike[] = [...(this.client?.routes(target) ?? [])];
    const s = this.opts.signaler();
    if (s?.canRelay) out.push({ label: s.relayLabel, open: (id) => s.openRelay(id) });
    return out;
  }

  status(): RelayStatus {
    const s = this.opts.signaler();
    const server = this.server;
    let offering: RelayStatus['offering'] = null;
    if (server) {
      const st = server.stats();
      const reach = this.opts.reachable();
      offering = {
        mode: st.mode,
        advertised: reach === true,
        reason: reach === true ? null : reach,
        limits: {
          maxBound: st.limits.maxBound,
          maxBoundStrangers: st.limits.maxBoundStrangers,
          maxCircuits: st.limits.maxCircuits,
          circuitsPerContact: st.limits.contact.maxCircuitsPerNode,
          circuitsPerStranger: st.limits.stranger.maxCircuitsPerNode,
          bytesPerSecondPerContact: st.limits.contact.bytesPerSecond,
          bytesPerSecondPerStranger: st.limits.stranger.bytesPerSecond,
          idleTimeoutMs: st.idleTimeoutMs,
        },
        bound: st.bound,
        boundStrangers: st.boundStrangers,
        circuits: st.circuits,
        pending: st.pending,
        bytes: st.bytes,
        throttled: st.throttled,
        queuedBytes: st.queuedBytes,
        refused: st.refused,
      };
    }
    return {
      signaler: { available: s?.canRelay ?? false, label: s ? s.relayLabel : null, limits: s?.relayLimits ?? null },
      peers: this.client?.info() ?? [],
      offering,
    };
  }

  close(): void {
    this.server?.dispose();
    this.client?.close();
  }
}

/**
 * Whether a node offering relaying is reachable from the internet (then its record says
 * so): without a signaler we cannot tell and assume so (a LAN); with one, when the address
 * the signaler observes is one of our own (no NAT in between). Otherwise why not.
 */
export function relayReachable(hasSignaler: boolean, observed: { host: string; port: number } | null | undefined, locals: readonly { host: string }[]): true | string {
  if (!hasSignaler) return true;
  if (!observed) return 'public address not known yet (the signaler has not answered)';
  return locals.some((e) => e.host === observed.host) ? true : `behind NAT (the signaler sees ${formatHostPort(observed.host, observed.port)})`;
}
