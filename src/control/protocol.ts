/**
 * Local control protocol: how `sentinel` (and later the dashboard) talks to a running
 * `sentinel-node` over a unix socket at `<data-dir>/control.sock` (mode 0600).
 *
 * Framing: newline-delimited JSON, UTF-8. Each line is one JSON object of at most
 * {@link MAX_LINE_BYTES} bytes (the `\n` not counted). Several requests may be in flight
 * on one connection; responses carry the request's `id` and may arrive in any order.
 *
 * ```
 * client -> node   {"id": 1, "method": "dial", "params": {"target": "10.0.0.2:7000"}}
 * node -> client   {"id": 1, "event": "progress", "data": {"stage": "connecting", "message": "..."}}
 * node -> client   {"id": 1, "event": "progress", "data": {"stage": "tls", "message": "..."}}
 * node -> client   {"id": 1, "ok": true, "result": {"id": "...", "address": "...", ...}}
 *
 * client -> node   {"id": "a", "method": "send", "params": {"target": "zz", "text": "hi"}}
 * node -> client   {"id": "a", "ok": false, "error": {"code": "E_UNKNOWN_ID", "message": "..."}}
 * ```
 *
 * Request: `{"id": number|string, "method": string, "params"?: object}`.
 * Final response: `{"id", "ok": true, "result": <json>}` or
 * `{"id", "ok": false, "error": {"code": "E_...", "message": "..."}}`.
 * Progress event (only `dial` and `ping` emit them), zero or more before the final response:
 * `{"id", "event": "progress", "data": DialProgress}`; `ping` also sends one per reply,
 * `{"id", "event": "progress", "data": {"stage": "ping", "message", "reply": PingReply}}`.
 *
 * Methods and params (results are the {@link NodeApi} return values):
 *
 * | method    | params                               | result         |
 * |-----------|--------------------------------------|----------------|
 * | id        | -                                    | `{id, vpn}`    |
 * | status    | -                                    | StatusInfo     |
 * | peers     | -                                    | PeerInfo[]     |
 * | dial      | `{target}`                           | DialResult     |
 * | send      | `{target, text}`                     | SendResult     |
 * | broadcast | `{text}`                             | SendResult[]   |
 * | history   | `{target?, limit?, before?}` (limit: 1..1000, default 100; before: a message id) | HistoryEntry[] |
 * | alias     | `{target, alias}`                    | `{id, alias}`  |
 * | allow     | `{target}`                           | `{id, allowed}`|
 * | deny      | `{target}`                           | `{id, allowed}`|
 * | requests  | -                                    | RequestSummary[] |
 * | accept    | `{target}`                           | TrustChange    |
 * | block     | `{target}`                           | TrustChange    |
 * | unblock   | `{target}`                           | TrustChange    |
 * | ping      | `{target, count?, intervalMs?, timeoutMs?}` (count 1..1000, default 4; intervalMs 1000..60000, default 1000; timeoutMs 100..10000, default 2000) | PingResult |
 * | netcheck  | -                                    | NetcheckReport |
 *
 * Bad input: a line that is not JSON, not an object, has no valid id or method, names an
 * unknown method or carries bad params is answered with
 * `{"id": <id or null>, "ok": false, "error": {"code": "E_BAD_REQUEST", ...}}` and the
 * connection stays open. A line longer than {@link MAX_LINE_BYTES} is answered the same
 * way (id null) and then that connection is closed. Errors never carry stack traces.
 */

import { join } from 'node:path';
import type {
  DialProgress,
  DialResult,
  HistoryEntry,
  NodeId,
  PeerInfo,
  PingProgress,
  PingResult,
  RequestSummary,
  SendResult,
  StatusInfo,
  TrustChange,
  NetcheckReport,
} from '../api.js';

/**
 * Longest request line the node accepts, in bytes, excluding the newline: room for a
 * message of MAX_TEXT_BYTES (64 KiB) even when JSON escapes every character (6 bytes).
 */
export const MAX_LINE_BYTES = 512 * 1024;

/**
 * Longest response line a client accepts. Responses (history, peers) are bigger than
 * requests, but a client still caps what it buffers.
 */
export const MAX_RESPONSE_LINE_BYTES = 16 * 1024 * 1024;

/** File name of the control socket inside the data directory. */
export const CONTROL_SOCKET_NAME = 'control.sock';

/** Path of the control socket for a data directory. */
export function controlSocketPath(dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET_NAME);
}

/** A request id chosen by the client and echoed in every reply to that request. */
export type RequestId = number | string;

/** Params of each control method. */
export interface ControlParams {
  id: Record<string, never>;
  status: Record<string, never>;
  peers: Record<string, never>;
  dial: { target: string };
  send: { target: string; text: string };
  broadcast: { text: string };
  history: { target?: string; limit?: number; before?: string };
  alias: { target: string; alias: string };
  allow: { target: string };
  deny: { target: string };
  requests: Record<string, never>;
  accept: { target: string };
  block: { target: string };
  unblock: { target: string };
  ping: { target: string; count?: number; intervalMs?: number; timeoutMs?: number };
  netcheck: Record<string, never>;
}

/** Result of each control method. */
export interface ControlResults {
  id: { id: NodeId; vpn?: { ipv4: string; ipv6: string } };
  status: StatusInfo;
  peers: PeerInfo[];
  dial: DialResult;
  send: SendResult;
  broadcast: SendResult[];
  history: HistoryEntry[];
  alias: { id: NodeId; alias: string };
  allow: { id: NodeId; allowed: boolean };
  deny: { id: NodeId; allowed: boolean };
  requests: RequestSummary[];
  accept: TrustChange;
  block: TrustChange;
  unblock: TrustChange;
  ping: PingResult;
  netcheck: NetcheckReport;
}

/** Name of a control method. */
export type ControlMethod = keyof ControlParams;

/** Progress events a method may send before its final response: `ping` adds its replies to the dial's. */
export type ControlProgress<M extends ControlMethod> = M extends 'ping' ? DialProgress | PingProgress : DialProgress;

/** Every control method, in documentation order. */
export const CONTROL_METHODS: readonly ControlMethod[] = [
  'id',
  'status',
  'peers',
  'dial',
  'send',
  'broadcast',
  'history',
  'alias',
  'allow',
  'deny',
  'requests',
  'accept',
  'block',
  'unblock',
  'ping',
  'netcheck',
];

/** A validated request. */
export type ControlRequest = {
  [M in ControlMethod]: { id: RequestId; method: M; params: ControlParams[M] };
}[ControlMethod];

/** Error body of a failed response. */
export interface ControlErrorBody {
  code: string;
  message: string;
}

/** Final response to a request. */
export type ControlResponse =
  | { id: RequestId | null; ok: true; result: unknown }
  | { id: RequestId | null; ok: false; error: ControlErrorBody };

/** Intermediate event for a long-running request. */
export interface ControlProgressEvent {
  id: RequestId;
  event: 'progress';
  data: DialProgress | PingProgress;
}

/** Anything the node writes on the control socket. */
export type ControlServerMessage = ControlResponse | ControlProgressEvent;

/** Serialises one protocol message as a line (with its trailing newline). */
export function encodeLine(message: ControlServerMessage | ControlRequest): string {
  return `${JSON.stringify(message)}\n`;
}

/** Builds a success response. */
export function okResponse(id: RequestId, result: unknown): ControlResponse {
  return { id, ok: true, result };
}

/** Builds an error response. */
export function errorResponse(id: RequestId | null, code: string, message: string): ControlResponse {
  return { id, ok: false, error: { code, message } };
}

/** Builds a progress event (dial stages, ping replies). */
export function progressEvent(id: RequestId, data: DialProgress | PingProgress): ControlProgressEvent {
  return { id, event: 'progress', data };
}

/**
 * Reads one line from the node. Returns null for anything that is not a well-formed
 * progress event or final response (clients ignore such lines).
 */
export function parseServerMessage(line: string): ControlServerMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const m = v as Record<string, unknown>;
  const id = m.id;
  if (id !== null && typeof id !== 'number' && typeof id !== 'string') return null;
  if (m.event === 'progress') {
    return id === null || !isProgress(m.data) ? null : { id, event: 'progress', data: m.data };
  }
  if (m.ok === true) return { id, ok: true, result: m.result };
  if (m.ok === false && isErrorBody(m.error)) {
    return { id, ok: false, error: { code: m.error.code, message: m.error.message } };
  }
  return null;
}

function isProgress(v: unknown): v is DialProgress | PingProgress {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  if (p.stage === 'ping' && !isPingReply(p.reply)) return false;
  return typeof p.stage === 'string' && typeof p.message === 'string';
}

/** The shape of a ping reply (a client prints its fields; the node is trusted for the rest). */
function isPingReply(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r.seq !== 'number') return false;
  if (r.lost === true) return typeof r.reason === 'string';
  return typeof r.rttMs === 'number' && typeof r.path === 'object' && r.path !== null;
}

function isErrorBody(v: unknown): v is ControlErrorBody {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.code === 'string' && typeof e.message === 'string';
}
