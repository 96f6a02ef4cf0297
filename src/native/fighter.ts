/**
 * Fighter sockets as Node objects. A fighter listener and any number of fighter
 * connections can share one local port (SO_REUSEPORT), which is what TCP hole punching
 * by simultaneous open needs: listen on the identity port and dial out from it.
 *
 * Errors:
 * - Misuse (bad address, port or timeout) throws at once (TypeError / RangeError).
 * - fighterListen rejects with the addon's errno error (`code` = 'EADDRINUSE', ...),
 *   like a net.Server 'error'.
 * - fighterConnect rejects with SentinelError('E_DIAL_FAILED') whose `cause` carries the
 *   errno name ('ECONNREFUSED', 'ETIMEDOUT' on timeout, 'ECANCELED' on abort, ...);
 *   read it with {@link dialErrno}.
 * - Both throw SentinelError('E_NATIVE_UNAVAILABLE') when the addon is not built.
 */
import net from 'node:net';
import { SentinelError, errorCode, errorMessage, joinDetail } from '../errors.js';
import { requireNative } from './load.js';
import type { ConnectHandle, FighterNative } from './types.js';

/** Same default as Node's server.listen(). */
export const DEFAULT_BACKLOG = 511;

export interface FighterListenOptions {
  /** Numeric IPv4/IPv6 address; '::' listens on IPv6 only (IPV6_V6ONLY) unless `dualStack`. */
  host: string;
  /**
   * IPv6 hosts only: clear IPV6_V6ONLY, so a listener on '::' also accepts IPv4
   * connections (their addresses appear IPv4-mapped, `::ffff:a.b.c.d`). Default false.
   */
  dualStack?: boolean;
  /** 0 picks a free port: read it from server.address(). */
  port: number;
  backlog?: number;
}

export interface FighterConnectOptions {
  /** Local address to bind; defaults to the wildcard of the remote's family. */
  localHost?: string;
  /** Local port to dial from (typically the port a fighter listener holds). */
  localPort: number;
  /** Remote numeric IP address. */
  host: string;
  port: number;
  timeoutMs: number;
  /** Aborting cancels the attempt (rejects with errno name 'ECANCELED'). */
  signal?: AbortSignal;
  /**
   * IP TTL (IPv6: hop limit) of the SYN, 1..255; default the system's. A low TTL opens our
   * own NAT and firewall mappings without reaching the peer's (src/punch/plan.ts). If such
   * a connect succeeds, the socket is set back to the system defaults before it is handed
   * over, so the session is not limited to that many hops.
   */
  ttl?: number;
  /**
   * With `ttl`: for this long after the SYN the socket drops every segment and ICMP error
   * it receives (IP_MINTTL 255), so the ICMP time exceeded a low-TTL SYN causes does not end
   * the connect (Linux ends a SYN_SENT socket on any ICMP unreachable or time exceeded).
   * Then TTL and IP_MINTTL go back to the system defaults and the connect carries on: a SYN
   * from the peer now finds it waiting, and the kernel's own SYN retransmission goes out
   * with the normal TTL.
   */
  shieldMs?: number;
}

/** Lowest and highest IP TTL a fighter connect accepts. */
export const MIN_TTL = 1;
export const MAX_TTL = 255;
/** IP_MINTTL while shielded: nothing that crossed a router (TTL < 255) gets through. */
const SHIELD_MIN_TTL = 255;

function checkHost(host: string, what: string): void {
  if (net.isIP(host) === 0) throw new TypeError(`${what} must be a numeric IP address, got ${JSON.stringify(host)}`);
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`${what} must be an integer in 0..65535, got ${port}`);
}

/** '::ffff:1.2.3.4' -> '1.2.3.4', so an IPv4 peer is dialled from an IPv4 socket. */
function unmapV4(host: string): string {
  const tail = host.toLowerCase().startsWith('::ffff:') ? host.slice(7) : '';
  return net.isIPv4(tail) ? tail : host;
}

function fmt(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An Error carrying an errno name, for failures decided on the JS side. */
function errnoError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(`${code} (${message})`), { code });
}

/**
 * Listen on host:port with SO_REUSEADDR + SO_REUSEPORT, handed to a net.Server.
 * Resolves once the server is listening; attach 'connection' listeners to it.
 */
export function fighterListen(opts: FighterListenOptions): Promise<net.Server> {
  checkHost(opts.host, 'host');
  checkPort(opts.port, 'port');
  const backlog = opts.backlog ?? DEFAULT_BACKLOG;
  if (!Number.isInteger(backlog) || backlog < 0) throw new RangeError(`backlog must be a non-negative integer, got ${backlog}`);
  const native = requireNative();
  // An addon built before dual-stack listeners would silently make `::` IPv6-only.
  if (opts.dualStack && native.dualStackListen !== true) {
    return Promise.reject(errnoError('EAFNOSUPPORT', 'the native addon predates dual-stack listeners: rebuild it with `npx node-gyp rebuild`'));
  }
  let fd: number;
  try {
    fd = opts.dualStack && net.isIPv6(opts.host) ? native.listen(opts.host, opts.port, backlog, false) : native.listen(opts.host, opts.port, backlog);
  } catch (err) {
    return Promise.reject(err);
  }
  return adoptListener(fd, backlog);
}

function adoptListener(fd: number, backlog: number): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    // Node owns the fd from here on (server.close() closes it), even on error.
    server.once('error', reject);
    server.listen({ fd, backlog }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Connect to host:port from localHost:localPort with SO_REUSEADDR + SO_REUSEPORT, so the
 * local port may be one a fighter listener (or other fighter connections) already use.
 * Resolves with a connected net.Socket that owns the fd.
 */
export function fighterConnect(opts: FighterConnectOptions): Promise<net.Socket> {
  const host = unmapV4(opts.host);
  checkHost(host, 'host');
  checkPort(opts.port, 'port');
  checkPort(opts.localPort, 'localPort');
  const localHost = opts.localHost ?? (net.isIPv6(host) ? '::' : '0.0.0.0');
  checkHost(localHost, 'localHost');
  if (!(opts.timeoutMs > 0 && Number.isFinite(opts.timeoutMs))) throw new RangeError(`timeoutMs must be a positive number, got ${opts.timeoutMs}`);
  const { ttl, shieldMs } = opts;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= MIN_TTL && ttl <= MAX_TTL)) throw new RangeError(`ttl must be an integer in ${MIN_TTL}..${MAX_TTL}, got ${ttl}`);
  if (shieldMs !== undefined && (ttl === undefined || !(shieldMs > 0 && Number.isFinite(shieldMs)))) throw new RangeError(`shieldMs must be a positive number and needs ttl, got ${shieldMs}`);
  const native = requireNative();
  const what = `fighter connect ${fmt(localHost, opts.localPort)} -> ${fmt(host, opts.port)}${ttl !== undefined ? ` (ttl ${ttl})` : ''}`;
  const failed = (err: unknown): SentinelError => new SentinelError('E_DIAL_FAILED', joinDetail(what, errorMessage(err)), { cause: err });
  if (opts.signal?.aborted) return Promise.reject(failed(errnoError('ECANCELED', 'aborted')));
  return new Promise((resolve, reject) => {
    let disarm = (): void => {};
    let unshield = (): void => {};
    let handle: ConnectHandle;
    try {
      handle = native.connect(localHost, opts.localPort, host, opts.port, (err, fd) => {
        disarm();
        unshield();
        if (err || fd === undefined) return reject(failed(err));
        try {
          if (ttl !== undefined) restoreTtl(native, fd);
          resolve(adoptSocket(native, fd));
        } catch (adoptErr) {
          reject(failed(adoptErr));
        }
      }, ttl, shieldMs !== undefined ? SHIELD_MIN_TTL : undefined);
    } catch (err) {
      return reject(failed(err));
    }
    if (shieldMs !== undefined) {
      const timer = setTimeout(() => {
        try {
          handle.setTtl(-1, 0);
        } catch {
          // the socket is gone; the connect's own outcome says why
        }
      }, shieldMs);
      unshield = () => clearTimeout(timer);
    }
    disarm = arm(opts.timeoutMs, opts.signal, (code, message) => {
      disarm();
      unshield();
      handle.cancel(); // closes the fd; the native callback will not run
      reject(failed(errnoError(code, message)));
    });
  });
}

/** Calls `cancel` on timeout or abort, once; returns a function that disarms both. */
function arm(timeoutMs: number, signal: AbortSignal | undefined, cancel: (code: string, message: string) => void): () => void {
  const onAbort = (): void => cancel('ECANCELED', 'aborted');
  const timer = setTimeout(() => cancel('ETIMEDOUT', `no answer within ${timeoutMs} ms`), timeoutMs);
  signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
}

/** The system defaults again on a connected socket (closes the fd if that fails). */
function restoreTtl(native: FighterNative, fd: number): void {
  try {
    native.setTtl(fd, -1, 0);
  } catch (err) {
    native.close(fd);
    throw err;
  }
}

function adoptSocket(native: FighterNative, fd: number): net.Socket {
  try {
    return new net.Socket({ fd, readable: true, writable: true });
  } catch (err) {
    native.close(fd);
    throw err;
  }
}

/**
 * The errno name behind a fighter failure: `cause.code` of an E_DIAL_FAILED error, or
 * `code` of an errno error (from fighterListen). Undefined for anything else.
 */
export function dialErrno(err: unknown): string | undefined {
  const source = err instanceof SentinelError ? err.cause : err;
  const code = errorCode(source);
  return code !== undefined && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}
