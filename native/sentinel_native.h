/*
 * Shared declarations of the sentinel_native addon (see binding.c for the exports and
 * their contracts): errno errors and argument checks (util.c), the event-loop readers of
 * TUN and UDP fds (reader.c), and the functions each part registers in binding.c.
 */
#ifndef SENTINEL_NATIVE_H
#define SENTINEL_NATIVE_H

#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOST_MAX 96

/*
 * TCP_NOTSENT_LOWAT of every fighter socket (listeners pass it to accepted ones): the kernel
 * holds at most this many bytes not yet sent per connection, so a bulk sender's backlog
 * waits in the process, where small frames (pings, ACKs, interactive VPN packets) can
 * overtake it (src/vpn/send-queue.ts), instead of megabytes of autotuned send buffer.
 */
#define SENTINEL_NOTSENT_LOWAT (128 * 1024)

/* ---- util.c: errors and arguments ---------------------------------------------------- */

/* An Error with code = errno name, errno = -num, syscall (like Node's system errors). */
napi_value errno_error(napi_env env, const char *syscall, int num);
/* Throw errno_error; returns NULL for `return throw_errno(...)`. */
napi_value throw_errno(napi_env env, const char *syscall, int num);
/* Throw a TypeError with code ERR_INVALID_ARG_VALUE. */
napi_value throw_arg(napi_env env, const char *msg);
/* Turn a failed N-API call into a JS exception (unless one is already pending). */
napi_value fail(napi_env env);

#define CALL(env, expr)                       \
  do {                                        \
    if ((expr) != napi_ok) return fail(env);  \
  } while (0)

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
bool get_int(napi_env env, napi_value v, int min, int max, const char *what, int *out);
/* A numeric IPv4/IPv6 address (scope ids allowed) and a port into *addr. */
bool get_addr(napi_env env, napi_value v, int port, struct sockaddr_storage *addr, socklen_t *len);
bool get_host_port(napi_env env, napi_value host, napi_value port_v, struct sockaddr_storage *addr, socklen_t *len);
napi_value int_value(napi_env env, int n);
bool is_v4_mapped(const struct sockaddr_storage *addr);
/* O_NONBLOCK and FD_CLOEXEC; -1 with errno set on failure. */
int set_flags(int fd);

/* ---- ttl.c: TTL and minimum TTL of a socket ------------------------------------------- */

/* "Leave this option alone" for ttl_set and ttl_args. */
#define NO_CHANGE INT_MIN
/*
 * IP_TTL / IPV6_UNICAST_HOPS (ttl: 1..255, -1 = system default) and IP_MINTTL /
 * IPV6_MINHOPCOUNT (min_ttl: 0..255) by the socket's family; NO_CHANGE leaves one alone.
 * 0, or -errno with *syscall naming the failed call.
 */
int ttl_set(int fd, int ttl, int min_ttl, const char **syscall);
/* Optional (ttl, minTtl) JS arguments: undefined or absent gives NO_CHANGE. */
bool ttl_args(napi_env env, size_t argc, napi_value *argv, int *ttl, int *min_ttl);

/* ---- reader.c: fds read from the event loop ------------------------------------------- */

#define READ_BATCH 64

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

/* Start reading fd: argv = (fd, size, cb); throws EBUSY if fd is already read. */
napi_value start_reading(napi_env env, napi_value *argv, int size_max, drain_fn drain, const char *syscall, const char *what);
/* Stop reading fd if it is being read (before close(2)); true if it was. */
bool reader_forget(napi_env env, int fd);
/* tunStopReading(fd) / udpStopReading(fd) -> bool */
napi_value js_stop_reading(napi_env env, napi_callback_info info);

/* ---- exports (registered in binding.c) ------------------------------------------------ */

napi_value js_listen(napi_env env, napi_callback_info info);
napi_value js_connect(napi_env env, napi_callback_info info);
napi_value js_sockname(napi_env env, napi_callback_info info);
napi_value js_set_ttl(napi_env env, napi_callback_info info);
napi_value js_get_ttl(napi_env env, napi_callback_info info);
napi_value js_tcp_info(napi_env env, napi_callback_info info);
napi_value js_tun_open(napi_env env, napi_callback_info info);
napi_value js_tun_start_reading(napi_env env, napi_callback_info info);
napi_value js_tun_write(napi_env env, napi_callback_info info);
napi_value js_udp_bind(napi_env env, napi_callback_info info);
napi_value js_udp_set_option(napi_env env, napi_callback_info info);
napi_value js_udp_membership(napi_env env, napi_callback_info info);
napi_value js_udp_multicast_interface(napi_env env, napi_callback_info info);
napi_value js_udp_start_reading(napi_env env, napi_callback_info info);
napi_value js_udp_send(napi_env env, napi_callback_info info);
napi_value js_udp_send_batch(napi_env env, napi_callback_info info);
napi_value js_udp_start_reading_data(napi_env env, napi_callback_info info);
napi_value js_dgram_seal(napi_env env, napi_callback_info info);
napi_value js_dgram_open(napi_env env, napi_callback_info info);

#endif
