/*
 * sentinel_native: "fighter sockets", the TUN device, and UDP sockets that report the
 * TTL of what they receive (for mDNS).
 *
 * TCP sockets bound with SO_REUSEADDR and SO_REUSEPORT, so that a listener and any
 * number of outgoing connections can share one local port (TCP hole punching by
 * simultaneous open). Thin and policy-free: each export is a few system calls; the
 * caller decides addresses, timeouts and retries. Failures carry the errno name in
 * err.code (and err.errno = -errno, err.syscall), like Node's own errors.
 *
 *   listen(host, port, backlog[, v6only])               -> fd  (v6only default true;
 *                                                          dualStackListen: true says so)
 *   connect(localHost, localPort, host, port, cb[, ttl[, minTtl]])
 *                                                       -> handle { cancel() -> bool,
 *                                                                   setTtl(ttl, minTtl) -> bool }
 *                                                          cb(err) | cb(null, fd)
 *   close(fd)
 *   sockname(fd)                                        -> { address, port }
 *   setTtl(fd, ttl[, minTtl])                              IP_TTL / IPV6_UNICAST_HOPS (-1 = default),
 *                                                          IP_MINTTL / IPV6_MINHOPCOUNT (0 = off)
 *   getTtl(fd)                                          -> { ttl, minTtl }
 *   tcpInfo(fd)                                         -> { segsOut, totalRetrans }  TCP_INFO
 *   tunOpen(name[, offload])                            -> { fd, name, offload }   (Linux)
 *   tunStartReading(fd, size, cb)                          cb(packets[, err]) per batch
 *   tunStopReading(fd)                                  -> bool
 *   tunWrite(fd, packets[, headers])                    -> number written
 *   udpBind(host, port, reuseAddr[, v6only])            -> fd  (reports TTL / hop limit)
 *   udpSetOption(fd, name, value)                          IP_TTL, IP_MULTICAST_TTL, ...
 *   udpMembership(fd, group, ifaceAddr, join)              IPv4 multicast group
 *   udpMulticastInterface(fd, ifaceAddr)                   IPv4 outgoing multicast interface
 *   udpStartReading(fd, size, cb)                          cb([{ data, address, port, ttl }][, err])
 *   udpStopReading(fd)                                  -> bool
 *   udpSend(fd, data, host, port)                       -> bytes sent
 *   udpSendBatch(fd, datagrams, host, port)             -> datagrams sent (sendmmsg)
 *   udpStartReadingData(fd, size, cb)                      cb(buffers[, err]) per batch
 *   dgramSeal(key, datagram)                               AES-256-GCM in place (dgram.c)
 *   dgramOpen(key, datagram)                            -> plaintext | null
 *
 * Every fd is non-blocking and close-on-exec. connect() throws synchronously for errors
 * found before the connection is in flight (bad address, socket/bind failure, immediate
 * connect failure); later outcomes go to cb, exactly once, from the event loop. After
 * cancel() the fd is closed and cb is never called.
 *
 * TUN (IFF_TUN | IFF_NO_PI: whole IP packets; with offload, each behind a 10-byte
 * virtio_net_hdr, and TCP super-segments of up to 64 KiB) and UDP fds are read from the
 * event loop, in batches of up to READ_BATCH packets per callback; close(fd) stops a reader
 * on fd first.
 *
 * Files: binding.c (fighter sockets, close, sockname, the export table), ttl.c (TTL and
 * minimum TTL of a TCP socket), util.c (errno errors, argument checks), reader.c
 * (event-loop readers), tun.c, udp.c, dgram.c (the VPN datagram path); shared declarations in sentinel_native.h.
 */
#include "sentinel_native.h"

/* ---- fighter sockets ----------------------------------------------------------- */

/*
 * socket + SO_REUSEADDR + SO_REUSEPORT (+ IPV6_V6ONLY for an IPv6 address, so IPv4 and
 * IPv6 sockets can share a port; `v6only` false clears it instead, for a dual-stack
 * listener on `::` that also accepts IPv4 as IPv4-mapped addresses) + bind. Returns the
 * fd, or -errno with *syscall naming the failed call.
 */
static int open_bound(const struct sockaddr_storage *addr, socklen_t len, bool v6only, const char **syscall) {
  int one = 1;
  int v6 = v6only ? 1 : 0;
  *syscall = "socket";
  int fd = socket(addr->ss_family, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  if (set_flags(fd) < 0) goto fail;
  *syscall = "setsockopt";
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
  if (addr->ss_family == AF_INET6 && !is_v4_mapped(addr) &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) < 0) goto fail;
  /* Best effort (the kernel may lack it): see SENTINEL_NOTSENT_LOWAT. Accepted sockets
   * inherit it from the listener. */
  int lowat = SENTINEL_NOTSENT_LOWAT;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
  *syscall = "bind";
  if (bind(fd, (const struct sockaddr *)addr, len) < 0) goto fail;
  return fd;
fail: {
    int e = errno;
    close(fd);
    return -e;
  }
}

/* notsentLowat(fd) -> the socket's TCP_NOTSENT_LOWAT in bytes (for tests and status). */
static napi_value js_notsent_lowat(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int fd, value = 0;
  socklen_t len = sizeof value;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  if (getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &value, &len) < 0) return throw_errno(env, "getsockopt", errno);
  CALL(env, napi_create_int32(env, value, &out));
  return out;
}

/* listen(host, port, backlog[, v6only]) -> fd; v6only (default true) applies to IPv6 only. */
napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  napi_valuetype v6only_type = napi_undefined;
  struct sockaddr_storage addr;
  socklen_t len;
  int backlog;
  bool v6only = true;
  size_t argc = 4;
  if (!get_args(env, info, 3, argv) || !get_host_port(env, argv[0], argv[1], &addr, &len) ||
      !get_int(env, argv[2], 0, INT_MAX, "backlog", &backlog)) return NULL;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 4) CALL(env, napi_typeof(env, argv[3], &v6only_type));
  if (v6only_type == napi_boolean) CALL(env, napi_get_value_bool(env, argv[3], &v6only));
  else if (v6only_type != napi_undefined) return throw_arg(env, "v6only must be a boolean");
  const char *syscall;
  int fd = open_bound(&addr, len, v6only, &syscall);
  if (fd < 0) return throw_errno(env, syscall, -fd);
  if (listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "listen", e);
  }
  return int_value(env, fd);
}

/* close(fd); a TUN reader on fd is stopped first. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  reader_forget(env, fd);
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

/* sockname(fd) -> { address, port } */
napi_value js_sockname(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, address, port;
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  char host[HOST_MAX], serv[8];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) return throw_errno(env, "getsockname", errno);
  if (getnameinfo((struct sockaddr *)&addr, len, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) return throw_errno(env, "getnameinfo", EAFNOSUPPORT);
  CALL(env, napi_create_object(env, &out));
  CALL(env, napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &address));
  CALL(env, napi_create_int32(env, atoi(serv), &port));
  CALL(env, napi_set_named_property(env, out, "address", address));
  CALL(env, napi_set_named_property(env, out, "port", port));
  return out;
}

/* ---- non-blocking connect ------------------------------------------------------- */

/*
 * A pending connect has two owners: libuv (until the poll handle's close callback) and
 * JS (until the handle object is finalized). It is freed when both have let go, so
 * cancel() on a collected-late handle and a poll firing after GC are both safe.
 */
enum { OWN_UV = 1, OWN_JS = 2 };

typedef struct {
  uv_poll_t poll; /* first member: the poll callback casts back to the request */
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int fd;
  int owners;
  bool done;   /* completed or cancelled: the callback has been released */
  bool hooked; /* env cleanup hook registered */
} connect_req;

static void req_release(connect_req *req, int owner) {
  req->owners &= ~owner;
  if (req->owners == 0) free(req);
}

static void on_poll_closed(uv_handle_t *handle) {
  req_release((connect_req *)handle, OWN_UV);
}

static void on_env_cleanup(void *arg);

/* Stop watching and release the JS callback; hands back the fd (now the caller's). */
static int req_finish(connect_req *req) {
  int fd = req->fd;
  req->fd = -1;
  req->done = true;
  if (req->hooked) napi_remove_env_cleanup_hook(req->env, on_env_cleanup, req);
  req->hooked = false;
  if (req->callback) napi_delete_reference(req->env, req->callback);
  req->callback = NULL;
  if (req->async) napi_async_destroy(req->env, req->async);
  req->async = NULL;
  /* uv_close stops the poll and unregisters the fd before we close or hand it over. */
  if (req->owners & OWN_UV) uv_close((uv_handle_t *)&req->poll, on_poll_closed);
  return fd;
}

/* The environment is going away (worker exit, process teardown) with a connect pending. */
static void on_env_cleanup(void *arg) {
  connect_req *req = arg;
  req->hooked = false;
  if (!req->done) close(req_finish(req));
}

static void report(connect_req *req, int err) {
  napi_env env = req->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[2], result;
  napi_open_handle_scope(env, &scope);
  napi_get_reference_value(env, req->callback, &cb);
  napi_async_context async = req->async;
  req->async = NULL; /* destroyed below, after the call */
  int fd = req_finish(req);
  if (err) {
    close(fd);
    argv[0] = errno_error(env, "connect", err);
    napi_get_undefined(env, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_int32(env, fd, &argv[1]);
  }
  napi_get_global(env, &recv);
  if (napi_make_callback(env, async, recv, cb, 2, argv, &result) != napi_ok) {
    bool pending = false;
    napi_value exc;
    napi_is_exception_pending(env, &pending);
    if (pending && napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
  napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

static bool is_connected(int fd) {
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  return getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

static void on_writable(uv_poll_t *poll, int status, int events) {
  (void)events;
  connect_req *req = (connect_req *)poll;
  int err = 0;
  socklen_t len = sizeof err;
  if (req->done) return;
  /* libuv reports POLLERR as UV_EBADF: the real reason is in SO_ERROR. */
  if (getsockopt(req->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0 && status < 0) err = -status;
  if (err == 0 && !is_connected(req->fd)) return; /* spurious wakeup: keep waiting */
  report(req, err);
}

static void on_handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  req_release(data, OWN_JS);
}

/* handle.cancel() -> true if a pending connect was cancelled (fd closed, no callback). */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  napi_value self;
  connect_req *req = NULL;
  CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  CALL(env, napi_unwrap(env, self, (void **)&req));
  napi_value out;
  bool pending = !req->done;
  if (pending) close(req_finish(req));
  CALL(env, napi_get_boolean(env, pending, &out));
  return out;
}

/*
 * handle.setTtl(ttl, minTtl) -> true if applied to the pending connect's socket (see
 * set_ttl; ttl -1 = the system default), false if the connect had already finished.
 */
static napi_value js_handle_set_ttl(napi_env env, napi_callback_info info) {
  napi_value self, argv[2], out;
  size_t argc = 2;
  connect_req *req = NULL;
  int ttl, min_ttl;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CALL(env, napi_unwrap(env, self, (void **)&req));
  if (argc < 2) return throw_arg(env, "missing arguments");
  if (!get_int(env, argv[0], -1, 255, "ttl", &ttl) || !get_int(env, argv[1], 0, 255, "minTtl", &min_ttl)) return NULL;
  if (ttl == 0) return throw_arg(env, "ttl must be 1..255 or -1 (system default)");
  bool pending = !req->done;
  if (pending) {
    const char *syscall;
    int r = ttl_set(req->fd, ttl, min_ttl, &syscall);
    if (r < 0) return throw_errno(env, syscall, -r);
  }
  CALL(env, napi_get_boolean(env, pending, &out));
  return out;
}

/* Register the poll and the JS side of a request whose connect(2) is in flight. */
static napi_value start_watch(napi_env env, connect_req *req, napi_value cb) {
  napi_value handle, cancel, set_ttl_fn, name;
  uv_loop_t *loop;
  CALL(env, napi_create_object(env, &handle));
  CALL(env, napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, js_cancel, NULL, &cancel));
  CALL(env, napi_set_named_property(env, handle, "cancel", cancel));
  CALL(env, napi_create_function(env, "setTtl", NAPI_AUTO_LENGTH, js_handle_set_ttl, NULL, &set_ttl_fn));
  CALL(env, napi_set_named_property(env, handle, "setTtl", set_ttl_fn));
  CALL(env, napi_wrap(env, handle, req, on_handle_finalize, NULL, NULL));
  req->owners |= OWN_JS;
  CALL(env, napi_create_reference(env, cb, 1, &req->callback));
  CALL(env, napi_create_string_utf8(env, "SentinelFighterConnect", NAPI_AUTO_LENGTH, &name));
  CALL(env, napi_async_init(env, handle, name, &req->async));
  CALL(env, napi_get_uv_event_loop(env, &loop));
  int r = uv_poll_init_socket(loop, &req->poll, req->fd);
  if (r < 0) return throw_errno(env, "uv_poll_init", -r);
  req->owners |= OWN_UV;
  r = uv_poll_start(&req->poll, UV_WRITABLE, on_writable);
  if (r < 0) return throw_errno(env, "uv_poll_start", -r);
  CALL(env, napi_add_env_cleanup_hook(env, on_env_cleanup, req));
  req->hooked = true;
  return handle;
}

/*
 * connect(localHost, localPort, host, port, cb[, ttl[, minTtl]]) -> handle. `ttl` (1..255)
 * and `minTtl` (0..255; see set_ttl) are set before connect(2), so the SYN carries the TTL
 * and the socket drops what arrives below minTtl from the start (an ICMP time exceeded for
 * a low-TTL SYN would otherwise end the connect). Absent or undefined: left as they are.
 * handle.setTtl(ttl, minTtl) changes both while the connect is pending.
 */
napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  napi_valuetype cb_type;
  struct sockaddr_storage local, remote;
  socklen_t local_len, remote_len;
  size_t argc = 7;
  int ttl, min_ttl;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_arg(env, "missing arguments");
  if (!get_host_port(env, argv[0], argv[1], &local, &local_len) ||
      !get_host_port(env, argv[2], argv[3], &remote, &remote_len)) return NULL;
  CALL(env, napi_typeof(env, argv[4], &cb_type));
  if (cb_type != napi_function) return throw_arg(env, "callback must be a function");
  if (!ttl_args(env, argc - 5, argv + 5, &ttl, &min_ttl)) return NULL;
  if (local.ss_family != remote.ss_family) return throw_errno(env, "connect", EAFNOSUPPORT);

  const char *syscall;
  int fd = open_bound(&local, local_len, true, &syscall);
  if (fd < 0) return throw_errno(env, syscall, -fd);
  if (ttl != NO_CHANGE || min_ttl != NO_CHANGE) {
    int r = ttl_set(fd, ttl, min_ttl, &syscall);
    if (r < 0) {
      close(fd);
      return throw_errno(env, syscall, -r);
    }
  }
  if (connect(fd, (struct sockaddr *)&remote, remote_len) < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return throw_errno(env, "connect", e);
  }
  connect_req *req = calloc(1, sizeof *req);
  if (req == NULL) {
    close(fd);
    return throw_errno(env, "connect", ENOMEM);
  }
  req->env = env;
  req->fd = fd;
  napi_value handle = start_watch(env, req, argv[4]);
  if (handle == NULL) {
    /* Undo whatever start_watch got to; the owners free req once both let go. */
    close(req_finish(req));
    if (!(req->owners & (OWN_UV | OWN_JS))) free(req);
  }
  return handle;
}

/* ---- module ------------------------------------------------------------------------ */

NAPI_MODULE_INIT() {
  napi_property_descriptor table[] = {
    { "listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL },
    { "connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "notsentLowat", NULL, js_notsent_lowat, NULL, NULL, NULL, napi_enumerable, NULL },
    { "sockname", NULL, js_sockname, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setTtl", NULL, js_set_ttl, NULL, NULL, NULL, napi_enumerable, NULL },
    { "getTtl", NULL, js_get_ttl, NULL, NULL, NULL, napi_enumerable, NULL },
    { "tcpInfo", NULL, js_tcp_info, NULL, NULL, NULL, napi_enumerable, NULL },
    { "tunOpen", NULL, js_tun_open, NULL, NULL, NULL, napi_enumerable, NULL },
    { "tunStartReading", NULL, js_tun_start_reading, NULL, NULL, NULL, napi_enumerable, NULL },
    { "tunStopReading", NULL, js_stop_reading, NULL, NULL, NULL, napi_enumerable, NULL },
    { "tunWrite", NULL, js_tun_write, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpBind", NULL, js_udp_bind, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpSetOption", NULL, js_udp_set_option, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpMembership", NULL, js_udp_membership, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpMulticastInterface", NULL, js_udp_multicast_interface, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpStartReading", NULL, js_udp_start_reading, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpStopReading", NULL, js_stop_reading, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpSend", NULL, js_udp_send, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpSendBatch", NULL, js_udp_send_batch, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpStartReadingData", NULL, js_udp_start_reading_data, NULL, NULL, NULL, napi_enumerable, NULL },
    { "dgramSeal", NULL, js_dgram_seal, NULL, NULL, NULL, napi_enumerable, NULL },
    { "dgramOpen", NULL, js_dgram_open, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof table / sizeof table[0], table) != napi_ok) return fail(env);
  /* Feature flag: listen() takes the v6only argument (an older build ignores it). */
  napi_value yes;
  if (napi_get_boolean(env, true, &yes) != napi_ok ||
      napi_set_named_property(env, exports, "dualStackListen", yes) != napi_ok) return fail(env);
  return exports;
}
