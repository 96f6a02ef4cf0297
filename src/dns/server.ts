/**
 * The DNS responder's sockets: UDP and TCP on one address and port. Each query is admitted
 * by the rate limiter, answered by `answer` (resolver.ts) and counted; every resource a
 * client can make us spend is bounded (limits.ts): query size, rates per source and in
 * all, TCP connections in all and per source, idle time and queries per connection, and
 * unsent answer bytes.
 *
 * Counters (in `sentinel status`): `dns.queries.{udp,tcp}`, one per outcome (`dns.answer`,
 * `dns.nxdomain`, `dns.refused`, `dns.formerr`, ... with the reason as a suffix, e.g.
 * `dns.refused.outside_zone`), `dns.truncated`, `dns.rate_limited.{source,total}`,
 * `dns.too_large`, `dns.tcp.{refused.total,refused.source,idle_closed,slow_reader,
 * query_limit}`, `dns.send_errors`.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Clock } from '../core/clock.js';
import { SentinelError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { frameTcp, TcpDnsFramer } from './framing.js';
import { DEFAULT_DNS_LIMITS, type DnsLimits } from './limits.js';
import { QueryRateLimiter } from './rate.js';
import type { DnsReply, QueryContext } from './resolver.js';

export interface DnsServerOptions {
  host: string;
  /** 0: any free port (tests). */
  port: number;
  /** Answers one query (resolver.ts answerQuery with the node's names). */
  answer(query: Buffer, ctx: QueryContext): DnsReply;
  /** Whether queries from `address` are answered (else REFUSED). */
  isAllowedSource(address: string): boolean;
  clock: Clock;
  counters: { inc(name: string, by?: number): void };
  log: Logger;
  limits?: Partial<DnsLimits>;
}

/** A running responder; {@link close} stops it. */
export class DnsServer {
  private readonly limits: DnsLimits;
  private readonly rate: QueryRateLimiter;
  private readonly open = new Set<Socket>();
  private readonly perSource = new Map<string, number>();
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private boundPort = 0;

  private constructor(private readonly opts: DnsServerOptions) {
    this.limits = { ...DEFAULT_DNS_LIMITS, ...opts.limits };
    this.rate = new QueryRateLimiter(this.limits.perSource, this.limits.total, this.limits.maxTrackedSources, opts.clock.now());
  }

  /**
   * Binds UDP and TCP on `host:port` (the TCP port is the UDP one when `port` is 0).
   * E_PORT_IN_USE when either is taken; any other bind error as it comes.
   */
  static async start(opts: DnsServerOptions): Promise<DnsServer> {
    const s = new DnsServer(opts);
    try {
      await s.bindUdp();
      await s.listenTcp();
    } catch (err) {
      await s.close();
      if (errorCode(err) === 'EADDRINUSE') throw new SentinelError('E_PORT_IN_USE', `DNS ${opts.host}:${opts.port}`, { cause: err });
      throw err;
    }
    return s;
  }

  /** The address and port answered on. */
  get address(): { host: string; port: number } {
    return { host: this.opts.host, port: this.boundPort };
  }

  /** TCP connections open now. */
  get tcpConnections(): number {
    return this.open.size;
  }

  /** Stops both sockets and closes every TCP connection. Idempotent. */
  async close(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const c of this.open) c.destroy();
    await Promise.all([
      udp && new Promise<void>((r) => udp.close(() => r())),
      tcp && new Promise<void>((r) => tcp.close(() => r())),
    ]);
  }

  private count(name: string): void {
    this.opts.counters.inc(`dns.${name}`);
  }

  private bindUdp(): Promise<void> {
    const udp = createSocket({ type: isIPv6(this.opts.host) ? 'udp6' : 'udp4' });
    this.udp = udp;
    udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo.address, rinfo.port));
    return new Promise((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.opts.port, this.opts.host, () => {
        udp.off('error', reject);
        // Later socket errors are not fatal: a query is lost, the responder goes on.
        udp.on('error', (err) => this.opts.log.debug(`DNS UDP: ${errorMessage(err)}`));
        this.boundPort = udp.address().port;
        resolve();
      });
    });
  }

  private listenTcp(): Promise<void> {
    const tcp = createServer((c) => this.onConnection(c));
    this.tcp = tcp;
    return new Promise((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.boundPort, this.opts.host, () => {
        tcp.off('error', reject);
        tcp.on('error', (err) => this.opts.log.warn(`DNS TCP: ${errorMessage(err)}`));
        resolve();
      });
    });
  }

  /** Admits, answers and counts one query; the reply to send, if any. */
  private handle(query: Buffer, source: string, transport: QueryContext['transport']): Buffer | null | 'rate_limited' {
    this.count(`queries.${transport}`);
    if (query.length > this.limits.maxQueryBytes) {
      this.count('too_large');
      return null;
    }
    const refused = this.rate.admit(source, this.opts.clock.now());
    if (refused) {
      this.count(`rate_limited.${refused}`);
      return 'rate_limited';
    }
    const r = this.opts.answer(query, { transport, allowed: this.opts.isAllowedSource(unmapped(source)) });
    this.count(r.outcome);
    if (r.reason !== undefined) this.count(`${r.outcome}.${r.reason}`);
    if (r.truncated) this.count('truncated');
    return r.response;
  }

  private onUdp(udp: UdpSocket, msg: Buffer, host: string, port: number): void {
    const out = this.handle(msg, host, 'udp');
    if (!(out instanceof Buffer)) return;
    udp.send(out, port, host, (err) => {
      if (err) this.count('send_errors');
    });
  }

  private onConnection(c: Socket): void {
    const source = unmapped(c.remoteAddress ?? '');
    const fromSource = this.perSource.get(source) ?? 0;
    if (this.open.size >= this.limits.maxTcpConnections || fromSource >= this.limits.maxTcpConnectionsPerSource) {
      this.count(this.open.size >= this.limits.maxTcpConnections ? 'tcp.refused.total' : 'tcp.refused.source');
      c.destroy();
      return;
    }
    this.open.add(c);
    this.perSource.set(source, fromSource + 1);
    const { clock } = this.opts;
    const framer = new TcpDnsFramer(this.limits.maxQueryBytes);
    let answered = 0;
    let idle: unknown;
    const arm = (): void => {
      clock.clearTimeout(idle);
      idle = clock.setTimeout(() => {
        this.count('tcp.idle_closed');
        c.destroy();
      }, this.limits.tcpIdleTimeoutMs);
    };
    arm();
    c.on('data', (chunk: Buffer) => {
      let queries: Buffer[];
      try {
        queries = framer.push(chunk);
      } catch {
        this.count('too_large');
        return void c.destroy();
      }
      for (const q of queries) {
        if (c.destroyed || c.writableEnded) return;
        arm();
        const out = this.handle(q, source, 'tcp');
        if (out === 'rate_limited') return void c.destroy();
        if (out) c.write(frameTcp(out));
        if (c.writableLength > this.limits.maxTcpUnsentBytes) {
          this.count('tcp.slow_reader');
          return void c.destroy();
        }
        if (++answered >= this.limits.maxQueriesPerTcpConnection) {
          this.count('tcp.query_limit');
          return void c.end();
        }
      }
    });
    c.on('error', () => {});
    c.on('close', () => {
      clock.clearTimeout(idle);
      this.open.delete(c);
      const n = (this.perSource.get(source) ?? 1) - 1;
      if (n > 0) this.perSource.set(source, n);
      else this.perSource.delete(source);
    });
  }
}

/** `::ffff:a.b.c.d` as `a.b.c.d`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}
