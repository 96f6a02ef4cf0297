/* sentinel_native: the TUN device (Linux). */
#include "sentinel_native.h"
#include <sys/uio.h>
#ifdef __linux__
#include <linux/if_tun.h>
#endif

#define TUN_MTU_MAX 65535
/* struct virtio_net_hdr (no num_buffers): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
#define VNET_HDR_SIZE 10
/* A read of an offload TUN: the header and a super-segment of up to 64 KiB. */
#define TUN_READ_MAX (VNET_HDR_SIZE + 65536)

/* ---- TUN device ------------------------------------------------------------------ */

/*
 * One callback takes at most this many bytes: with offloads a read may be a 64 KiB
 * super-segment, and 64 of them would hold the event loop (and everything else waiting on
 * it, such as the session's inbound direction) for several milliseconds.
 */
#define TUN_BATCH_BYTES (256 * 1024)

/* Read up to READ_BATCH packets (TUN_BATCH_BYTES) into a new array; *err is set on a read error. */
static napi_value tun_drain(fd_reader *r, int *err) {
  napi_env env = r->env;
  napi_value packets, packet;
  void *data;
  uint32_t count = 0;
  size_t bytes = 0;
  if (napi_create_array(env, &packets) != napi_ok) return NULL;
  while (count < READ_BATCH && bytes < TUN_BATCH_BYTES) {
    ssize_t n = read(r->fd, r->buf, r->size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) *err = errno;
      break;
    }
    if (n == 0) break; /* TUN has no EOF; never spin on an empty read */
    bytes += (size_t)n;
    if (napi_create_buffer_copy(env, (size_t)n, r->buf, &data, &packet) != napi_ok ||
        napi_set_element(env, packets, count++, packet) != napi_ok) break;
  }
  return packets;
}

#ifdef __linux__
/* Open /dev/net/tun as `name`; with vnet, IFF_VNET_HDR and a 10-byte header. fd or -errno. */
static int tun_open_fd(const char *name, size_t n, bool vnet, char *actual) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, n);
  int size = VNET_HDR_SIZE;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0 || (vnet && ioctl(fd, TUNSETVNETHDRSZ, &size) < 0)) {
    int e = errno;
    close(fd);
    return -e;
  }
  memcpy(actual, ifr.ifr_name, IFNAMSIZ);
  actual[IFNAMSIZ - 1] = '\0';
  return fd;
}
#endif

/*
 * tunOpen(name[, offload]) -> { fd, name, offload }; name '' lets the kernel choose (tun0,
 * tun1, ...). With offload true (little-endian hosts only: the header is in host order),
 * the fd is opened with IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 |
 * TUN_F_TSO6): every read and write then starts with a 10-byte struct virtio_net_hdr, and a
 * read may return a TCP super-segment of up to 64 KiB. When the kernel refuses the offloads
 * the fd is reopened without them and `offload` says false.
 */
napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[64], actual[IFNAMSIZ];
  size_t n = 0;
  bool offload = false;
  napi_valuetype t;
  if (!get_args(env, info, 1, argv)) return NULL;
#ifdef __linux__
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n) != napi_ok || n >= IFNAMSIZ) {
    return throw_arg(env, "name must be a string of at most 15 bytes");
  }
  size_t argc = 2;
  argv[1] = NULL;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 2 && napi_typeof(env, argv[1], &t) == napi_ok && t == napi_boolean) napi_get_value_bool(env, argv[1], &offload);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
  offload = false;
#endif
  int fd = tun_open_fd(name, n, offload, actual);
  if (fd >= 0 && offload && ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) < 0) {
    close(fd);
    offload = false;
    fd = tun_open_fd(name, n, false, actual);
  }
  if (fd < 0) return throw_errno(env, fd == -EINVAL || fd == -EBUSY ? "ioctl" : "open", -fd);
  napi_value out, fd_v, name_v, off_v;
  if (napi_create_object(env, &out) != napi_ok || napi_create_int32(env, fd, &fd_v) != napi_ok ||
      napi_create_string_utf8(env, actual, NAPI_AUTO_LENGTH, &name_v) != napi_ok ||
      napi_get_boolean(env, offload, &off_v) != napi_ok ||
      napi_set_named_property(env, out, "fd", fd_v) != napi_ok ||
      napi_set_named_property(env, out, "name", name_v) != napi_ok ||
      napi_set_named_property(env, out, "offload", off_v) != napi_ok) {
    close(fd);
    return fail(env);
  }
  return out;
#else
  (void)name;
  (void)n;
  (void)actual;
  (void)offload;
  (void)t;
  return throw_errno(env, "open", ENOSYS);
#endif
}

/* tunStartReading(fd, mtu, cb): cb(packets) per batch; cb(packets, err) once if read fails. */
napi_value js_tun_start_reading(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  return start_reading(env, argv, TUN_READ_MAX, tun_drain, "read", "SentinelTunRead");
}

/* An error that every later write would repeat: the fd itself is unusable. */
static bool fd_dead(int e) {
#ifdef EBADFD
  if (e == EBADFD) return true;
#endif
  return e == EBADF || e == EFAULT;
}

/*
 * tunWrite(fd, packets[, headers]) -> number written. One non-blocking write(2) per packet,
 * or, with `headers` (a Buffer of 10 bytes per packet: the virtio_net_hdr of each, for an
 * offload fd), one writev(2) of header and packet. A packet the kernel refuses (EAGAIN,
 * EINVAL for a non-IP packet or a bad header, EIO while the link is down, ...) is dropped
 * and not counted. Throws only when the fd is unusable (EBADF, EBADFD).
 */
napi_value js_tun_write(napi_env env, napi_callback_info info) {
  napi_value argv[3], item;
  bool ok;
  uint32_t len, written = 0;
  int fd;
  size_t argc = 3;
  unsigned char *headers = NULL;
  size_t headers_size = 0;
  napi_valuetype t;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  CALL(env, napi_is_array(env, argv[1], &ok));
  if (!ok) return throw_arg(env, "packets must be an array of Buffers");
  CALL(env, napi_get_array_length(env, argv[1], &len));
  argv[2] = NULL;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 3 && napi_typeof(env, argv[2], &t) == napi_ok && t != napi_undefined && t != napi_null) {
    CALL(env, napi_is_buffer(env, argv[2], &ok));
    if (!ok) return throw_arg(env, "headers must be a Buffer");
    CALL(env, napi_get_buffer_info(env, argv[2], (void **)&headers, &headers_size));
    if (headers_size != (size_t)len * VNET_HDR_SIZE) return throw_arg(env, "headers must hold 10 bytes per packet");
  }
  for (uint32_t i = 0; i < len; i++) {
    void *data;
    size_t size;
    ssize_t n;
    CALL(env, napi_get_element(env, argv[1], i, &item));
    CALL(env, napi_is_buffer(env, item, &ok));
    if (!ok) return throw_arg(env, "packets must be an array of Buffers");
    CALL(env, napi_get_buffer_info(env, item, &data, &size));
    if (headers != NULL) {
      struct iovec iov[2] = { { headers + (size_t)i * VNET_HDR_SIZE, VNET_HDR_SIZE }, { data, size } };
      do n = writev(fd, iov, 2); while (n < 0 && errno == EINTR);
    } else {
      do n = write(fd, data, size); while (n < 0 && errno == EINTR);
    }
    if (n >= 0) written++;
    else if (fd_dead(errno)) return throw_errno(env, "write", errno);
  }
  return int_value(env, (int)written);
}
