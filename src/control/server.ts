/**
 * The node's control server: a unix socket (mode 0600) serving the control protocol
 * (see protocol.ts) to any number of local clients.
 */

import { chmod, lstat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { NodeApi } from '../api.js';
import { SentinelError, errorCode, errorMessage } from '../errors.js';
import { serveConnection, type ControlLog } from './connection.js';

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;
const SOCKET_MODE = 0o600;
/** Umask that makes a freshly bound socket file owner-only from the first instant. */
const PRIVATE_UMASK = 0o177;

/** Options of {@link startControlServer}. */
export interface ControlServerOptions {
  /** Socket path, normally `controlSocketPath(dataDir)`. */
  path: string;
  api: NodeApi;
  log?: ControlLog;
}

/** Live counters of a control server. */
export interface ControlServerCounters {
  /** Refused lines (bad JSON, bad params, oversize, ...). */
  badRequests: number;
  /** Connections accepted since start. */
  connections: number;
  /** Connections open now. */
  active: number;
}

/** A running control server. */
export interface ControlServer {
  readonly path: string;
  readonly counters: ControlServerCounters;
  /** Stops listening, drops every client and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts serving `api` on a unix socket at `opts.path`. A stale socket file left by a
 * dead node is replaced; a live one fails with E_DATA_DIR (another node owns the dir).
 */
export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const log: ControlLog = opts.log ?? (() => {});
  const counters: ControlServerCounters = { badRequests: 0, connections: 0, active: 0 };
  const sockets = new Set<Socket>();
  checkPathLength(opts.path);
  await removeStaleSocket(opts.path);

  const server = createServer((socket) => {
    counters.connections++;
    counters.active++;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      counters.active--;
    });
    serveConnection(socket, { api: opts.api, log, onBadRequest: () => counters.badRequests++ });
  });
  server.on('error', (err) => log('error', `control server error: ${err.message}`));
  await listenPrivate(server, opts.path);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      // libuv removes the socket file when the listener closes.
      server.close(() => resolve());
    });
    return closed;
  };
  log('info', `control socket listening at ${opts.path}`);
  return { path: opts.path, counters, close };
}

function checkPathLength(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new SentinelError(
      'E_DATA_DIR',
      `control socket path ${path} is ${bytes} bytes; unix sockets allow ${MAX_SOCKET_PATH_BYTES} (use a shorter data dir path)`,
    );
  }
}

/** Removes a socket file nobody answers on; refuses to touch a live one or a non-socket. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw new SentinelError('E_DATA_DIR', `cannot inspect ${path}: ${errorMessage(err)}`, { cause: err });
  }
  if (!isSocket) throw new SentinelError('E_DATA_DIR', `${path} exists and is not a socket`);
  if (await socketAnswers(path)) throw anotherNode(path);
  await unlink(path).catch((err: unknown) => {
    if (errorCode(err) !== 'ENOENT') throw new SentinelError('E_DATA_DIR', `cannot remove stale socket ${path}`, { cause: err });
  });
}

function anotherNode(path: string): SentinelError {
  return new SentinelError('E_DATA_DIR', `another node is already using this data dir (control socket ${path} is live)`);
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err) => {
      const code = errorCode(err);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false);
      else reject(new SentinelError('E_DATA_DIR', `cannot probe control socket ${path}: ${err.message}`, { cause: err }));
    });
  });
}

/** Binds with a private umask, then enforces and verifies mode 0600. */
async function listenPrivate(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(listenError(err, path));
    server.once('error', onError);
    // The bind happens synchronously inside listen(), so the umask covers exactly it.
    const restore = setUmask(PRIVATE_UMASK);
    try {
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      restore();
    }
  });
  try {
    await chmod(path, SOCKET_MODE);
    const mode = (await lstat(path)).mode & 0o777;
    if (mode !== SOCKET_MODE) throw new Error(`mode is ${mode.toString(8)}`);
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw new SentinelError('E_DATA_DIR', `cannot make control socket ${path} private: ${errorMessage(err)}`, { cause: err });
  }
}

function listenError(err: Error, path: string): SentinelError {
  if (errorCode(err) === 'EADDRINUSE') return anotherNode(path);
  return new SentinelError('E_DATA_DIR', `cannot listen on control socket ${path}: ${err.message}`, { cause: err });
}

/** Sets the process umask, returning the undo; a no-op where umask is unavailable (workers). */
function setUmask(mask: number): () => void {
  try {
    const previous = process.umask(mask);
    return () => process.umask(previous);
  } catch {
    return () => {};
  }
}
