/*
 * sentinel_native: "fighter sockets".
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
 *
 * Every fd is non-blocking and close-on-exec. connect() throws synchronously for errors
 * found before the connection is in flight (bad address, socket/bind failure, immediate
 * connect failure); later outcomes go to cb, exactly once, from the event loop. After
 * cancel() the fd is closed and cb is never called.
 */
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* close(fd) */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
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

/* ---- module ------------------------------------------------------------------------ */

NAPI_MODULE_INIT() {
  napi_property_descriptor table[] = {
    { "listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL },
    { "connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "sockname", NULL, js_sockname, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof table / sizeof table[0], table) != napi_ok) return fail(env);
  return exports;
}
