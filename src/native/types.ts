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
  /**
   * setsockopt on the pending socket: `ttl` as in {@link FighterNative.setTtl}, `minTtl`
   * IP_MINTTL / IPV6_MINHOPCOUNT (0 = off). True when applied, false when the connect had
   * already finished.
   */
  setTtl(ttl: number, minTtl: number): boolean;
}

/** What a socket sends with and the lowest TTL it accepts (0 = any). */
export interface TtlInfo {
  ttl: number;
  minTtl: number;
}

/** TCP_INFO loss counters of a TCP socket (cumulative, u32: they wrap). */
export interface TcpInfo {
  /** tcpi_segs_out: segments sent, retransmissions included. */
  segsOut: number;
  /** tcpi_total_retrans: segments retransmitted. */
  totalRetrans: number;
}

/** Local address of a socket. */
export interface SockName {
  address: string;
  port: number;
}

/** The addon's exports. Hosts are numeric IPv4/IPv6 addresses; no name resolution. */
export interface FighterNative {
  /**
   * socket, reuse options, bind, listen. Returns the listening fd; throws NativeErrnoError.
   * `v6only` (default true) sets IPV6_V6ONLY on an IPv6 socket; false makes `::` dual-stack.
   */
  listen(host: string, port: number, backlog: number, v6only?: boolean): number;
  /** True when `listen` honours `v6only` (builds before it ignore the argument). */
  readonly dualStackListen?: boolean;
  /**
   * socket, reuse options, bind to the local address, non-blocking connect. Throws for
   * failures found at once (bad address, bind error); later outcomes go to `cb`, once.
   * `ttl` (1..255) and `minTtl` (0..255) are set before connect(2), so the SYN carries the
   * TTL and the socket drops any segment or ICMP error arriving with a TTL below `minTtl`
   * from the start; both stay until changed. Absent: the system defaults.
   */
  connect(localHost: string, localPort: number, host: string, port: number, cb: ConnectCallback, ttl?: number, minTtl?: number): ConnectHandle;
  /** close(2). */
  close(fd: number): void;
  /**
   * getsockopt TCP_NOTSENT_LOWAT: every fighter socket is created with 128 KiB
   * (native/sentinel_native.h), accepted ones inherit it from the listener. Absent in
   * builds before it.
   */
  notsentLowat?(fd: number): number;
  /** getsockname(2). */
  sockname(fd: number): SockName;
  /**
   * setsockopt IP_TTL (IPv4) or IPV6_UNICAST_HOPS (IPv6): 1..255, or -1 for the system
   * default; and, when given, IP_MINTTL / IPV6_MINHOPCOUNT (0 = off).
   */
  setTtl(fd: number, ttl: number, minTtl?: number): void;
  /** getsockopt of the same options, by the socket's family. */
  getTtl(fd: number): TtlInfo;
  /** getsockopt(TCP_INFO) of a TCP socket (absent in builds before it). */
  tcpInfo?(fd: number): TcpInfo;
}
