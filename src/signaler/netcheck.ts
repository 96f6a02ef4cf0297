/**
 * The signaler's side of netcheck (docs/PROTOCOL.md "Netcheck"):
 *
 * - the **probe port** (`sentinel-signaler --probe-port`, default port + 1, 0 = off): plain
 *   TCP; each connection gets one OBSERVED answer (the source address and port it came
 *   from) and is closed. A node connects there from its identity port: a second
 *   observation of its NAT mapping, towards another destination port than its signaler
 *   session. Per source IP rate and a cap on open connections bound what anyone spends.
 * - the **filtering test**: on NETCHECK_REQUEST with the filtering flag, the signaler
 *   connects from an ephemeral port to the requester's *observed* address (the session's
 *   remote address; the request names no target, so the signaler can never be aimed at a
 *   third party) and reports connected / reset / unreachable / timeout. Bounded per node,
 *   per public IP, in flight, and by the connect timeout.
 */
import net from 'node:net';
import type { Clock, Counters, Session } from '../transport/index.js';
import { normalizeHost } from '../core/host-port.js';
import { TokenBucket, type Rate } from '../core/rate.js';
import { KeyedRate } from '../core/lru-rate.js';
import { SentinelError, errorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { FrameType, NETCHECK_FLAG_FILTERING, ProbeOutcome, decodeNetcheckRequest, encodeNetcheckResult, encodeObserved, type Endpoint, type ProbeOutcomeValue } from '../wire/index.js';
import {
  NETCHECK_CONNECT_TIMEOUT_MS,
  NETCHECK_IP_RATE,
  NETCHECK_MAX_IN_FLIGHT,
  NETCHECK_MAX_IPS,
  NETCHECK_NODE_RATE,
  OBSERVE_IDLE_MS,
  OBSERVE_IP_RATE,
  OBSERVE_MAX_CONNECTIONS,
  OBSERVE_TOTAL_RATE,
} from './limits.js';
import { prefix64 } from './claims.js';

/** Bounds of {@link SignalerNetcheck}; defaults from limits.ts. */
export interface NetcheckLimits {
  nodeRate: Rate;
  ipRate: Rate;
  maxIps: number;
  maxInFlight: number;
  connectTimeoutMs: number;
  observeIpRate: Rate;
  observeTotalRate: Rate;
  observeMaxConnections: number;
  observeIdleMs: number;
}

export const DEFAULT_NETCHECK_LIMITS: NetcheckLimits = {
  nodeRate: NETCHECK_NODE_RATE,
  ipRate: NETCHECK_IP_RATE,
  maxIps: NETCHECK_MAX_IPS,
  maxInFlight: NETCHECK_MAX_IN_FLIGHT,
  connectTimeoutMs: NETCHECK_CONNECT_TIMEOUT_MS,
  observeIpRate: OBSERVE_IP_RATE,
  observeTotalRate: OBSERVE_TOTAL_RATE,
  observeMaxConnections: OBSERVE_MAX_CONNECTIONS,
  observeIdleMs: OBSERVE_IDLE_MS,
};

/** A TCP connect attempt's outcome, as the filtering test reports it. */
export type ConnectProbe = (host: string, port: number, timeoutMs: number) => Promise<ProbeOutcomeValue>;

/** Connect errors that mean an ICMP error came back (not a reset, not silence). */
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EACCES', 'EPERM']);

/** The real filtering test: one TCP connect from an ephemeral port, closed at once. */
export const tcpProbe: ConnectProbe = (host, port, timeoutMs) =>
  new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (o: ProbeOutcomeValue): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done(ProbeOutcome.TIMEOUT), timeoutMs);
    sock.once('connect', () => done(ProbeOutcome.CONNECTED));
    sock.once('error', (err) => {
      const code = errorCode(err) ?? '';
      done(code === 'ECONNREFUSED' ? ProbeOutcome.RESET : UNREACHABLE.has(code) ? ProbeOutcome.UNREACHABLE : ProbeOutcome.TIMEOUT);
    });
  });

export interface SignalerNetcheckOptions {
  clock: Clock;
  counters: Counters;
  limits?: Partial<NetcheckLimits>;
  /** The filtering test's connect (default {@link tcpProbe}). */
  connect?: ConnectProbe;
  /** The signaler's global IPv6 addresses to offer for the IPv6 check (default none). */
  addresses6?: () => readonly string[];
}

export class SignalerNetcheck {
  readonly limits: NetcheckLimits;
  private server: net.Server | undefined;
  private probePort = 0;
  private open = 0;
  private readonly sockets = new Set<net.Socket>();
  private inFlight = 0;
  private readonly nodeBuckets = new WeakMap<Session, TokenBucket>();
  private readonly ipRate: KeyedRate;
  private readonly observeRate: KeyedRate;
  private readonly observeTotal: TokenBucket;
  private readonly connect: ConnectProbe;

  constructor(private readonly opts: SignalerNetcheckOptions) {
    this.limits = { ...DEFAULT_NETCHECK_LIMITS, ...opts.limits };
    this.ipRate = new KeyedRate(this.limits.ipRate, this.limits.maxIps);
    this.observeRate = new KeyedRate(this.limits.observeIpRate, this.limits.maxIps);
    this.observeTotal = new TokenBucket(this.limits.observeTotalRate.perSecond, this.limits.observeTotalRate.burst, opts.clock.now());
    this.connect = opts.connect ?? tcpProbe;
  }

  /** The probe port, 0 when off. */
  get port(): number {
    return this.probePort;
  }

  /**
   * Start the probe port. In use: E_PORT_IN_USE, or, when `optional` (the default port + 1
   * nobody asked for), a warning and no probe port: the signaler itself must still start.
   */
  async start(port: number, host: string | undefined, optional: boolean, log: Logger): Promise<number> {
    try {
      return await this.listen(port, host);
    } catch (err) {
      if (errorCode(err) !== 'EADDRINUSE') throw err;
      const text = `netcheck probe port ${port} is already in use`;
      if (!optional) throw new SentinelError('E_PORT_IN_USE', `${text}: choose another with --probe-port PORT, or --probe-port off`, { cause: err });
      log.warn(`${text}; running without it (sentinel netcheck cannot tell the NAT mapping): give --probe-port PORT`);
      return 0;
    }
  }

  /** Start the probe port listener (`port` 0 picks a free one); returns the bound port. */
  async listen(port: number, host?: string): Promise<number> {
    const server = net.createServer((sock) => this.observe(sock));
    server.maxConnections = this.limits.observeMaxConnections + 1;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: host ?? '::', ipv6Only: false }, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.probePort = (server.address() as net.AddressInfo).port;
    return this.probePort;
  }

  private observe(sock: net.Socket): void {
    sock.on('error', () => {});
    const host = normalizeHost(sock.remoteAddress ?? '');
    const port = sock.remotePort ?? 0;
    if (this.open >= this.limits.observeMaxConnections) return this.refuse(sock, 'observe_busy');
    if (!net.isIP(host) || port === 0) return this.refuse(sock, 'observe_bad_source');
    const now = this.opts.clock.now();
    // IPv6 sources by /64: one subscriber holds a whole /64.
    if (!this.observeRate.take(net.isIPv6(host) ? prefix64(host) : host, now)) return this.refuse(sock, 'observe_ip');
    if (!this.observeTotal.take(now)) return this.refuse(sock, 'observe_total');
    this.open++;
    this.sockets.add(sock);
    const timer = setTimeout(() => sock.destroy(), this.limits.observeIdleMs);
    sock.once('close', () => {
      clearTimeout(timer);
      this.sockets.delete(sock);
      this.open--;
    });
    this.opts.counters.inc('netcheck.observed');
    // Anything the client sends is ignored: the answer depends only on where it came from.
    sock.on('data', () => {});
    sock.end(encodeObserved({ host, port }));
  }

  private refuse(sock: net.Socket, reason: string): void {
    this.opts.counters.inc(`netcheck_refused.${reason}`);
    sock.destroy();
  }

  /**
   * A NETCHECK_REQUEST from the registered session `s`, seen at `observed`. Answers
   * NETCHECK_RESULT, after the filtering test when asked for and within the limits.
   */
  async onRequest(s: Session, payload: Buffer, observed: Endpoint): Promise<void> {
    const m = decodeNetcheckRequest(payload);
    this.opts.counters.inc('netcheck.requests');
    let inbound: ProbeOutcomeValue = ProbeOutcome.NOT_TESTED;
    if ((m.flags & NETCHECK_FLAG_FILTERING) !== 0 && this.probePort !== 0) inbound = await this.filtering(s, observed);
    if (s.isClosed) return;
    const probe6 = this.probePort === 0 ? [] : (this.opts.addresses6?.() ?? []).slice(0, 2).map((host) => ({ host, port: this.probePort }));
    s.send(FrameType.NETCHECK_RESULT, encodeNetcheckResult({ reqId: m.reqId, probePort: this.probePort, inbound, probe6 }));
  }

  /** The filtering test towards `observed`, within the limits (LIMITED when over them, counted). */
  private async filtering(s: Session, observed: Endpoint): Promise<ProbeOutcomeValue> {
    const now = this.opts.clock.now();
    let node = this.nodeBuckets.get(s);
    if (!node) this.nodeBuckets.set(s, (node = new TokenBucket(this.limits.nodeRate.perSecond, this.limits.nodeRate.burst, now)));
    // Cheapest refusal first, so a refused request spends nothing of the shared budgets.
    if (this.inFlight >= this.limits.maxInFlight) return this.limited('busy');
    if (!node.canTake(now)) return this.limited('node');
    if (!this.ipRate.take(net.isIPv6(observed.host) ? prefix64(observed.host) : observed.host, now)) return this.limited('ip');
    node.take(now);
    this.inFlight++;
    try {
      const outcome = await this.connect(observed.host, observed.port, this.limits.connectTimeoutMs);
      this.opts.counters.inc(`netcheck.inbound_${outcome}`);
      return outcome;
    } finally {
      this.inFlight--;
    }
  }

  private limited(reason: string): ProbeOutcomeValue {
    this.opts.counters.inc(`netcheck_refused.${reason}`);
    return ProbeOutcome.LIMITED;
  }

  /** Filtering tests in progress and probe-port connections open, for tests and status. */
  get load(): { inFlight: number; open: number } {
    return { inFlight: this.inFlight, open: this.open };
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.probePort = 0;
    if (!server) return Promise.resolve();
    for (const sock of this.sockets) sock.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
