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
 *   listen(host, port, backlog)                         -> fd
 *   connect(localHost, localPort, host, port, cb)       -> handle { cancel() -> bool }
 *                                                          cb(err) | cb(null, fd)
 *   close(fd)
 *   sockname(fd)                                        -> { address, port }
 *   tunOpen(name)                                       -> { fd, name }   (Linux)
 *   tunStartReading(fd, mtu, cb)                           cb(packets[, err]) per batch
 *   tunStopReading(fd)                                  -> bool
 *   tunWrite(fd, packets)                               -> number written
 *   udpBind(host, port, reuseAddr)                      -> fd  (reports TTL / hop limit)
 *   udpSetOption(fd, name, value)                          IP_TTL, IP_MULTICAST_TTL, ...
 *   udpMembership(fd, group, ifaceAddr, join)              IPv4 multicast group
 *   udpMulticastInterface(fd, ifaceAddr)                   IPv4 outgoing multicast interface
 *   udpStartReading(fd, size, cb)                          cb([{ data, address, port, ttl }][, err])
 *   udpStopReading(fd)                                  -> bool
 *   udpSend(fd, data, host, port)                       -> bytes sent
 *
 * Every fd is non-blocking and close-on-exec. connect() throws synchronously for errors
 * found before the connection is in flight (bad address, socket/bind failure, immediate
 * connect failure); later outcomes go to cb, exactly once, from the event loop. After
 * cancel() the fd is closed and cb is never called.
 *
 * TUN (IFF_TUN | IFF_NO_PI: whole IP packets, no header) and UDP fds are read from the
 * event loop, in batches of up to READ_BATCH packets per callback; close(fd) stops a reader
 * on fd first.
 */
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/if_tun.h>
#endif

#define HOST_MAX 96

/* ---- errors ------------------------------------------------------------------ */

#define ERRNO_NAME(e) { e, #e }
static const struct { int num; const char *name; } errno_names[] = {
  ERRNO_NAME(EACCES),       ERRNO_NAME(EADDRINUSE),   ERRNO_NAME(EADDRNOTAVAIL),
  ERRNO_NAME(EAFNOSUPPORT), ERRNO_NAME(EAGAIN),       ERRNO_NAME(EALREADY),
  ERRNO_NAME(EBADF),        ERRNO_NAME(ECANCELED),    ERRNO_NAME(ECONNABORTED),
  ERRNO_NAME(ECONNREFUSED), ERRNO_NAME(ECONNRESET),   ERRNO_NAME(EHOSTUNREACH),
  ERRNO_NAME(EINPROGRESS),  ERRNO_NAME(EINTR),        ERRNO_NAME(EINVAL),
  ERRNO_NAME(EISCONN),      ERRNO_NAME(EMFILE),       ERRNO_NAME(ENETDOWN),
  ERRNO_NAME(ENETUNREACH),  ERRNO_NAME(ENFILE),       ERRNO_NAME(ENOBUFS),
  ERRNO_NAME(ENOMEM),       ERRNO_NAME(ENOPROTOOPT),  ERRNO_NAME(ENOTCONN),
  ERRNO_NAME(ENOTSOCK),     ERRNO_NAME(EPERM),        ERRNO_NAME(EPIPE),
  ERRNO_NAME(EPROTONOSUPPORT), ERRNO_NAME(ETIMEDOUT),
  ERRNO_NAME(EBUSY),        ERRNO_NAME(EIO),          ERRNO_NAME(EMSGSIZE),
  ERRNO_NAME(ENODEV),       ERRNO_NAME(ENOENT),       ERRNO_NAME(ENOSYS),
  ERRNO_NAME(ENXIO),
#ifdef EBADFD
  ERRNO_NAME(EBADFD),
#endif
#ifdef EHOSTDOWN
  ERRNO_NAME(EHOSTDOWN),
#endif
};

/* The errno's symbolic name, or "E<number>" for ones outside the table. */
static const char *errno_name(int num, char *buf, size_t len) {
  for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++) {
    if (errno_names[i].num == num) return errno_names[i].name;
  }
  snprintf(buf, len, "E%d", num);
  return buf;
}

static napi_value errno_error(napi_env env, const char *syscall, int num) {
  char buf[24], msg[160];
  const char *name = errno_name(num, buf, sizeof buf);
  snprintf(msg, sizeof msg, "%s %s (%s)", syscall, name, strerror(num));
  napi_value code, text, err, errno_v, syscall_v;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &err);
  napi_create_int32(env, -num, &errno_v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  napi_set_named_property(env, err, "errno", errno_v);
  napi_set_named_property(env, err, "syscall", syscall_v);
  return err;
}

static napi_value throw_errno(napi_env env, const char *syscall, int num) {
  napi_throw(env, errno_error(env, syscall, num));
  return NULL;
}

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return NULL;
}

/* Turn a failed N-API call into a JS exception (unless one is already pending). */
static napi_value fail(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  const char *msg = info && info->error_message ? info->error_message : "N-API call failed";
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_NATIVE", msg);
  return NULL;
}

#define CALL(env, expr)                       \
  do {                                        \
    if ((expr) != napi_ok) return fail(env);  \
  } while (0)

/* ---- arguments ----------------------------------------------------------------- */

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return fail(env), false;
  if (argc < want) return throw_arg(env, "missing arguments"), false;
  return true;
}

static bool get_int(napi_env env, napi_value v, int min, int max, const char *what, int *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != d || d < min || d > max || d != (double)(int)d) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be an integer in %d..%d", what, min, max);
    return throw_arg(env, msg), false;
  }
  *out = (int)d;
  return true;
}

/* Parse a numeric IPv4/IPv6 address (scope ids allowed) and a port into *addr. */
static bool get_addr(napi_env env, napi_value v, int port, struct sockaddr_storage *addr, socklen_t *len) {
  char host[HOST_MAX];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, host, sizeof host, &n) != napi_ok || n == 0 || n >= sizeof host - 1) {
    return throw_arg(env, "host must be a numeric IP address string"), false;
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
    return throw_arg(env, "host must be a numeric IP address string"), false;
  }
  memset(addr, 0, sizeof *addr);
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  if (addr->ss_family == AF_INET6) ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
  else ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
  return true;
}

static bool get_host_port(napi_env env, napi_value host, napi_value port_v,
                          struct sockaddr_storage *addr, socklen_t *len) {
  int port;
  return get_int(env, port_v, 0, 65535, "port", &port) && get_addr(env, host, port, addr, len);
}

static napi_value int_value(napi_env env, int n) {
  napi_value v;
  CALL(env, napi_create_int32(env, n, &v));
  return v;
}

/* ---- sockets ------------------------------------------------------------------- */

static bool is_v4_mapped(const struct sockaddr_storage *addr) {
  return addr->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)addr)->sin6_addr);
}

static int set_flags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/*
 * socket + SO_REUSEADDR + SO_REUSEPORT (+ IPV6_V6ONLY, so IPv4 and IPv6 sockets can
 * share a port) + bind. Returns the fd, or -errno with *syscall naming the failed call.
 */
static int open_bound(const struct sockaddr_storage *addr, socklen_t len, const char **syscall) {
  int one = 1;
  *syscall = "socket";
  int fd = socket(addr->ss_family, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  if (set_flags(fd) < 0) goto fail;
  *syscall = "setsockopt";
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
  if (addr->ss_family == AF_INET6 && !is_v4_mapped(addr) &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) goto fail;
  *syscall = "bind";
  if (bind(fd, (const struct sockaddr *)addr, len) < 0) goto fail;
  return fd;
fail: {
    int e = errno;
    close(fd);
    return -e;
  }
}

/* listen(host, port, backlog) -> fd */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct sockaddr_storage addr;
  socklen_t len;
  int backlog;
  if (!get_args(env, info, 3, argv) || !get_host_port(env, argv[0], argv[1], &addr, &len) ||
      !get_int(env, argv[2], 0, INT_MAX, "backlog", &backlog)) return NULL;
  const char *syscall;
  int fd = open_bound(&addr, len, &syscall);
  if (fd < 0) return throw_errno(env, syscall, -fd);
  if (listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "listen", e);
  }
  return int_value(env, fd);
}

static bool reader_forget(napi_env env, int fd);

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
static napi_value js_sockname(napi_env env, napi_callback_info info) {
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

/* Register the poll and the JS side of a request whose connect(2) is in flight. */
static napi_value start_watch(napi_env env, connect_req *req, napi_value cb) {
  napi_value handle, cancel, name;
  uv_loop_t *loop;
  CALL(env, napi_create_object(env, &handle));
  CALL(env, napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, js_cancel, NULL, &cancel));
  CALL(env, napi_set_named_property(env, handle, "cancel", cancel));
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

/* connect(localHost, localPort, host, port, cb) -> handle */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  napi_valuetype cb_type;
  struct sockaddr_storage local, remote;
  socklen_t local_len, remote_len;
  if (!get_args(env, info, 5, argv) || !get_host_port(env, argv[0], argv[1], &local, &local_len) ||
      !get_host_port(env, argv[2], argv[3], &remote, &remote_len)) return NULL;
  CALL(env, napi_typeof(env, argv[4], &cb_type));
  if (cb_type != napi_function) return throw_arg(env, "callback must be a function");
  if (local.ss_family != remote.ss_family) return throw_errno(env, "connect", EAFNOSUPPORT);

  const char *syscall;
  int fd = open_bound(&local, local_len, &syscall);
  if (fd < 0) return throw_errno(env, syscall, -fd);
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

/* ---- fd readers (TUN devices, UDP sockets) ---------------------------------------- */

/*
 * A TUN or UDP fd is read from the event loop: a uv_poll_t watches it, and on readability
 * the reader's drain function reads up to READ_BATCH packets into one reusable buffer,
 * copying each out at its exact length, then calls JS once with the batch. No thread-pool
 * round trip per packet. Readers are kept in one list (keyed by env and fd, guarded for
 * workers) so tunStopReading(fd) / udpStopReading(fd) and close(fd) find them; a reader is
 * freed in its poll's close callback.
 */
#define READ_BATCH 64
#define TUN_MTU_MAX 65535

typedef struct fd_reader fd_reader;

/* Reads what is ready into a new JS array; sets *err (an errno) when the fd failed. */
typedef napi_value (*drain_fn)(fd_reader *r, int *err);

struct fd_reader {
  uv_poll_t poll; /* first member: the poll callback casts back to the reader */
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  struct fd_reader *next;
  drain_fn drain;
  const char *syscall; /* named in the error of a failed read */
  int fd;
  bool stopped;
  bool busy;   /* inside the JS callback: stop() leaves the callback's release to us */
  bool hooked; /* env cleanup hook registered */
  size_t size;
  unsigned char buf[]; /* size bytes */
};

static fd_reader *readers = NULL;
static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER;

/* Remove and return the live reader for (env, fd), if any. */
static fd_reader *reader_unlink(napi_env env, int fd) {
  pthread_mutex_lock(&readers_lock);
  fd_reader **p = &readers, *r;
  while ((r = *p) != NULL && !(r->env == env && r->fd == fd)) p = &r->next;
  if (r != NULL) *p = r->next;
  pthread_mutex_unlock(&readers_lock);
  return r;
}

static bool reader_link(fd_reader *r) {
  pthread_mutex_lock(&readers_lock);
  fd_reader *q = readers;
  while (q != NULL && !(q->env == r->env && q->fd == r->fd)) q = q->next;
  if (q == NULL) {
    r->next = readers;
    readers = r;
  }
  pthread_mutex_unlock(&readers_lock);
  return q == NULL;
}

static void reader_release_js(fd_reader *r) {
  if (r->callback) napi_delete_reference(r->env, r->callback);
  r->callback = NULL;
  if (r->async) napi_async_destroy(r->env, r->async);
  r->async = NULL;
}

static void on_reader_closed(uv_handle_t *handle) {
  free(handle);
}

static void on_reader_env_cleanup(void *arg);

/* Stop an unlinked reader: the fd stays open (it is the caller's). */
static void reader_stop(fd_reader *r) {
  r->stopped = true;
  if (r->hooked) napi_remove_env_cleanup_hook(r->env, on_reader_env_cleanup, r);
  r->hooked = false;
  if (!r->busy) reader_release_js(r);
  uv_close((uv_handle_t *)&r->poll, on_reader_closed);
}

static void on_reader_env_cleanup(void *arg) {
  fd_reader *r = arg;
  r->hooked = false;
  if (reader_unlink(r->env, r->fd) == r) reader_stop(r);
}

/* Stop reading fd if it is being read (before close(2): libuv must not poll a closed fd). */
static bool reader_forget(napi_env env, int fd) {
  fd_reader *r = reader_unlink(env, fd);
  if (r != NULL) reader_stop(r);
  return r != NULL;
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)status; /* an error shows up as the read's errno */
  (void)events;
  fd_reader *r = (fd_reader *)poll;
  if (r->stopped) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[2], result;
  uint32_t count = 0;
  int err = 0;
  napi_open_handle_scope(env, &scope);
  argv[0] = r->drain(r, &err);
  if (argv[0] != NULL) napi_get_array_length(env, argv[0], &count);
  if (err) {
    /* A dead fd would wake us forever: stop first, then tell JS why. */
    r->busy = true;
    if (reader_unlink(env, r->fd) == r) reader_stop(r);
    argv[1] = errno_error(env, r->syscall, err);
  } else {
    napi_get_undefined(env, &argv[1]);
  }
  if (argv[0] != NULL && (count > 0 || err)) {
    r->busy = true;
    napi_get_reference_value(env, r->callback, &cb);
    napi_get_global(env, &recv);
    if (napi_make_callback(env, r->async, recv, cb, 2, argv, &result) != napi_ok) {
      bool pending = false;
      napi_value exc;
      napi_is_exception_pending(env, &pending);
      if (pending && napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  /* Still allocated: the poll's close callback runs only after this one returns. */
  r->busy = false;
  if (r->stopped) reader_release_js(r);
  napi_close_handle_scope(env, scope);
}

/*
 * Start reading fd: argv = (fd, size, cb). `what` names the JS function in errors and the
 * async resource. Throws EBUSY if fd is already read.
 */
static napi_value start_reading(napi_env env, napi_value *argv, int size_max, drain_fn drain,
                                const char *syscall, const char *what) {
  napi_value name;
  napi_valuetype cb_type;
  uv_loop_t *loop;
  int fd, size;
  if (!get_int(env, argv[0], 0, INT_MAX, "fd", &fd) || !get_int(env, argv[1], 1, size_max, "size", &size)) return NULL;
  CALL(env, napi_typeof(env, argv[2], &cb_type));
  if (cb_type != napi_function) return throw_arg(env, "callback must be a function");
  CALL(env, napi_get_uv_event_loop(env, &loop));
  fd_reader *r = calloc(1, sizeof *r + (size_t)size);
  if (r == NULL) return throw_errno(env, what, ENOMEM);
  r->env = env;
  r->fd = fd;
  r->size = (size_t)size;
  r->drain = drain;
  r->syscall = syscall;
  if (!reader_link(r)) {
    free(r);
    return throw_errno(env, what, EBUSY);
  }
  int e = uv_poll_init(loop, &r->poll, fd);
  if (e < 0) {
    reader_unlink(env, fd);
    free(r);
    return throw_errno(env, "uv_poll_init", -e);
  }
  /* From here the poll owns r: every failure goes through reader_stop (uv_close, then free). */
  napi_status s = napi_create_reference(env, argv[2], 1, &r->callback);
  if (s == napi_ok) s = napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name);
  if (s == napi_ok) s = napi_async_init(env, NULL, name, &r->async);
  if (s == napi_ok) s = napi_add_env_cleanup_hook(env, on_reader_env_cleanup, r);
  r->hooked = s == napi_ok;
  e = s == napi_ok ? uv_poll_start(&r->poll, UV_READABLE, on_readable) : 0;
  if (s != napi_ok || e < 0) {
    reader_unlink(env, fd);
    reader_stop(r);
    return s != napi_ok ? fail(env) : throw_errno(env, "uv_poll_start", -e);
  }
  return NULL;
}

/* tunStopReading(fd) / udpStopReading(fd) -> true if fd was being read. The fd stays open. */
static napi_value js_stop_reading(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  CALL(env, napi_get_boolean(env, reader_forget(env, fd), &out));
  return out;
}

/* ---- TUN device ------------------------------------------------------------------ */

/* Read up to READ_BATCH packets into a new array; *err is set on a read error. */
static napi_value tun_drain(fd_reader *r, int *err) {
  napi_env env = r->env;
  napi_value packets, packet;
  void *data;
  uint32_t count = 0;
  if (napi_create_array(env, &packets) != napi_ok) return NULL;
  while (count < READ_BATCH) {
    ssize_t n = read(r->fd, r->buf, r->size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) *err = errno;
      break;
    }
    if (n == 0) break; /* TUN has no EOF; never spin on an empty read */
    if (napi_create_buffer_copy(env, (size_t)n, r->buf, &data, &packet) != napi_ok ||
        napi_set_element(env, packets, count++, packet) != napi_ok) break;
  }
  return packets;
}

/* tunOpen(name) -> { fd, name }; name '' lets the kernel choose (tun0, tun1, ...). */
static napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[64];
  size_t n = 0;
  if (!get_args(env, info, 1, argv)) return NULL;
#ifdef __linux__
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n) != napi_ok || n >= IFNAMSIZ) {
    return throw_arg(env, "name must be a string of at most 15 bytes");
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, n);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "ioctl", e);
  }
  napi_value out, fd_v, name_v;
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  if (napi_create_object(env, &out) != napi_ok || napi_create_int32(env, fd, &fd_v) != napi_ok ||
      napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &name_v) != napi_ok ||
      napi_set_named_property(env, out, "fd", fd_v) != napi_ok ||
      napi_set_named_property(env, out, "name", name_v) != napi_ok) {
    close(fd);
    return fail(env);
  }
  return out;
#else
  (void)name;
  (void)n;
  return throw_errno(env, "open", ENOSYS);
#endif
}

/* tunStartReading(fd, mtu, cb): cb(packets) per batch; cb(packets, err) once if read fails. */
static napi_value js_tun_start_reading(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  return start_reading(env, argv, TUN_MTU_MAX, tun_drain, "read", "SentinelTunRead");
}

/* An error that every later write would repeat: the fd itself is unusable. */
static bool fd_dead(int e) {
#ifdef EBADFD
  if (e == EBADFD) return true;
#endif
  return e == EBADF || e == EFAULT;
}

/*
 * tunWrite(fd, packets) -> number written. One non-blocking write(2) per packet; a packet
 * the kernel refuses (EAGAIN, EINVAL for a non-IP packet, EIO while the link is down, ...)
 * is dropped and not counted. Throws only when the fd is unusable (EBADF, EBADFD).
 */
static napi_value js_tun_write(napi_env env, napi_callback_info info) {
  napi_value argv[2], item;
  bool ok;
  uint32_t len, written = 0;
  int fd;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  CALL(env, napi_is_array(env, argv[1], &ok));
  if (!ok) return throw_arg(env, "packets must be an array of Buffers");
  CALL(env, napi_get_array_length(env, argv[1], &len));
  for (uint32_t i = 0; i < len; i++) {
    void *data;
    size_t size;
    ssize_t n;
    CALL(env, napi_get_element(env, argv[1], i, &item));
    CALL(env, napi_is_buffer(env, item, &ok));
    if (!ok) return throw_arg(env, "packets must be an array of Buffers");
    CALL(env, napi_get_buffer_info(env, item, &data, &size));
    do n = write(fd, data, size); while (n < 0 && errno == EINTR);
    if (n >= 0) written++;
    else if (fd_dead(errno)) return throw_errno(env, "write", errno);
  }
  return int_value(env, (int)written);
}

/* ---- UDP sockets that report the received TTL -------------------------------------- */

/*
 * For mDNS (RFC 6762 §11: a response that did not arrive with IP TTL 255 was routed, so it
 * is not from this link). Node's dgram cannot report the TTL of a received datagram; these
 * sockets read it with recvmsg and IP_RECVTTL / IPV6_RECVHOPLIMIT. Which options, groups
 * and interfaces to use is the caller's policy. A datagram longer than the read size is
 * dropped (MSG_TRUNC), never delivered cut.
 */
#define UDP_DATAGRAM_MAX 65535

static const struct { const char *name; int level; int opt; } udp_options[] = {
  { "IP_TTL", IPPROTO_IP, IP_TTL },
  { "IP_MULTICAST_TTL", IPPROTO_IP, IP_MULTICAST_TTL },
  { "IP_MULTICAST_LOOP", IPPROTO_IP, IP_MULTICAST_LOOP },
  { "IPV6_UNICAST_HOPS", IPPROTO_IPV6, IPV6_UNICAST_HOPS },
  { "IPV6_MULTICAST_HOPS", IPPROTO_IPV6, IPV6_MULTICAST_HOPS },
  { "IPV6_MULTICAST_LOOP", IPPROTO_IPV6, IPV6_MULTICAST_LOOP },
};

/* udpBind(host, port, reuseAddr) -> fd: non-blocking, close-on-exec, reporting TTL / hop limit. */
static napi_value js_udp_bind(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct sockaddr_storage addr;
  socklen_t len;
  bool reuse;
  int one = 1;
  if (!get_args(env, info, 3, argv) || !get_host_port(env, argv[0], argv[1], &addr, &len)) return NULL;
  if (napi_get_value_bool(env, argv[2], &reuse) != napi_ok) return throw_arg(env, "reuseAddr must be a boolean");
  const char *syscall = "socket";
  int fd = socket(addr.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) return throw_errno(env, syscall, errno);
  if (set_flags(fd) < 0) goto fail;
  syscall = "setsockopt";
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail;
  if (addr.ss_family == AF_INET6) {
    if (!is_v4_mapped(&addr) && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) goto fail;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) < 0) goto fail;
  }
  if ((addr.ss_family == AF_INET || is_v4_mapped(&addr)) &&
      setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) < 0) goto fail;
  syscall = "bind";
  if (bind(fd, (struct sockaddr *)&addr, len) < 0) goto fail;
  return int_value(env, fd);
fail: {
    int e = errno;
    close(fd);
    return throw_errno(env, syscall, e);
  }
}

/* udpSetOption(fd, name, value): an integer option named in udp_options[]. */
static napi_value js_udp_set_option(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[32];
  size_t n = 0;
  int fd, value;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd) ||
      !get_int(env, argv[2], 0, INT_MAX, "value", &value)) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &n) != napi_ok) return throw_arg(env, "name must be a string");
  for (size_t i = 0; i < sizeof udp_options / sizeof udp_options[0]; i++) {
    if (strcmp(udp_options[i].name, name) != 0) continue;
    if (setsockopt(fd, udp_options[i].level, udp_options[i].opt, &value, sizeof value) < 0) return throw_errno(env, "setsockopt", errno);
    return NULL;
  }
  return throw_arg(env, "unknown UDP socket option");
}

/* The IPv4 address in argv (numeric text), or false with an exception pending. */
static bool get_ipv4(napi_env env, napi_value v, struct in_addr *out) {
  struct sockaddr_storage addr;
  socklen_t len;
  if (!get_addr(env, v, 0, &addr, &len)) return false;
  if (addr.ss_family != AF_INET) return throw_errno(env, "setsockopt", EAFNOSUPPORT), false;
  *out = ((struct sockaddr_in *)&addr)->sin_addr;
  return true;
}

/* udpMembership(fd, group, ifaceAddr, join): IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP (IPv4). */
static napi_value js_udp_membership(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct ip_mreq m;
  bool join;
  int fd;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd) ||
      !get_ipv4(env, argv[1], &m.imr_multiaddr) || !get_ipv4(env, argv[2], &m.imr_interface)) return NULL;
  if (napi_get_value_bool(env, argv[3], &join) != napi_ok) return throw_arg(env, "join must be a boolean");
  if (setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m) < 0) {
    return throw_errno(env, "setsockopt", errno);
  }
  return NULL;
}

/* udpMulticastInterface(fd, ifaceAddr): IP_MULTICAST_IF (IPv4; 0.0.0.0 = the routing default). */
static napi_value js_udp_multicast_interface(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct in_addr iface;
  int fd;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd) || !get_ipv4(env, argv[1], &iface)) return NULL;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) < 0) return throw_errno(env, "setsockopt", errno);
  return NULL;
}

/* { data, address, port, ttl } for one datagram (ttl -1 when no control message said). */
static napi_value datagram_value(napi_env env, const unsigned char *buf, size_t n,
                                 const struct sockaddr_storage *from, socklen_t from_len, int ttl) {
  char host[HOST_MAX], serv[8];
  void *data;
  napi_value out, v;
  if (getnameinfo((const struct sockaddr *)from, from_len, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) return NULL;
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  if (napi_create_buffer_copy(env, n, buf, &data, &v) != napi_ok || napi_set_named_property(env, out, "data", v) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &v) != napi_ok || napi_set_named_property(env, out, "address", v) != napi_ok) return NULL;
  if (napi_create_int32(env, atoi(serv), &v) != napi_ok || napi_set_named_property(env, out, "port", v) != napi_ok) return NULL;
  if (napi_create_int32(env, ttl, &v) != napi_ok || napi_set_named_property(env, out, "ttl", v) != napi_ok) return NULL;
  return out;
}

/* The TTL / hop limit carried by a received message's control data, or -1. */
static int received_ttl(struct msghdr *msg) {
  int ttl = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL;
    bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT;
    if ((v4 || v6) && c->cmsg_len >= CMSG_LEN(sizeof ttl)) memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
  }
  return ttl;
}

/* Read up to READ_BATCH datagrams with their source and TTL; *err is set on a read error. */
static napi_value udp_drain(fd_reader *r, int *err) {
  napi_env env = r->env;
  napi_value list, item;
  uint32_t count = 0;
  if (napi_create_array(env, &list) != napi_ok) return NULL;
  while (count < READ_BATCH) {
    struct sockaddr_storage from;
    union { char buf[2 * CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct iovec iov = { r->buf, r->size };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n = recvmsg(r->fd, &msg, 0);
    if (n < 0 && (errno == EINTR || errno == ECONNREFUSED)) continue; /* ECONNREFUSED: a queued ICMP error, now consumed */
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) *err = errno;
      break;
    }
    if (msg.msg_flags & MSG_TRUNC) continue;
    item = datagram_value(env, r->buf, (size_t)n, &from, msg.msg_namelen, received_ttl(&msg));
    if (item == NULL || napi_set_element(env, list, count++, item) != napi_ok) break;
  }
  return list;
}

/* udpStartReading(fd, size, cb): cb(datagrams) per batch; cb(datagrams, err) once if a read fails. */
static napi_value js_udp_start_reading(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  return start_reading(env, argv, UDP_DATAGRAM_MAX, udp_drain, "recvmsg", "SentinelUdpRead");
}

/* udpSend(fd, data, host, port) -> bytes sent. One non-blocking sendto(2); EAGAIN throws. */
static napi_value js_udp_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct sockaddr_storage addr;
  socklen_t len;
  void *data;
  size_t size;
  bool ok;
  int fd;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  CALL(env, napi_is_buffer(env, argv[1], &ok));
  if (!ok) return throw_arg(env, "data must be a Buffer");
  CALL(env, napi_get_buffer_info(env, argv[1], &data, &size));
  if (!get_host_port(env, argv[2], argv[3], &addr, &len)) return NULL;
  ssize_t n;
  do n = sendto(fd, data, size, 0, (struct sockaddr *)&addr, len); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "sendto", errno);
  return int_value(env, (int)n);
}

/* ---- module ------------------------------------------------------------------------ */

NAPI_MODULE_INIT() {
  napi_property_descriptor table[] = {
    { "listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL },
    { "connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "sockname", NULL, js_sockname, NULL, NULL, NULL, napi_enumerable, NULL },
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
  };
  if (napi_define_properties(env, exports, sizeof table / sizeof table[0], table) != napi_ok) return fail(env);
  return exports;
}
