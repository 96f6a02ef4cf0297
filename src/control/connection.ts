/**
 * One control connection on the node side: splits lines, validates requests, runs them
 * against the api and writes replies. Whatever a client sends, the damage stays on its
 * own connection.
 */

import type { Socket } from 'node:net';
import type { NodeApi } from '../api.js';
import { ERROR_CODES, errorMessage } from '../errors.js';
import { dispatch, toErrorBody } from './dispatch.js';
import { LineSplitter } from './lines.js';
import {
  MAX_LINE_BYTES,
  encodeLine,
  errorResponse,
  okResponse,
  progressEvent,
  type ControlServerMessage,
} from './protocol.js';
import { parseRequest } from './request.js';

/** Requests one connection may have running at once; more are refused, not queued. */
export const MAX_IN_FLIGHT = 32;
/** Unread reply bytes we hold for a client before giving up on it. */
export const MAX_PENDING_OUTPUT_BYTES = 8 * 1024 * 1024;

/** How long a connection closed for an oversize line may take to flush its reply. */
const OVERSIZE_CLOSE_GRACE_MS = 2_000;

/** Log sink: level and one line of text. */
export type ControlLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

/** What a connection reports back to its server. */
export interface ConnectionHooks {
  api: NodeApi;
  log: ControlLog;
  onBadRequest: () => void;
}

/** Serves one accepted socket until it closes. */
export function serveConnection(socket: Socket, hooks: ConnectionHooks): void {
  const splitter = new LineSplitter({ maxLineBytes: MAX_LINE_BYTES });
  let inFlight = 0;
  let closing = false;
  // Long requests (ping) stop when their client is gone.
  const gone = new AbortController();
  socket.once('close', () => gone.abort());

  const send = (msg: ControlServerMessage): void => {
    if (closing || socket.destroyed) return;
    socket.write(encodeOrExplain(msg, hooks.log));
    // A client that never reads must not make us buffer without bound.
    if (socket.writableLength > MAX_PENDING_OUTPUT_BYTES) {
      hooks.log('warn', 'control client is not reading its replies; closing it');
      socket.destroy();
    }
  };

  const refuse = (id: string | number | null, message: string): void => {
    hooks.onBadRequest();
    hooks.log('debug', `bad control request: ${message}`);
    send(errorResponse(id, 'E_BAD_REQUEST', message));
  };

  const handleLine = (line: string): void => {
    if (line.trim() === '') return;
    const parsed = parseRequest(line);
    if (!parsed.ok) return refuse(parsed.id, parsed.message);
    const { request } = parsed;
    if (inFlight >= MAX_IN_FLIGHT) return refuse(request.id, `too many requests in flight (max ${MAX_IN_FLIGHT})`);
    inFlight++;
    dispatch(hooks.api, request, (p) => send(progressEvent(request.id, p)), gone.signal)
      .then(
        (result) => send(okResponse(request.id, result)),
        (err: unknown) => {
          const body = toErrorBody(err);
          if (body.code === 'E_INTERNAL') hooks.log('error', `control ${request.method} failed: ${body.message}`);
          send(errorResponse(request.id, body.code, body.message));
        },
      )
      .finally(() => {
        inFlight--;
      });
  };

  const closeForOversize = (): void => {
    hooks.onBadRequest();
    hooks.log('debug', 'control request line too long; closing connection');
    const reply = encodeLine(errorResponse(null, 'E_BAD_REQUEST', `request line exceeds ${MAX_LINE_BYTES} bytes`));
    closing = true;
    socket.end(reply, () => socket.destroy());
    // If the client never takes the reply, do not keep the connection around for it.
    const timer = setTimeout(() => socket.destroy(), OVERSIZE_CLOSE_GRACE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };

  socket.on('data', (chunk: Buffer) => {
    if (closing) return; // keep draining so the peer is not reset mid-reply
    const { lines, oversize } = splitter.push(chunk);
    for (const line of lines) handleLine(line);
    if (oversize) closeForOversize();
  });
  socket.on('error', (err) => hooks.log('debug', `control connection error: ${err.message}`));
}

/** Encodes a reply; a result JSON cannot carry (a bug upstream) becomes E_INTERNAL. */
function encodeOrExplain(msg: ControlServerMessage, log: ControlLog): string {
  try {
    return encodeLine(msg);
  } catch (err) {
    log('error', `control reply could not be encoded: ${errorMessage(err)}`);
    return encodeLine(errorResponse(msg.id, 'E_INTERNAL', `${ERROR_CODES.E_INTERNAL}: reply could not be encoded`));
  }
}
