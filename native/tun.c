/* sentinel_native: the TUN device (Linux). */
#include "sentinel_native.h"
#ifdef __linux__
#include <linux/if_tun.h>
#endif

#define TUN_MTU_MAX 65535

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
napi_value js_tun_open(napi_env env, napi_callback_info info) {
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
napi_value js_tun_start_reading(napi_env env, napi_callback_info info) {
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
napi_value js_tun_write(napi_env env, napi_callback_info info) {
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
