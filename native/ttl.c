/*
 * sentinel_native: the TTL (hop limit) a TCP socket sends with, the lowest it accepts, and
 * its TCP_INFO loss counters (tcpInfo).
 */
#include "sentinel_native.h"
#include <netinet/tcp.h>
#include <stddef.h>

/*
 * What fd sends with and what it accepts, by the socket's family:
 *   ttl     IP_TTL (IPv4) / IPV6_UNICAST_HOPS (IPv6): 1..255, -1 = the system default
 *   min_ttl IP_MINTTL / IPV6_MINHOPCOUNT: drop every segment and ICMP error for fd that
 *           arrives with a lower TTL (RFC 5082); 0 = off, 255 = ignore everything
 * An IPv6 socket also gets the IPv4 options, best effort, for IPv4-mapped peers.
 * NO_CHANGE leaves one alone. Returns 0, or -errno with *syscall naming the failed call.
 */
int ttl_set(int fd, int ttl, int min_ttl, const char **syscall) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  *syscall = "getsockname";
  if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) return -errno;
  *syscall = "setsockopt";
  bool v6 = addr.ss_family == AF_INET6;
  if (ttl != NO_CHANGE) {
    if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) < 0) return -errno;
    if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0 && !v6) return -errno;
  }
  if (min_ttl != NO_CHANGE) {
    if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &min_ttl, sizeof min_ttl) < 0) return -errno;
    if (setsockopt(fd, IPPROTO_IP, IP_MINTTL, &min_ttl, sizeof min_ttl) < 0 && !v6) return -errno;
  }
  return 0;
}

/* Optional ttl (1..255) and minTtl (0..255) arguments; undefined or absent: NO_CHANGE. */
bool ttl_args(napi_env env, size_t argc, napi_value *argv, int *ttl, int *min_ttl) {
  napi_valuetype t;
  *ttl = *min_ttl = NO_CHANGE;
  if (argc >= 1) {
    if (napi_typeof(env, argv[0], &t) != napi_ok) return fail(env), false;
    if (t != napi_undefined && !get_int(env, argv[0], 1, 255, "ttl", ttl)) return false;
  }
  if (argc >= 2) {
    if (napi_typeof(env, argv[1], &t) != napi_ok) return fail(env), false;
    if (t != napi_undefined && !get_int(env, argv[1], 0, 255, "minTtl", min_ttl)) return false;
  }
  return true;
}

/* setTtl(fd, ttl[, minTtl]): ttl 1..255 or -1 (system default); minTtl 0..255. */
napi_value js_set_ttl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  int fd, ttl, min_ttl = NO_CHANGE;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_arg(env, "missing arguments");
  if (!get_int(env, argv[0], 0, INT_MAX, "fd", &fd) || !get_int(env, argv[1], -1, 255, "ttl", &ttl)) return NULL;
  if (ttl == 0) return throw_arg(env, "ttl must be 1..255 or -1 (system default)");
  napi_valuetype t = napi_undefined;
  if (argc >= 3) CALL(env, napi_typeof(env, argv[2], &t));
  if (t != napi_undefined && !get_int(env, argv[2], 0, 255, "minTtl", &min_ttl)) return NULL;
  const char *syscall;
  int r = ttl_set(fd, ttl, min_ttl, &syscall);
  if (r < 0) return throw_errno(env, syscall, -r);
  return NULL;
}

/* getTtl(fd) -> { ttl, minTtl } by the socket's family. */
napi_value js_get_ttl(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  int fd, ttl = 0, min_ttl = 0;
  socklen_t n = sizeof ttl;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) return throw_errno(env, "getsockname", errno);
  bool v6 = addr.ss_family == AF_INET6;
  if (getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &ttl, &n) < 0) return throw_errno(env, "getsockopt", errno);
  n = sizeof min_ttl;
  if (getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MINHOPCOUNT : IP_MINTTL, &min_ttl, &n) < 0) return throw_errno(env, "getsockopt", errno);
  CALL(env, napi_create_object(env, &out));
  CALL(env, napi_set_named_property(env, out, "ttl", int_value(env, ttl)));
  CALL(env, napi_set_named_property(env, out, "minTtl", int_value(env, min_ttl)));
  return out;
}

/*
 * tcpInfo(fd) -> { segsOut, totalRetrans }: getsockopt(TCP_INFO) tcpi_segs_out (segments
 * sent, retransmissions included) and tcpi_total_retrans (segments retransmitted), both
 * cumulative u32. The kernel fills only as much of struct tcp_info as it knows; an older
 * kernel without tcpi_segs_out (before 4.2) gets EOPNOTSUPP.
 */
/*
 * glibc's struct tcp_info stops at tcpi_total_retrans (104 bytes); the kernel's (linux/tcp.h,
 * which cannot be included beside glibc's netinet/tcp.h that uv.h pulls in) goes on with
 * these fields at these offsets, a fixed ABI.
 */
struct tcp_info_ext {
  struct tcp_info base;
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in;
};
_Static_assert(offsetof(struct tcp_info_ext, segs_out) == 136, "tcpi_segs_out is at offset 136 in the kernel ABI");

napi_value js_tcp_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  int fd;
  struct tcp_info_ext ti;
  socklen_t n = sizeof ti;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n) < 0) return throw_errno(env, "getsockopt", errno);
  if (n < offsetof(struct tcp_info_ext, segs_out) + sizeof ti.segs_out) return throw_errno(env, "getsockopt", EOPNOTSUPP);
  CALL(env, napi_create_object(env, &out));
  CALL(env, napi_create_uint32(env, ti.segs_out, &v));
  CALL(env, napi_set_named_property(env, out, "segsOut", v));
  CALL(env, napi_create_uint32(env, ti.base.tcpi_total_retrans, &v));
  CALL(env, napi_set_named_property(env, out, "totalRetrans", v));
  return out;
}
