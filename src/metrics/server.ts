/**
 * The metrics endpoint: `GET /metrics` (and HEAD) in the Prometheus text format from a
 * prom-client Registry. Anything else is refused: other paths 404, other methods 405.
 * Bounded: METRICS_MAX_CONNECTIONS connections at once (more are closed at accept), a
 * request head of at most METRICS_MAX_HEADER_BYTES (431), and timeouts for slow senders.
 * Every refusal is counted in `sentinel_metrics_refused_total{reason}`, which the endpoint
 * serves itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import { errorMessage } from '../errors.js';
import { formatHostPort } from '../core/host-port.js';
import type { MetricsListen } from './address.js';
import { createLocalHttpServer, listenLocal, type HttpRefusal } from '../core/local-http.js';
import * as L from './limits.js';

/** Why a request or connection was refused (the `reason` label). */
export type RefusalReason = HttpRefusal | 'not_found' | 'method' | 'collect_failed';

export interface MetricsServerOptions extends MetricsListen {
  registry: Registry;
  /** Overrides of the limits (tests). */
  limits?: Partial<MetricsLimits>;
  log?: (level: 'debug' | 'warn', msg: string) => void;
}

export interface MetricsLimits {
  maxConnections: number;
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** How often the timeouts above are checked (node:http's default is 30 s). */
  timeoutCheckMs: number;
}

export const DEFAULT_METRICS_LIMITS: MetricsLimits = {
  maxConnections: L.METRICS_MAX_CONNECTIONS,
  maxHeaderBytes: L.METRICS_MAX_HEADER_BYTES,
  headersTimeoutMs: L.METRICS_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: L.METRICS_REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: L.METRICS_KEEPALIVE_TIMEOUT_MS,
  timeoutCheckMs: L.METRICS_TIMEOUT_CHECK_MS,
};

/** A listening metrics endpoint. */
export interface MetricsServer {
  readonly host: string;
  /** The bound port (the chosen one when asked for 0). */
  readonly port: number;
  /** `http://host:port/metrics`. */
  readonly url: string;
  /** Connections open now (at most the connection cap). */
  readonly connections: number;
  /** Refusals so far by reason (also served as `sentinel_metrics_refused_total`). */
  refusals(): Partial<Record<RefusalReason, number>>;
  close(): Promise<void>;
}

/** Binds the endpoint; rejects with E_PORT_IN_USE or E_USAGE in words a user can act on. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const limits = { ...DEFAULT_METRICS_LIMITS, ...opts.limits };
  const counts: Partial<Record<RefusalReason, number>> = {};
  const refused = new Counter({ name: 'sentinel_metrics_refused_total', help: 'Requests and connections to this metrics endpoint refused, by reason.', labelNames: ['reason'], registers: [opts.registry] });
  const refuse = (reason: RefusalReason): void => {
    counts[reason] = (counts[reason] ?? 0) + 1;
    refused.inc({ reason });
  };
  const server = createLocalHttpServer(limits, (req, res) => void answer(req, res, opts.registry, refuse), (reason, err) => {
    refuse(reason);
    if (err) opts.log?.('debug', `metrics: refused a request: ${(err as Error & { code?: string }).code ?? err.message}`);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const port = await listenLocal(server, opts.host, opts.port, '--metrics', 'another exporter or program');
  let closing: Promise<void> | undefined;
  return {
    host: opts.host,
    port,
    url: `http://${formatHostPort(opts.host, port)}/metrics`,
    get connections() {
      return sockets.size;
    },
    refusals: () => ({ ...counts }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, registry: Registry, refuse: (r: RefusalReason) => void): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/metrics') {
    refuse('not_found');
    return plain(res, 404, 'not found: the metrics are at /metrics\n');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    refuse('method');
    res.setHeader('Allow', 'GET, HEAD');
    return plain(res, 405, 'method not allowed: use GET\n');
  }
  let body: string;
  try {
    body = await registry.metrics();
  } catch (err) {
    refuse('collect_failed');
    return plain(res, 500, `collecting the metrics failed: ${errorMessage(err)}\n`);
  }
  res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
