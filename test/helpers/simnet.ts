/**
 * A simulated network for tests of how nodes reach each other, without root or sockets:
 * each node is the real connection manager, dialer, upgrader and relay acceptor (real TLS
 * 1.3, real sessions), and only the network is simulated, on memory pipes
 * (src/transports/memory.ts) and one fake clock:
 *
 *   direct    A connects to B's `host:port` unless `blockDirect(A, B)` (a NAT or a firewall
 *             in the way; `openDirect` lifts it, e.g. a port forward added later)
 *   punch     a stand-in for the punch coordinator: both ends adopt one pipe as a punched
 *             connection (preamble, TLS roles by id) unless `cannotPunch(A, B)`; a node that
 *             is not `registered` is unknown to the signaler
 *   relays    named relays each node may use, in the order it lists them; a relay that is
 *             `down` refuses every circuit; the target's RelayAcceptor accepts or declines
 *
 * Dropped connects are refused at once (no timeouts to wait out): tests move the fake
 * clock only for timed logic such as the upgrade to a direct path.
 */
import type { DialProgress, NodeId } from '../../src/api.js';
import { Dialer } from '../../src/connect/dialer.js';
import { SentinelError } from '../../src/errors.js';
import { generateIdentity, type Identity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { DEFAULT_LIMITS } from '../../src/node-options.js';
import { DialBudget } from '../../src/peers/dial-budget.js';
import { PeerDirectory } from '../../src/peers/directory.js';
import { PeerLifecycle } from '../../src/peers/lifecycle.js';
import { RelayAcceptor } from '../../src/relay/incoming.js';
import { DirectUpgrader } from '../../src/relay/upgrade.js';
import { MemoryStore } from '../../src/store/index.js';
import { ConnectionManager, Counters, formatHostPort, type Session } from '../../src/transport/index.js';
import { MemoryNetwork, pipePair, type Puncher, type RelayRoute } from '../../src/transports/index.js';
import { fakeClock, type FakeClock } from './fake-clock.js';

/** The port every simulated node listens on (each has its own host). */
export const SIM_PORT = 7000;

const silent = createLogger('silent', () => {});

export interface SimNodeOptions {
  /** Hole punching available (the signaler and the addon are there). Default true. */
  punch?: boolean;
  /** Known to the signaler (punching and the signaler's relay can find it). Default true. */
  registered?: boolean;
}

/** A session coming up or going down, as a node saw it. */
export interface SimEvent {
  type: 'up' | 'down';
  peer: NodeId;
  method?: Session['method'];
}

export class SimRelay {
  /** Circuits asked of this relay. */
  opens = 0;
  /** Refuses every circuit (a relay at its limits, or one that does not relay). */
  down = false;
  private nextCircuit = 1;

  constructor(
    readonly name: string,
    private readonly net: SimNet,
  ) {}

  get label(): string {
    return `${this.name} at sim`;
  }

  /** The route `from` uses to reach others through this relay. */
  route(from: SimNode): RelayRoute {
    return {
      label: this.label,
      open: (target) => {
        this.opens++;
        if (this.down) return Promise.reject(new SentinelError('E_DIAL_FAILED', `relay ${this.label}: circuit limit reached`));
        const peer = this.net.byId(target);
        if (!peer?.registered) return Promise.reject(new SentinelError('E_UNKNOWN_ID', `${target} is not registered`));
        return new Promise((resolve, reject) => {
          const circuit = this.nextCircuit++;
          const end = { host: `relay ${this.label}`, port: 0 };
          peer.relayAcceptor.offer(
            {
              acceptRelay: () => {
                const [ours, theirs] = pipePair(end, end);
                resolve(ours);
                return theirs;
              },
              declineRelay: (_c, reason) => reject(new SentinelError('E_REFUSED', `relay ${this.label}: the target declined (${reason})`)),
            },
            circuit,
            from.id,
          );
        });
      },
    };
  }
}

export class SimNode {
  readonly identity: Identity;
  readonly counters = new Counters();
  readonly directory: PeerDirectory;
  readonly manager: ConnectionManager;
  readonly dialer: Dialer;
  readonly upgrader: DirectUpgrader;
  readonly relayAcceptor: RelayAcceptor;
  readonly events: SimEvent[] = [];
  /** Relays this node may use, in the order it tries them. */
  relays: SimRelay[] = [];
  punchEnabled: boolean;
  registered: boolean;
  /** Punches this node asked for. */
  punches = 0;

  constructor(
    readonly host: string,
    private readonly net: SimNet,
    o: SimNodeOptions,
  ) {
    const { clock } = net;
    this.identity = generateIdentity();
    this.punchEnabled = o.punch ?? true;
    this.registered = o.registered ?? true;
    this.directory = new PeerDirectory({ store: new MemoryStore(), clock, log: silent, counters: this.counters, wasChosen: () => true });
    const lifecycle = new PeerLifecycle(silent);
    this.manager = new ConnectionManager({
      identity: this.identity,
      clock,
      counters: this.counters,
      limits: DEFAULT_LIMITS,
      classify: (id) => this.directory.trustOf(id),
      localHello: () => ({ listenPort: SIM_PORT, name: host }),
      events: {
        onSessionUp: (s, replaced) => lifecycle.onSessionUp(s, replaced),
        onSessionDown: (id, reason) => lifecycle.onSessionDown(id, reason),
        onFrame: () => {},
        onHello: (s, hello) => lifecycle.onHello(s, hello),
        log: () => {},
      },
    });
    this.dialer = new Dialer({
      manager: this.manager,
      directory: this.directory,
      budget: new DialBudget(clock.now()),
      clock,
      counters: this.counters,
      log: silent,
      direct: net.memory.transport(host),
      punch: () => (this.punchEnabled ? this.puncher : 'addon disabled'),
      relays: () => this.relays.map((r) => r.route(this)),
    });
    this.upgrader = new DirectUpgrader({
      self: this.identity.id,
      clock,
      counters: this.counters,
      log: silent,
      random: () => 0,
      tryDirect: async (id) => (await this.dialer.dialId(id, () => {}, false, { directOnly: true })).session,
      relayed: (id) => this.manager.session(id)?.method === 'relay',
    });
    this.relayAcceptor = new RelayAcceptor({
      adopt: (stream, peer) => this.manager.adoptRelayed(stream, peer, 'server'),
      isBlocked: (id) => this.directory.isBlocked(id),
      counters: this.counters,
      log: silent,
    });
    lifecycle.add(this.upgrader).add({
      onSessionUp: (s) => this.events.push({ type: 'up', peer: s.peerId, method: s.method }),
      onSessionDown: (peer) => this.events.push({ type: 'down', peer }),
    });
    net.memory.listen(host, SIM_PORT, (stream) => this.manager.accept(stream));
  }

  get id(): NodeId {
    return this.identity.id;
  }

  get address(): string {
    return formatHostPort(this.host, SIM_PORT);
  }

  /** This node learns `other`'s address (as gossip or a past session would teach it). */
  learn(other: SimNode): void {
    this.directory.observe(other.id, { learned: [other.address] });
  }

  /** A dial by id, as the user asks for it; `stages` collects the progress stages. */
  dial(other: SimNode, stages: DialProgress['stage'][] = []): Promise<Session> {
    return this.dialer.dialId(other.id, (stage) => stages.push(stage), true).then((r) => r.session);
  }

  /** The active session with `other`, if any. */
  session(other: SimNode): Session | undefined {
    return this.manager.session(other.id);
  }

  /** The stand-in for the punch coordinator. */
  private readonly puncher: Puncher = {
    punchTo: async (id, progress) => {
      this.punches++;
      progress({ stage: 'looking-up', message: `asking the signaler to coordinate with ${id}` });
      const peer = this.net.byId(id);
      if (!this.registered || !peer?.registered) {
        throw new SentinelError('E_DIAL_FAILED', `${id} is not registered with the signaler`, { cause: new SentinelError('E_UNKNOWN_ID') });
      }
      progress({ stage: 'punching', message: `punching to ${peer.address}` });
      if (this.net.punchBlocked(this, peer)) throw new SentinelError('E_DIAL_FAILED', `hole punching to ${id} timed out`);
      const [ours, theirs] = pipePair({ host: this.host, port: SIM_PORT }, { host: peer.host, port: SIM_PORT });
      // The peer punches back (its PUNCH_START): both ends adopt the same connection.
      peer.manager.adoptPunched(theirs, this.id).catch(() => {});
      return this.manager.adoptPunched(ours, id);
    },
  };

  async close(): Promise<void> {
    this.upgrader.close();
    await this.manager.close();
    await this.directory.close();
  }
}

export class SimNet {
  readonly clock: FakeClock = fakeClock(1_000_000);
  readonly memory: MemoryNetwork;
  private readonly nodes: SimNode[] = [];
  private readonly blocked = new Set<string>();
  private readonly noPunch = new Set<string>();

  constructor() {
    this.memory = new MemoryNetwork({ reachable: (from, to) => !this.blocked.has(`${from}>${to.replace(/:\d+$/, '')}`) });
  }

  /** A node on its own host (10.0.0.<n>). */
  node(o: SimNodeOptions = {}): SimNode {
    const n = new SimNode(`10.0.0.${this.nodes.length + 1}`, this, o);
    this.nodes.push(n);
    return n;
  }

  relay(name: string): SimRelay {
    return new SimRelay(name, this);
  }

  byId(id: NodeId): SimNode | undefined {
    return this.nodes.find((n) => n.id === id);
  }

  /** Direct connections from `a` to `b` (and back, unless `oneWay`) are dropped. */
  blockDirect(a: SimNode, b: SimNode, oneWay = false): void {
    this.blocked.add(`${a.host}>${b.host}`);
    if (!oneWay) this.blocked.add(`${b.host}>${a.host}`);
  }

  openDirect(a: SimNode, b: SimNode): void {
    this.blocked.delete(`${a.host}>${b.host}`);
    this.blocked.delete(`${b.host}>${a.host}`);
  }

  /** Hole punching between `a` and `b` fails (e.g. two port-randomizing NATs). */
  cannotPunch(a: SimNode, b: SimNode): void {
    this.noPunch.add([a.host, b.host].sort().join('|'));
  }

  punchBlocked(a: SimNode, b: SimNode): boolean {
    return this.noPunch.has([a.host, b.host].sort().join('|'));
  }

  /**
   * Lets in-flight I/O run (no clock time passes) until `cond` holds; throws with `what`
   * when it never does. Handshakes on memory pipes need only event-loop turns.
   */
  async until(cond: () => boolean, what: string): Promise<void> {
    for (let turn = 0; turn < 2_000; turn++) {
      if (cond()) return;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`simnet: never happened: ${what}`);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }
}
