/**
 * Maps validated control requests onto {@link NodeApi} calls, and thrown errors onto
 * the wire's `{code, message}` (never a stack trace).
 */

import type { DialProgress, NodeApi, PingProgress } from '../api.js';
import { ERROR_CODES, errorCode, errorMessage } from '../errors.js';
import type { ControlErrorBody, ControlMethod, ControlParams, ControlRequest, ControlResults } from './protocol.js';

type Handler<M extends ControlMethod> = (
  api: NodeApi,
  params: ControlParams[M],
  onProgress: (p: DialProgress | PingProgress) => void,
  signal: AbortSignal,
) => ControlResults[M] | Promise<ControlResults[M]>;

const HANDLERS: { [M in ControlMethod]: Handler<M> } = {
  id: (api) => api.id(),
  status: (api) => api.status(),
  peers: (api) => api.peers(),
  dial: (api, p, onProgress) => api.dial(p.target, onProgress),
  send: (api, p) => api.send(p.target, p.text),
  broadcast: (api, p) => api.broadcast(p.text),
  history: (api, p) => api.history(p.target, p.limit, p.before),
  alias: (api, p) => api.alias(p.target, p.alias),
  allow: (api, p) => api.setAllowed(p.target, true),
  deny: (api, p) => api.setAllowed(p.target, false),
  requests: (api) => api.requests(),
  accept: (api, p) => api.accept(p.target),
  block: (api, p) => api.block(p.target),
  unblock: (api, p) => api.unblock(p.target),
  ping: (api, p, onProgress, signal) => api.ping(p.target, { ...pingOpts(p), signal }, onProgress),
  netcheck: (api) => api.netcheck(),
};

/** The ping settings present in the params (absent ones take the node's defaults). */
function pingOpts(p: ControlParams['ping']): { count?: number; intervalMs?: number; timeoutMs?: number } {
  const { target: _target, ...rest } = p;
  return rest;
}

/**
 * Runs one request against the api; sync throws become rejections. `signal` aborts when the
 * client is gone (a long `ping` stops early).
 */
export async function dispatch(
  api: NodeApi,
  request: ControlRequest,
  onProgress: (p: DialProgress | PingProgress) => void,
  signal: AbortSignal = new AbortController().signal,
): Promise<unknown> {
  const handler = HANDLERS[request.method] as Handler<ControlMethod>;
  return handler(api, request.params as never, onProgress, signal);
}

/**
 * Wire form of an error thrown by the api: its own `E_...` code when it has one,
 * otherwise E_INTERNAL (errno codes like ENOENT are internal details, not API codes).
 */
export function toErrorBody(err: unknown): ControlErrorBody {
  const code = errorCode(err);
  if (code !== undefined && code.startsWith('E_')) return { code, message: errorMessage(err) };
  return { code: 'E_INTERNAL', message: `${ERROR_CODES.E_INTERNAL}: ${errorMessage(err)}` };
}
