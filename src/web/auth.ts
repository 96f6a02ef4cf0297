/**
 * Who may use the web dashboard: pure decisions over the facts of one HTTP request (its
 * method, path, Host, Origin, Authorization and Cookie headers) and the node's token.
 *
 * Rules, checked in this order (the first that fails decides):
 * 1. Host must name the address the dashboard is bound to (or `localhost` when that is a
 *    loopback or wildcard address; any IP literal when bound to a wildcard address), with
 *    the bound port. A DNS-rebinding page reaches us under its own host name: refused.
 * 2. An `Origin` header, when present, must be this dashboard's own origin; a state-changing
 *    request (not GET/HEAD) authenticated by the cookie must carry one. Browsers send Origin
 *    on every POST, so a cross-site form or fetch is refused even before SameSite applies.
 * 3. The token: `Authorization: Bearer <token>` (a wrong one is refused, not ignored), else
 *    the session cookie, else, on the page URL `/` only, `?token=<token>`, which sets the
 *    cookie and redirects to the same URL without the token. Compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { isLoopbackHost } from '../core/host-port.js';

/** Random bytes in a token (256 bits). */
export const TOKEN_BYTES = 32;
/** A token as stored and printed: {@link TOKEN_BYTES} bytes in base64url, no padding. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** The one page URL that accepts `?token=`. */
export const PAGE_PATH = '/';

/** A new random token. `random` is injectable for tests. */
export function newToken(random: (n: number) => Buffer = randomBytes): string {
  return random(TOKEN_BYTES).toString('base64url');
}

/** True for text shaped like a token (what the token file must hold). */
export function isTokenText(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/**
 * Constant-time token comparison. Both sides are hashed first so the comparison takes
 * the same time whatever the given text's length or where it differs.
 */
export function sameToken(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Name of the session cookie. Cookies are not separated by port, so two nodes' dashboards
 * on one host would overwrite each other's cookie under one name: the port is in it.
 */
export function cookieName(port: number): string {
  return `sentinel_web_${port}`;
}

/** The Set-Cookie value that logs a browser in: HttpOnly, SameSite=Strict, whole site. */
export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/** Cookies of a Cookie header by name (the first of a repeated name wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const raw of header.split(';')) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** Where the dashboard listens. */
export interface Binding {
  /** The bound address as given (`127.0.0.1`, `::1`, `0.0.0.0`, ...). */
  host: string;
  port: number;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** Splits a Host header into name and port; null when it is malformed. */
export function splitHost(header: string): { name: string; port: number | null } | null {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header);
  if (!m) return null;
  const raw = (m[1] as string).toLowerCase();
  const name = raw.startsWith('[') ? raw.slice(1, -1) : raw;
  return { name, port: m[2] === undefined ? null : Number(m[2]) };
}

/**
 * Whether a Host header names this dashboard (the DNS-rebinding guard). The port must be
 * the bound one; HTTP's default port is never assumed, since we are never bound to it
 * implicitly.
 */
export function hostAllowed(header: string | undefined, b: Binding): boolean {
  if (header === undefined) return false;
  const h = splitHost(header);
  if (!h || h.port !== b.port) return false;
  const bound = b.host.toLowerCase();
  if (h.name === bound) return true;
  if (h.name === 'localhost') return isLoopbackHost(bound) || isWildcard(bound);
  // A rebinding attack needs a DNS name; an IP literal cannot be rebound.
  return isWildcard(bound) && isIP(h.name) !== 0;
}

/** The facts of a request that the decision reads. */
export interface RequestFacts {
  method: string;
  /** Path without the query. */
  path: string;
  /** The `token` query parameter, when present. */
  queryToken: string | null;
  /** The rest of the query (without `token`), to keep in the redirect; `''` when none. */
  queryRest: string;
  host?: string | undefined;
  origin?: string | undefined;
  authorization?: string | undefined;
  cookie?: string | undefined;
}

/** Why a request is refused; each reason has its own counter (`web.refused.<reason>`). */
export type RefusalReason = 'host' | 'origin' | 'token';

/** The decision on one request. */
export type AuthDecision =
  | { allow: true; via: 'bearer' | 'cookie' }
  | { allow: true; via: 'query'; redirect: { location: string; setCookie: string } }
  | { allow: false; status: 401 | 403; reason: RefusalReason; message: string };

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** Decides one request (rules in the file comment). */
export function authorize(f: RequestFacts, token: string, b: Binding): AuthDecision {
  if (!hostAllowed(f.host, b)) return refuse(403, 'host', 'the Host header does not name this dashboard (DNS rebinding guard)');
  if (f.origin !== undefined && !sameOrigin(f.origin, f.host as string)) return refuse(403, 'origin', 'cross-origin request refused');
  const bearer = bearerToken(f.authorization);
  if (bearer !== undefined) {
    return sameToken(token, bearer) ? { allow: true, via: 'bearer' } : refuse(401, 'token', 'wrong token');
  }
  if (f.path === PAGE_PATH && f.queryToken !== null) {
    if (!sameToken(token, f.queryToken)) return refuse(401, 'token', 'wrong token');
    return { allow: true, via: 'query', redirect: { location: f.path + f.queryRest, setCookie: sessionCookie(b.port, token) } };
  }
  if (!sameToken(token, parseCookies(f.cookie).get(cookieName(b.port)))) return refuse(401, 'token', 'token required: open the URL the node printed at start');
  if (!SAFE_METHODS.has(f.method) && f.origin === undefined) return refuse(403, 'origin', 'a state-changing request must carry Origin');
  return { allow: true, via: 'cookie' };
}

/** `Bearer <token>` from an Authorization header; undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  // A malformed header is a wrong token, not an absent one.
  return m ? (m[1] as string) : '';
}

/** True when Origin is exactly `http://<host>` (the dashboard serves plain HTTP). */
export function sameOrigin(origin: string, host: string): boolean {
  return origin.toLowerCase() === `http://${host.toLowerCase()}`;
}

/**
 * Splits a request target into path, the `token` parameter and the rest of the query
 * (re-encoded, with its `?`). Malformed targets give path `''` (no route matches it).
 */
export function splitTarget(target: string): { path: string; queryToken: string | null; queryRest: string } {
  let url: URL;
  try {
    url = new URL(target, 'http://dashboard.invalid');
  } catch {
    return { path: '', queryToken: null, queryRest: '' };
  }
  const token = url.searchParams.get('token');
  url.searchParams.delete('token');
  const rest = url.searchParams.toString();
  return { path: url.pathname, queryToken: token, queryRest: rest ? `?${rest}` : '' };
}

function refuse(status: 401 | 403, reason: RefusalReason, message: string): AuthDecision {
  return { allow: false, status, reason, message };
}
