/* sentinel_native: errno errors and argument checks shared by every export. */
#include "sentinel_native.h"

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

napi_value errno_error(napi_env env, const char *syscall, int num) {
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

napi_value throw_errno(napi_env env, const char *syscall, int num) {
  napi_throw(env, errno_error(env, syscall, num));
  return NULL;
}

napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return NULL;
}

/* Turn a failed N-API call into a JS exception (unless one is already pending). */
napi_value fail(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  const char *msg = info && info->error_message ? info->error_message : "N-API call failed";
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_NATIVE", msg);
  return NULL;
}


/* ---- arguments ----------------------------------------------------------------- */

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return fail(env), false;
  if (argc < want) return throw_arg(env, "missing arguments"), false;
  return true;
}

bool get_int(napi_env env, napi_value v, int min, int max, const char *what, int *out) {
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
bool get_addr(napi_env env, napi_value v, int port, struct sockaddr_storage *addr, socklen_t *len) {
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

bool get_host_port(napi_env env, napi_value host, napi_value port_v,
                          struct sockaddr_storage *addr, socklen_t *len) {
  int port;
  return get_int(env, port_v, 0, 65535, "port", &port) && get_addr(env, host, port, addr, len);
}

napi_value int_value(napi_env env, int n) {
  napi_value v;
  CALL(env, napi_create_int32(env, n, &v));
  return v;
}

/* ---- socket flags --------------------------------------------------------------- */

bool is_v4_mapped(const struct sockaddr_storage *addr) {
  return addr->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)addr)->sin6_addr);
}

int set_flags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}
