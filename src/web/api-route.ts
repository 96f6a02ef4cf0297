/**
 * `POST /api/<method>`: the control API over HTTP. The JSON body is the request's
 * `params`; it is validated by the control socket's own validator (control/request.ts)
 * and run by its own dispatcher (control/dispatch.ts), so the CLI and the dashboard
 * cannot disagree. Replies are the control protocol's bodies without the request id:
 * `{"ok":true,"result":...}` or `{"ok":false,"error":{"code","message"}}`.
 *
 * HTTP status: 200 when the method ran (its result or its coded error), 400 for a request
 * the validator refused (E_BAD_REQUEST), 404 for an unknown method, 413 for a body over
 * {@link MAX_WEB_BODY_BYTES}, 415 without a JSON content type, 429 when too many requests
 * run, 500 for E_INTERNAL.
 */
import type { IncomingMessage } from 'node:http';
import type { NodeApi } from '../api.js';
import { dispatch, toErrorBody } from '../control/dispatch.js';
import { CONTROL_METHODS, type ControlErrorBody } from '../control/protocol.js';
import { parseRequest } from '../control/request.js';
import { MAX_WEB_BODY_BYTES } from './limits.js';

/** Reply of one API call: an HTTP status and a JSON body. */
export interface ApiReply {
  status: number;
  body: { ok: true; result: unknown } | { ok: false; error: ControlErrorBody };
  /** True when the connection must be closed after the reply (unread body left). */
  close?: boolean;
}

/** The method name of an API path, or null when the path is not `/api/<name>`. */
export function apiMethodOf(path: string): string | null {
  const m = /^\/api\/([a-z]{1,32})$/.exec(path);
  return m ? (m[1] as string) : null;
}

/** True for a Content-Type of JSON (a form cannot send one cross-site without a preflight). */
export function isJsonType(header: string | undefined): boolean {
  return header !== undefined && /^application\/json\s*(;|$)/i.test(header);
}

function fail(status: number, code: string, message: string, close = false): ApiReply {
  return { status, body: { ok: false, error: { code, message } }, close };
}

/** A progress report of a long request, whatever type the dispatcher declares for it. */
export type ApiProgress = Parameters<Parameters<typeof dispatch>[2]>[0];

/** Options of {@link handleApi}. */
export interface ApiContext {
  api: NodeApi;
  count: (name: string) => void;
  onProgress: (target: string, p: ApiProgress) => void;
  log: (level: 'debug' | 'error', msg: string) => void;
}

/** Runs one API request: reads its body (bounded), validates it and dispatches it. */
export async function handleApi(req: IncomingMessage, method: string, ctx: ApiContext): Promise<ApiReply> {
  if (!(CONTROL_METHODS as readonly string[]).includes(method)) {
    ctx.count('web.bad_requests');
    return fail(404, 'E_BAD_REQUEST', `unknown method "${method}"`);
  }
  if (req.method !== 'POST') {
    ctx.count('web.bad_requests');
    return fail(405, 'E_BAD_REQUEST', 'API methods are called with POST');
  }
  if (!isJsonType(req.headers['content-type'])) {
    ctx.count('web.bad_requests');
    return fail(415, 'E_BAD_REQUEST', 'Content-Type must be application/json');
  }
  const body = await readBody(req, MAX_WEB_BODY_BYTES);
  // The client went away mid-body: nothing to answer (its slot is free again).
  if (body === ABORTED) return fail(400, 'E_BAD_REQUEST', 'request aborted', true);
  if (body === TOO_LARGE) {
    ctx.count('web.refused.body');
    return fail(413, 'E_BAD_REQUEST', `request body exceeds ${MAX_WEB_BODY_BYTES} bytes`, true);
  }
  let params: unknown = {};
  if (body.trim() !== '') {
    try {
      params = JSON.parse(body);
    } catch {
      ctx.count('web.bad_requests');
      return fail(400, 'E_BAD_REQUEST', 'body is not valid JSON');
    }
  }
  // The same validator as the control socket, fed the same request shape.
  const parsed = parseRequest(JSON.stringify({ id: 0, method, params }));
  if (!parsed.ok) {
    ctx.count('web.bad_requests');
    return fail(400, 'E_BAD_REQUEST', parsed.message);
  }
  const target = 'target' in parsed.request.params ? String(parsed.request.params.target) : '';
  // A long request (a ping run) stops when its client goes away, as on the control socket.
  const gone = new AbortController();
  const abort = (): void => gone.abort();
  req.socket.once('close', abort);
  try {
    const result = await dispatch(ctx.api, parsed.request, (p) => ctx.onProgress(target, p), gone.signal);
    return { status: 200, body: { ok: true, result } };
  } catch (err) {
    const e = toErrorBody(err);
    if (e.code === 'E_INTERNAL') ctx.log('error', `web ${method} failed: ${e.message}`);
    return fail(e.code === 'E_INTERNAL' ? 500 : e.code === 'E_BAD_REQUEST' ? 400 : 200, e.code, e.message);
  } finally {
    req.socket.off('close', abort);
  }
}

const TOO_LARGE = Symbol('too large');
const ABORTED = Symbol('aborted');

/**
 * The body as text; TOO_LARGE once it passes `max` bytes (the rest is left unread);
 * ABORTED when the connection closes first (a request that never ends must not hold its
 * in-flight slot: the server's request timeout closes slow ones).
 */
function readBody(req: IncomingMessage, max: number): Promise<string | typeof TOO_LARGE | typeof ABORTED> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    // The first of these settles the promise; the later ones are no-ops.
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', () => resolve(ABORTED));
    req.once('close', () => resolve(ABORTED));
  });
}
