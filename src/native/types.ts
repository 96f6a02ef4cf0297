/**
 * The shape of the C addon (native/binding.c) as JavaScript sees it. Every fd it returns
 * is a non-blocking, close-on-exec TCP socket bound with SO_REUSEADDR and SO_REUSEPORT.
 */

/** An errno failure from the addon: `code` is the errno name (e.g. 'ECONNREFUSED'). */
export interface NativeErrnoError extends Error {
  readonly code: string;
  /** Negative errno, as in Node's own system errors. */
  readonly errno: number;
  /** The system call that failed ('bind', 'connect', ...). */
  readonly syscall: string;
}

/** Result of a non-blocking connect: an error, or the connected fd (now the caller's). */
export type ConnectCallback = (err: NativeErrnoError | null, fd?: number) => void;

/** A connect in flight. */
export interface ConnectHandle {
  /**
   * Stop waiting: closes the fd; the callback is never called afterwards.
   * Returns true when a pending connect was cancelled, false when it had already finished.
   */
  cancel(): boolean;
}

/** Local address of a socket. */
export interface SockName {
  address: string;
  port: number;
}

/** The addon's exports. Hosts are numeric IPv4/IPv6 addresses; no name resolution. */
export interface FighterNative {
  /** socket, reuse options, bind, listen. Returns the listening fd; throws NativeErrnoError. */
  listen(host: string, port: number, backlog: number): number;
  /**
   * socket, reuse options, bind to the local address, non-blocking connect. Throws for
   * failures found at once (bad address, bind error); later outcomes go to `cb`, once.
   * `ttl` (1..255) is set before connect(2), so the SYN carries it, and stays on the
   * socket until {@link setTtl} changes it; absent: the system default.
   */
  connect(localHost: string, localPort: number, host: string, port: number, cb: ConnectCallback, ttl?: number): ConnectHandle;
  /** close(2). */
  close(fd: number): void;
  /** getsockname(2). */
  sockname(fd: number): SockName;
  /** setsockopt IP_TTL (IPv4) or IPV6_UNICAST_HOPS (IPv6): 1..255, or -1 for the system default. */
  setTtl(fd: number, ttl: number): void;
  /** getsockopt IP_TTL / IPV6_UNICAST_HOPS: the TTL or hop limit of what `fd` sends. */
  getTtl(fd: number): number;
}
