/**
 * Relaying between two nodes registered at different instances of a cluster.
 *
 * The circuit belongs to the requester's instance (the *owner*): its RelayHub keeps all of
 * the circuit's bookkeeping and limits, exactly as for two local nodes, with the remote
 * target standing in as a {@link RemoteEnd}. What the hub sends to that end travels as a
 * RELAY_DOWN bus message to the target's instance, which keeps only a *proxy*: the mapping
 * between the owner's circuit id and a local id of its own (ids from PROXY_CIRCUIT_BASE up,
 * so they never collide with its hub's), and forwards frames both ways, rewriting the id.
 *
 *   node X --RELAY_OPEN--> A (owner, hub) --RELAY_DOWN INCOMING--> B (proxy) --RELAY_INCOMING--> node Y
 *   node Y --RELAY_ACCEPT/DATA/CREDIT/CLOSE (proxy id)--> B --RELAY_UP (owner's id)--> A --> hub
 *
 * Bounds at the proxy side: proxies per local node (RELAY_MAX_CIRCUITS_PER_NODE) and in
 * all (RELAY_MAX_CIRCUITS); an INCOMING over them is answered RELAY_CLOSE LIMIT. In-flight
 * bytes are bounded by the owner hub's per-direction window. When an instance dies or the
 * store is unreachable, the circuits that cross it close (RELAY_CLOSE GONE) at both ends.
 */
import type { NodeId } from '../api.js';
import { errorMessage } from '../errors.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { RelayEnd, RelayHub } from '../relay/hub.js';
import { RELAY_MAX_CIRCUITS, RELAY_MAX_CIRCUITS_PER_NODE } from '../signaler/limits.js';
import type { Counters } from '../transport/index.js';
import { FrameType, RelayCloseCode, encodeRelayClose } from '../wire/index.js';
import { BusKind, type RelayHop } from './codec.js';

/** Proxy circuit ids start here; a hub allocates from 1 and never gets this far in practice. */
export const PROXY_CIRCUIT_BASE = 0x8000_0000;

/** What the bridge needs from its instance. */
export interface BridgeHost {
  hub: RelayHub;
  counters: Counters;
  log: Logger;
  /** A local node's session (RelayEnd view), if registered here. */
  local(id: NodeId): RelayEnd | undefined;
  /** Whether an instance is alive (and the store reachable). */
  alive(instance: string): boolean;
  /** Publishes a relay hop to an instance. */
  send(instance: string, hop: RelayHop): void;
}

/** The remote target of a circuit owned here. */
class RemoteEnd implements RelayEnd {
  circuit = 0;
  closed = false;
  constructor(
    readonly peerId: NodeId,
    readonly instance: string,
    private readonly bridge: RelayBridge,
  ) {}

  get isClosed(): boolean {
    return this.closed || !this.bridge.host.alive(this.instance);
  }

  send(type: number, payload: Uint8Array): void {
    this.bridge.down(this, type, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  }
}

interface Proxy {
  id: number;
  owner: string;
  circuit: number;
  node: NodeId;
  end: RelayEnd;
}

/**
 * `payload` with its circuit id (first 4 bytes) rewritten, in place: every payload passed
 * here is the bridge's own (a decoded bus message, or a frame a local session just
 * delivered, used by nobody after the handler).
 */
const withCircuit = (payload: Buffer, circuit: number): Buffer => {
  payload.writeUInt32BE(circuit, 0);
  return payload;
};

export class RelayBridge {
  /** Owner side: circuits (owner ids) whose target is at another instance. */
  private readonly remote = new Map<number, RemoteEnd>();
  /** Proxy side, by `<owner>:<owner circuit>` and by proxy id. */
  private readonly byOwner = new Map<string, Proxy>();
  private readonly byId = new Map<number, Proxy>();
  private readonly perNode = new Map<NodeId, number>();
  private nextProxy = PROXY_CIRCUIT_BASE;

  constructor(readonly host: BridgeHost) {}

  /** RELAY_OPEN of local `from` to `target`, registered at `instance`: the hub runs the circuit. */
  open(from: RelayEnd, reqId: number, target: NodeId, instance: string): void {
    this.sweep();
    this.host.hub.open(from, reqId, target, new RemoteEnd(target, instance, this));
  }

  /** Circuits that cross instances (owned here + proxied here), for stats and tests. */
  get size(): { owned: number; proxied: number } {
    return { owned: this.remote.size, proxied: this.byId.size };
  }

  // ---- owner side ----------------------------------------------------------

  /** The hub sends a frame to a remote end. */
  down(end: RemoteEnd, type: number, payload: Buffer): void {
    if (type === FrameType.RELAY_INCOMING) {
      end.circuit = payload.readUInt32BE(0);
      this.remote.set(end.circuit, end);
    }
    this.host.send(end.instance, { kind: BusKind.RELAY_DOWN, node: publicKeyFromNodeId(end.peerId), frameType: type, payload });
    if (type === FrameType.RELAY_CLOSE) this.forget(end);
  }

  /** RELAY_UP from instance `from`: a frame of the remote end of a circuit owned here. */
  up(from: string, hop: RelayHop): void {
    const circuit = hop.payload.readUInt32BE(0);
    const end = this.remote.get(circuit);
    if (!end || end.instance !== from || end.peerId !== nodeIdFromPublicKey(hop.node)) return void this.host.counters.inc('cluster.relay_unknown');
    const hub = this.host.hub;
    try {
      switch (hop.frameType) {
        case FrameType.RELAY_ACCEPT:
          return hub.accept(end, hop.payload);
        case FrameType.RELAY_DATA:
          return hub.data(end, hop.payload);
        case FrameType.RELAY_CREDIT:
          return hub.credit(end, hop.payload);
        case FrameType.RELAY_CLOSE:
          this.forget(end);
          return hub.close(end, hop.payload);
        default:
          this.host.counters.inc('cluster.relay_unknown');
      }
    } catch (err) {
      // A malformed frame from the remote node: close its circuit, as the hub would for a local one.
      this.host.counters.inc('cluster.relay_malformed');
      this.host.log.debug(`relay frame from ${end.peerId} via ${from}: ${errorMessage(err)}`);
      this.gone(end, 'malformed relay frame');
    }
  }

  private forget(end: RemoteEnd): void {
    end.closed = true;
    if (this.remote.get(end.circuit) === end) this.remote.delete(end.circuit);
  }

  /** This end is gone: the hub closes its circuit towards the requester (NOT_FOUND while still opening). */
  private gone(end: RemoteEnd, reason: string): void {
    this.forget(end);
    this.host.hub.endGone(end, reason);
  }

  /** Drops remote ends whose circuit the hub no longer has (closed by timeouts or the local end). */
  sweep(): void {
    for (const [id, end] of this.remote) if (!this.host.hub.hasCircuit(id)) this.forget(end);
  }

  // ---- proxy side ----------------------------------------------------------

  /** RELAY_DOWN from owner instance `from` for a node registered here. */
  downFrom(from: string, hop: RelayHop): void {
    const node = nodeIdFromPublicKey(hop.node);
    const circuit = hop.payload.readUInt32BE(0);
    const key = `${from}:${circuit}`;
    if (hop.frameType === FrameType.RELAY_INCOMING) {
      const end = this.host.local(node);
      if (!end || end.isClosed) return this.refuseUp(from, hop.node, circuit, RelayCloseCode.GONE, `${node} is not registered here any more`);
      const mine = this.perNode.get(node) ?? 0;
      if (mine >= RELAY_MAX_CIRCUITS_PER_NODE || this.byId.size >= RELAY_MAX_CIRCUITS || this.byOwner.has(key)) {
        this.host.counters.inc('relay_refused.proxy_limit');
        return this.refuseUp(from, hop.node, circuit, RelayCloseCode.LIMIT, 'the target has too many relayed circuits; retry later');
      }
      const p: Proxy = { id: this.allocate(), owner: from, circuit, node, end };
      this.byOwner.set(key, p);
      this.byId.set(p.id, p);
      this.perNode.set(node, mine + 1);
      this.host.counters.inc('cluster.relay_proxied');
      return void end.send(hop.frameType, withCircuit(hop.payload, p.id));
    }
    const p = this.byOwner.get(key);
    if (!p || p.node !== node) return void this.host.counters.inc('cluster.relay_unknown');
    if (hop.frameType === FrameType.RELAY_CLOSE) this.drop(p);
    if (!p.end.isClosed) p.end.send(hop.frameType, withCircuit(hop.payload, p.id));
  }

  /** Whether a frame a local session sent is for a proxied circuit (then handled here). */
  isProxy(circuit: number): boolean {
    return circuit >= PROXY_CIRCUIT_BASE;
  }

  /** RELAY_ACCEPT / DATA / CREDIT / CLOSE from a local session on a proxy id. */
  fromLocal(s: RelayEnd, type: number, payload: Buffer): void {
    if (payload.length < 4) return void this.host.counters.inc('cluster.relay_malformed');
    const id = payload.readUInt32BE(0);
    const p = this.byId.get(id);
    if (!p || p.end !== s) {
      this.host.counters.inc(`relay_refused.${p ? 'not_member' : 'unknown_circuit'}`);
      if (type !== FrameType.RELAY_CLOSE) s.send(FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: id, code: RelayCloseCode.PROTOCOL, reason: 'not your circuit' }));
      return;
    }
    if (type === FrameType.RELAY_CLOSE) this.drop(p);
    this.host.send(p.owner, { kind: BusKind.RELAY_UP, node: publicKeyFromNodeId(p.node), frameType: type, payload: withCircuit(payload, p.circuit) });
  }

  private refuseUp(owner: string, node: Uint8Array, circuit: number, code: number, reason: string): void {
    this.host.send(owner, { kind: BusKind.RELAY_UP, node, frameType: FrameType.RELAY_CLOSE, payload: encodeRelayClose({ circuit, code, reason }) });
  }

  private drop(p: Proxy): void {
    if (this.byId.get(p.id) !== p) return;
    this.byId.delete(p.id);
    this.byOwner.delete(`${p.owner}:${p.circuit}`);
    const n = (this.perNode.get(p.node) ?? 1) - 1;
    if (n > 0) this.perNode.set(p.node, n);
    else this.perNode.delete(p.node);
  }

  private allocate(): number {
    for (;;) {
      const id = this.nextProxy;
      this.nextProxy = id >= 0xffff_ffff ? PROXY_CIRCUIT_BASE : id + 1;
      if (!this.byId.has(id)) return id;
    }
  }

  // ---- failures ------------------------------------------------------------

  /** A local node's session ended: its proxied circuits close at their owners. */
  sessionDown(node: NodeId): void {
    if (!this.perNode.has(node)) return;
    for (const p of [...this.byId.values()]) {
      if (p.node !== node) continue;
      this.drop(p);
      this.refuseUp(p.owner, publicKeyFromNodeId(node), p.circuit, RelayCloseCode.GONE, 'the other end left the relay');
    }
  }

  /** Instances gone (or, with `all`, the store unreachable): every circuit crossing them closes. */
  instancesGone(gone: (instance: string) => boolean): void {
    for (const end of [...this.remote.values()]) if (gone(end.instance)) this.gone(end, 'the relay instance of the other end is gone');
    for (const p of [...this.byId.values()]) {
      if (!gone(p.owner)) continue;
      this.drop(p);
      if (!p.end.isClosed) p.end.send(FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: p.id, code: RelayCloseCode.GONE, reason: 'the relay instance of the other end is gone' }));
    }
  }
}
