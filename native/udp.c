/* sentinel_native: UDP sockets that report the TTL of what they receive. */
#include "sentinel_native.h"

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
  { "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF },
  { "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF },
};

/*
 * udpBind(host, port, reuseAddr[, v6only]) -> fd: non-blocking, close-on-exec, reporting
 * TTL / hop limit. An IPv6 address is IPV6_V6ONLY unless v6only is false (a dual-stack
 * `::` socket that also serves IPv4 peers as IPv4-mapped addresses).
 */
napi_value js_udp_bind(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct sockaddr_storage addr;
  socklen_t len;
  bool reuse, v6only = true;
  int one = 1;
  size_t argc = 4;
  if (!get_args(env, info, 3, argv) || !get_host_port(env, argv[0], argv[1], &addr, &len)) return NULL;
  if (napi_get_value_bool(env, argv[2], &reuse) != napi_ok) return throw_arg(env, "reuseAddr must be a boolean");
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 4) {
    napi_valuetype t;
    CALL(env, napi_typeof(env, argv[3], &t));
    if (t != napi_undefined && napi_get_value_bool(env, argv[3], &v6only) != napi_ok) return throw_arg(env, "v6only must be a boolean");
  }
  const char *syscall = "socket";
  int fd = socket(addr.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) return throw_errno(env, syscall, errno);
  if (set_flags(fd) < 0) goto fail;
  syscall = "setsockopt";
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail;
  if (addr.ss_family == AF_INET6) {
    int v6 = v6only && !is_v4_mapped(&addr) ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) < 0) goto fail;
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
napi_value js_udp_set_option(napi_env env, napi_callback_info info) {
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
napi_value js_udp_membership(napi_env env, napi_callback_info info) {
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
napi_value js_udp_multicast_interface(napi_env env, napi_callback_info info) {
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
napi_value js_udp_start_reading(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  return start_reading(env, argv, UDP_DATAGRAM_MAX, udp_drain, "recvmsg", "SentinelUdpRead");
}

/* udpSend(fd, data, host, port) -> bytes sent. One non-blocking sendto(2); EAGAIN throws. */
napi_value js_udp_send(napi_env env, napi_callback_info info) {
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
