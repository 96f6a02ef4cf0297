/**
 * Client side of the control protocol, used by the `sentinel` command (and tests).
 */

import { createConnection, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { DialProgress, PingProgress } from '../api.js';
import { ERROR_CODES, SentinelError, errorCode, type ErrorCode } from '../errors.js';
import { LineSplitter } from './lines.js';
import {
  MAX_LINE_BYTES,
  MAX_RESPONSE_LINE_BYTES,
  encodeLine,
  parseServerMessage,
  type ControlErrorBody,
  type ControlMethod,
  type ControlParams,
  type ControlProgress,
  type ControlRequest,
  type ControlResults,
  type ControlServerMessage,
} from './protocol.js';

/** A connection to a running node's control socket. */
export interface ControlClient {
  /**
   * Calls one method. Rejects with a SentinelError carrying the node's error code (or
   * E_NOT_RUNNING if the connection drops first).
   */
  call<M extends ControlMethod>(
    method: M,
    params: ControlParams[M],
    onProgress?: (p: ControlProgress<M>) => void,
  ): Promise<ControlResults[M]>;
  /** Closes the connection; pending calls reject. */
  close(): void;
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (err: SentinelError) => void;
  onProgress: ((p: DialProgress | PingProgress) => void) | undefined;
}

/**
 * Connects to the control socket at `path`. A missing socket or one nobody listens on
 * fails with E_NOT_RUNNING naming the data dir (`opts.dataDir`, else the socket's folder).
 */
export function connectControl(path: string, opts: { dataDir?: string } = {}): Promise<ControlClient> {
  const dataDir = opts.dataDir ?? dirname(path);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const onError = (err: Error): void => reject(connectError(err, path, dataDir));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(wrapSocket(socket));
    });
  });
}

function connectError(err: Error, path: string, dataDir: string): SentinelError {
  const code = errorCode(err);
  if (code === 'ENOENT' || code === 'ECONNREFUSED') {
    return withMessage('E_NOT_RUNNING', `no node is running with data dir ${dataDir} (nothing answers at ${path})`);
  }
  return withMessage('E_NOT_RUNNING', `cannot reach the node at ${path}: ${err.message}`);
}

function wrapSocket(socket: Socket): ControlClient {
  const pending = new Map<number, Pending>();
  const splitter = new LineSplitter({ maxLineBytes: MAX_RESPONSE_LINE_BYTES });
  let nextId = 1;
  let closedError: SentinelError | undefined;

  const failAll = (err: SentinelError): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const shutDown = (err: SentinelError): void => {
    closedError ??= err;
    failAll(closedError);
    socket.destroy();
  };

  socket.on('data', (chunk: Buffer) => {
    const { lines, oversize } = splitter.push(chunk);
    for (const line of lines) route(pending, parseServerMessage(line), failAll);
    if (oversize) shutDown(withMessage('E_BAD_REQUEST', 'reply from the node is too large'));
  });
  socket.on('error', () => shutDown(withMessage('E_NOT_RUNNING', 'lost the connection to the node')));
  socket.on('close', () => shutDown(withMessage('E_NOT_RUNNING', 'the node closed the control connection')));

  return {
    call(method, params, onProgress) {
      if (closedError) return Promise.reject(closedError);
      const id = nextId++;
      const line = encodeLine({ id, method, params } as ControlRequest);
      if (Buffer.byteLength(line) - 1 > MAX_LINE_BYTES) {
        return Promise.reject(withMessage('E_BAD_REQUEST', `request exceeds ${MAX_LINE_BYTES} bytes`));
      }
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (r: unknown) => void, reject, onProgress: onProgress as Pending['onProgress'] });
        socket.write(line);
      });
    },
    close() {
      shutDown(withMessage('E_NOT_RUNNING', 'control connection closed'));
    },
  };
}

function route(
  pending: Map<number, Pending>,
  msg: ControlServerMessage | null,
  failAll: (err: SentinelError) => void,
): void {
  if (msg === null) return;
  if (msg.id === null) {
    // The node could not tell which request it refused: every pending call is suspect.
    if ('ok' in msg && !msg.ok) failAll(remoteError(msg.error));
    return;
  }
  const p = typeof msg.id === 'number' ? pending.get(msg.id) : undefined;
  if (!p) return;
  if ('event' in msg) {
    p.onProgress?.(msg.data);
    return;
  }
  pending.delete(msg.id as number);
  if (msg.ok) p.resolve(msg.result);
  else p.reject(remoteError(msg.error));
}

/** Rebuilds the node's error locally, keeping its code and exact message. */
export function remoteError(body: ControlErrorBody): SentinelError {
  const code: ErrorCode = Object.hasOwn(ERROR_CODES, body.code) ? (body.code as ErrorCode) : 'E_INTERNAL';
  return withMessage(code, body.message);
}

function withMessage(code: ErrorCode, message: string): SentinelError {
  const err = new SentinelError(code);
  err.message = message;
  return err;
}
