/** Plain TCP: a listener, and a connect with a timeout and an abort signal. */
import net from 'node:net';
import { SentinelError, errorCode } from '../errors.js';
import { formatHostPort } from '../core/host-port.js';

/** A plain node:net listener. */
export function plainListen(port: number, host: string | undefined): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}

/** Plain TCP connect (ephemeral local port) with a timeout and optional abort; errors carry errno names. */
export function tcpConnector(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const fail = (detail: string, cause?: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      reject(new SentinelError('E_DIAL_FAILED', `TCP connect to ${formatHostPort(host, port)}: ${detail}`, { cause }));
    };
    const onAbort = (): void => fail('aborted');
    const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (err) => fail(errorCode(err) ?? err.message, err));
  });
}

