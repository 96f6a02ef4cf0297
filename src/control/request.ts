/**
 * Pure validation of control requests: one line of text in, either a typed
 * {@link ControlRequest} or the reason it was refused (with the id, when one was readable).
 */

import { HISTORY_MAX_LIMIT } from './limits.js';
import { PING_BOUNDS } from '../ping/settings.js';
import type { ControlMethod, ControlParams, ControlRequest, RequestId } from './protocol.js';

/** Outcome of {@link parseRequest}. */
export type ParsedRequest =
  | { ok: true; request: ControlRequest }
  | { ok: false; id: RequestId | null; message: string };

type JsonObject = Record<string, unknown>;
/** Returns the validated params, or a string saying what is wrong. */
type ParamsValidator<M extends ControlMethod> = (p: JsonObject) => ControlParams[M] | string;

const NO_PARAMS = (): Record<string, never> => ({});

const VALIDATORS: { [M in ControlMethod]: ParamsValidator<M> } = {
  id: NO_PARAMS,
  status: NO_PARAMS,
  peers: NO_PARAMS,
  dial: (p) => withStrings(p, ['target'], (s) => ({ target: s.target })),
  send: (p) => withStrings(p, ['target', 'text'], (s) => ({ target: s.target, text: s.text })),
  broadcast: (p) => withStrings(p, ['text'], (s) => ({ text: s.text })),
  history: validateHistory,
  alias: (p) => withStrings(p, ['target', 'alias'], (s) => ({ target: s.target, alias: s.alias })),
  allow: (p) => withStrings(p, ['target'], (s) => ({ target: s.target })),
  deny: (p) => withStrings(p, ['target'], (s) => ({ target: s.target })),
  requests: NO_PARAMS,
  accept: (p) => withStrings(p, ['target'], (s) => ({ target: s.target })),
  block: (p) => withStrings(p, ['target'], (s) => ({ target: s.target })),
  unblock: (p) => withStrings(p, ['target'], (s) => ({ target: s.target })),
  ping: validatePing,
  netcheck: NO_PARAMS,
};

/** Parses and validates one request line. */
export function parseRequest(line: string): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return refuse(null, 'request is not valid JSON');
  }
  if (!isObject(value)) return refuse(null, 'request must be a JSON object');
  const id = value.id;
  if (!isRequestId(id)) return refuse(null, 'request needs an "id" (number or string)');
  const method = value.method;
  if (typeof method !== 'string') return refuse(id, 'request needs a "method" string');
  if (!isMethod(method)) return refuse(id, `unknown method "${method}"`);
  const rawParams = value.params ?? {};
  if (!isObject(rawParams)) return refuse(id, '"params" must be an object');
  const params = VALIDATORS[method](rawParams);
  if (typeof params === 'string') return refuse(id, `${method}: ${params}`);
  return { ok: true, request: { id, method, params } as ControlRequest };
}

function refuse(id: RequestId | null, message: string): ParsedRequest {
  return { ok: false, id, message };
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isRequestId(v: unknown): v is RequestId {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string';
}

function isMethod(name: string): name is ControlMethod {
  return Object.prototype.hasOwnProperty.call(VALIDATORS, name);
}

function withStrings<K extends string, R>(
  p: JsonObject,
  keys: readonly K[],
  build: (s: Record<K, string>) => R,
): R | string {
  const out = {} as Record<K, string>;
  for (const key of keys) {
    const v = p[key];
    if (typeof v !== 'string') return `"${key}" must be a string`;
    if (key === 'target' && v.length === 0) return '"target" must not be empty';
    out[key] = v;
  }
  return build(out);
}

function validateHistory(p: JsonObject): ControlParams['history'] | string {
  const out: ControlParams['history'] = {};
  if (p.target !== undefined && p.target !== null) {
    if (typeof p.target !== 'string') return '"target" must be a string';
    out.target = p.target;
  }
  if (p.limit !== undefined && p.limit !== null) {
    if (!Number.isSafeInteger(p.limit) || (p.limit as number) < 1 || (p.limit as number) > HISTORY_MAX_LIMIT) return `"limit" must be an integer from 1 to ${HISTORY_MAX_LIMIT}`;
    out.limit = p.limit as number;
  }
  if (p.before !== undefined && p.before !== null) {
    if (typeof p.before !== 'string' || !/^[0-9a-f]{32}$/.test(p.before)) return '"before" must be a message id (32 hex characters)';
    out.before = p.before;
  }
  return out;
}

function validatePing(p: JsonObject): ControlParams['ping'] | string {
  const base = withStrings(p, ['target'], (s) => ({ target: s.target }));
  if (typeof base === 'string') return base;
  const out: ControlParams['ping'] = base;
  for (const key of ['count', 'intervalMs', 'timeoutMs'] as const) {
    const v = p[key];
    if (v === undefined || v === null) continue;
    const { min, max } = PING_BOUNDS[key];
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) return `"${key}" must be an integer from ${min} to ${max}`;
    out[key] = v as number;
  }
  return out;
}
