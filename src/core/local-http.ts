/**
 * An HTTP listener for a local service (the metrics endpoint, the web dashboard): bounded
 * the same way for both, and failing to start in words a user can act on.
 *
 * Bounds: `maxConnections` open at once (more are closed at accept), a request head of at
 * most `maxHeaderBytes` (431), and timeouts for a slow head, a slow request and an idle
 * keep-alive connection. Each refusal is reported to `refuse` with its reason; a malformed
 * or slow request is answered with its status and the connection closed.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { SentinelError, errorCode, errorMessage } from '../errors.js';
import { formatHostPort } from './host-port.js';

export interface LocalHttpLimits {
  maxConnections: number;
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this (node:http's default: 5 s). */
  keepAliveTimeoutMs?: number;
  /** How often the timeouts are checked (node:http's default: 30 s). */
  timeoutCheckMs?: number;
}

/** Why the listener itself refused a connection or request. */
export type HttpRefusal = 'connections' | 'header_too_large' | 'timeout' | 'bad_request';

const STATUS: Record<Exclude<HttpRefusal, 'connections'>, string> = {
  header_too_large: '431 Request Header Fields Too Large',
  timeout: '408 Request Timeout',
  bad_request: '400 Bad Request',
};

/** A server with the limits applied; `refuse` hears of every refusal (with the parser's error when there is one). */
export function createLocalHttpServer(limits: LocalHttpLimits, handler: RequestListener, refuse: (reason: HttpRefusal, err?: Error) => void): Server {
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      ...(limits.keepAliveTimeoutMs !== undefined ? { keepAliveTimeout: limits.keepAliveTimeoutMs } : {}),
      ...(limits.timeoutCheckMs !== undefined ? { connectionsCheckingInterval: limits.timeoutCheckMs } : {}),
    },
    handler,
  );
  server.maxConnections = limits.maxConnections;
  // Emitted for a connection closed at accept because maxConnections are open.
  server.on('drop', () => refuse('connections'));
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const reason = err.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : 'bad_request';
    refuse(reason, err);
    if (socket.writable) socket.end(`HTTP/1.1 ${STATUS[reason]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });
  return server;
}

/**
 * Listens on host:port; resolves with the bound port (the chosen one for port 0). `what`
 * names the service in errors (`--metrics`, `--web`): a taken or forbidden port is
 * E_PORT_IN_USE (`holder` says who may hold it), an address this machine does not have or
 * any other failure E_USAGE.
 */
export function listenLocal(server: Server, host: string, port: number, what: string, holder = 'another program'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      const where = `${what} ${formatHostPort(host, port)}`;
      const code = errorCode(err);
      if (code === 'EADDRINUSE') reject(new SentinelError('E_PORT_IN_USE', `${where}: ${holder} holds it; choose another address or port`, { cause: err }));
      else if (code === 'EACCES') reject(new SentinelError('E_PORT_IN_USE', `${where}: not allowed to listen there (a port below 1024 needs root)`, { cause: err }));
      else if (code === 'EADDRNOTAVAIL') reject(bareUsage(`${where}: ${host} is not an address of this machine`, err));
      else reject(bareUsage(`${where}: cannot listen there: ${errorMessage(err)}`, err));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : port);
    });
  });
}

/** E_USAGE whose message is the detail alone, as the CLIs print usage errors (cli/args.ts `usage`). */
export function bareUsage(detail: string, cause?: unknown): SentinelError {
  const err = new SentinelError('E_USAGE', detail, { cause });
  err.message = detail;
  return err;
}
