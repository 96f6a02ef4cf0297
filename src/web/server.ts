/**
 * The web dashboard's HTTP server (node:http): the page and its two files, the control
 * API under `POST /api/<method>` (api-route.ts) and live updates on `GET /api/events`
 * (sse.ts). Every request passes {@link authorize} first (auth.ts: Host, Origin, token).
 * Every resource a client can make us spend is bounded (limits.ts) and each refusal is
 * counted under `web.refused.<why>`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeApi } from '../api.js';
import { ERROR_CODES, errorMessage } from '../errors.js';
import { createLocalHttpServer, listenLocal } from '../core/local-http.js';
import { webUrl } from './address.js';
import { apiMethodOf, handleApi, type ApiReply } from './api-route.js';
import { authorize, splitTarget, type Binding } from './auth.js';
import * as L from './limits.js';
import { SseHub } from './sse.js';
import { loadStaticFiles, type StaticFile } from './static.js';

/** Headers on every reply: no inline script, no framing, no sniffing, no referrer, no cache. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Path of the live-update stream. */
export const EVENTS_PATH = '/api/events';

/** Options of {@link startWebServer}. */
export interface WebServerOptions {
  api: NodeApi;
  host: string;
  /** 0: any free port. */
  port: number;
  token: string;
  count?: (name: string) => void;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  snapshotIntervalMs?: number;
  maxConnections?: number;
  maxSseClients?: number;
  maxInFlight?: number;
}

/** A running dashboard. */
export interface WebServer {
  readonly host: string;
  readonly port: number;
  /** The base URL, without the token. */
  readonly url: string;
  /** The URL to open once: with `?token=`. */
  readonly loginUrl: string;
  /** Live-update streams open now. */
  readonly sseClients: number;
  /** Stops listening and drops every connection. Idempotent. */
  close(): Promise<void>;
}

/** Starts the dashboard; resolves once it listens. */
export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const count = o.count ?? (() => {});
  const log = o.log ?? (() => {});
  const files = loadStaticFiles();
  const binding: Binding = { host: o.host, port: o.port };
  const hub = new SseHub({
    api: o.api,
    maxClients: o.maxSseClients ?? L.MAX_SSE_CLIENTS,
    maxBufferedBytes: L.MAX_SSE_BUFFERED_BYTES,
    snapshotIntervalMs: o.snapshotIntervalMs ?? L.SNAPSHOT_INTERVAL_MS,
    count,
  });
  const maxInFlight = o.maxInFlight ?? L.MAX_WEB_IN_FLIGHT;
  let inFlight = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    count('web.requests');
    const target = splitTarget(req.url ?? '');
    const h = req.headers;
    const decision = authorize({ method: req.method ?? '', ...target, host: h.host, origin: h.origin, authorization: h.authorization, cookie: h.cookie }, o.token, binding);
    const isApi = target.path.startsWith('/api/');
    if (!decision.allow) {
      count(`web.refused.${decision.reason}`);
      const code = decision.status === 401 ? 'E_WEB_AUTH' : 'E_WEB_FORBIDDEN';
      const extra: Record<string, string> = decision.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="sentinel"' } : {};
      return isApi ? sendJson(res, { status: decision.status, body: { ok: false, error: { code, message: `${ERROR_CODES[code]}: ${decision.message}` } } }, extra) : sendText(res, decision.status, `${decision.status}: ${decision.message}\n`, extra);
    }
    if (decision.via === 'query') {
      res.writeHead(303, { ...SECURITY_HEADERS, Location: decision.redirect.location, 'Set-Cookie': decision.redirect.setCookie, 'Content-Length': '0' });
      return void res.end();
    }
    if (target.path === EVENTS_PATH) {
      if (req.method !== 'GET') return sendText(res, 405, 'use GET\n');
      if (!hub.add(res, SECURITY_HEADERS)) {
        count('web.refused.sse');
        return sendText(res, 503, `too many live-update streams (max ${o.maxSseClients ?? L.MAX_SSE_CLIENTS})\n`);
      }
      return;
    }
    const method = apiMethodOf(target.path);
    if (method !== null) {
      if (inFlight >= maxInFlight) {
        count('web.refused.busy');
        return sendJson(res, { status: 429, body: { ok: false, error: { code: 'E_BUSY', message: `${ERROR_CODES.E_BUSY}: too many API requests running (max ${maxInFlight})` } }, close: true });
      }
      inFlight++;
      try {
        return sendJson(res, await handleApi(req, method, { api: o.api, count, log, onProgress: (t, p) => hub.broadcast('progress', { target: t, ...p }) }));
      } finally {
        inFlight--;
      }
    }
    // Browsers ask for it on their own; there is none, and a 404 would fill their console.
    if (target.path === '/favicon.ico') return void res.writeHead(204, SECURITY_HEADERS).end();
    const file = files.get(target.path);
    if (file && (req.method === 'GET' || req.method === 'HEAD')) return sendFile(res, file, req.method === 'HEAD');
    sendText(res, file ? 405 : 404, file ? 'use GET\n' : 'not found\n');
  };

  const limits = { maxConnections: o.maxConnections ?? L.MAX_WEB_CONNECTIONS, maxHeaderBytes: L.MAX_HEADER_BYTES, headersTimeoutMs: L.HEADERS_TIMEOUT_MS, requestTimeoutMs: L.REQUEST_TIMEOUT_MS };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      log('error', `web request failed: ${errorMessage(err)}`);
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy();
    });
  };
  const server = createLocalHttpServer(limits, onRequest, (reason, err) => {
    if (reason === 'connections') return count('web.refused.connections');
    count('web.bad_requests');
    log('debug', `web client error: ${err?.message ?? reason}`);
  });
  const port = await listenLocal(server, o.host, o.port, '--web');
  const bound = { host: o.host, port };
  binding.port = port;
  const url = webUrl(bound);
  let closed: Promise<void> | undefined;
  return {
    host: o.host,
    port,
    url,
    loginUrl: `${url}?token=${o.token}`,
    get sseClients() {
      return hub.size;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        hub.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function sendJson(res: ServerResponse, reply: ApiReply, extra: Record<string, string> = {}): void {
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, { ...SECURITY_HEADERS, ...extra, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), ...(reply.close ? { Connection: 'close' } : {}) });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...extra, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function sendFile(res: ServerResponse, f: StaticFile, headOnly: boolean): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': f.contentType, 'Content-Length': String(f.body.length) });
  res.end(headOnly ? undefined : f.body);
}
