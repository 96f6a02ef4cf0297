/* sentinel_native: the VPN datagram path's per-packet work (AES-256-GCM, batched UDP I/O). */
#define _GNU_SOURCE /* sendmmsg */
#include "sentinel_native.h"
#include <openssl/evp.h>

/*
 * The datagram layout is src/wire/datagram.ts's; these functions only know its sizes:
 *
 *    0      1                5                        13                    len-16    len
 *    +------+----------------+------------------------+---------------------+---------+
 *    | type | receiver index | counter (u64 BE)       | ciphertext          | tag     |
 *    +------+----------------+------------------------+---------------------+---------+
 *    \______________ AAD (13 bytes) _________________/
 *
 *    nonce (12 bytes) = 0 0 0 0 || bytes 5..13 (the counter)
 *
 * Node's createCipheriv builds a JS object, a native cipher context and a key schedule
 * per call (~5 us for a 1,400-byte packet, most of the datagram path's CPU); here one
 * context per thread is kept and re-keyed only when the key changes. OpenSSL is the one
 * Node itself exports (libcrypto symbols of the node binary), so nothing is linked.
 */
#define DG_HEADER 13
#define DG_TAG 16
#define DG_KEY 32
#define DG_NONCE 12
#define SEND_BATCH 64

typedef struct {
  EVP_CIPHER_CTX *ctx;
  unsigned char key[DG_KEY];
  bool keyed;
} gcm_state;

static __thread gcm_state seal_state, open_state;

/* The nonce of datagram d: four zero bytes, then its counter. */
static void nonce_of(const unsigned char *d, unsigned char *nonce) {
  memset(nonce, 0, 4);
  memcpy(nonce + 4, d + 5, 8);
}

/* Set key (if changed) and nonce on the thread's context; false on an OpenSSL failure. */
static bool gcm_begin(gcm_state *s, bool enc, const unsigned char *key, const unsigned char *nonce) {
  if (s->ctx == NULL && (s->ctx = EVP_CIPHER_CTX_new()) == NULL) return false;
  bool rekey = !s->keyed || memcmp(s->key, key, DG_KEY) != 0;
  int ok = rekey ? EVP_CipherInit_ex(s->ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc ? 1 : 0)
                 : EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, nonce, enc ? 1 : 0);
  s->keyed = ok == 1;
  if (s->keyed && rekey) memcpy(s->key, key, DG_KEY);
  return ok == 1;
}

/* A Buffer argument (data, size), or false with an exception pending. */
static bool get_buffer(napi_env env, napi_value v, const char *what, unsigned char **data, size_t *size) {
  bool ok = false;
  if (napi_is_buffer(env, v, &ok) != napi_ok || !ok) return throw_arg(env, what), false;
  return napi_get_buffer_info(env, v, (void **)data, size) == napi_ok || (fail(env), false);
}

static bool get_key(napi_env env, napi_value v, unsigned char **key) {
  size_t n;
  if (!get_buffer(env, v, "key must be a Buffer", key, &n)) return false;
  if (n != DG_KEY) return throw_arg(env, "key must be 32 bytes"), false;
  return true;
}

/*
 * dgramSeal(key, datagram): datagram holds the header, the plaintext and 16 spare bytes;
 * encrypts the plaintext in place and writes the tag into the spare bytes.
 */
napi_value js_dgram_seal(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  unsigned char *key, *d, nonce[DG_NONCE];
  size_t n;
  int outl;
  if (!get_args(env, info, 2, argv) || !get_key(env, argv[0], &key) ||
      !get_buffer(env, argv[1], "datagram must be a Buffer", &d, &n)) return NULL;
  if (n < DG_HEADER + DG_TAG || n - DG_HEADER - DG_TAG > INT_MAX) return throw_arg(env, "datagram too short");
  int plen = (int)(n - DG_HEADER - DG_TAG);
  nonce_of(d, nonce);
  if (!gcm_begin(&seal_state, true, key, nonce) || EVP_EncryptUpdate(seal_state.ctx, NULL, &outl, d, DG_HEADER) != 1 ||
      EVP_EncryptUpdate(seal_state.ctx, d + DG_HEADER, &outl, d + DG_HEADER, plen) != 1 ||
      EVP_EncryptFinal_ex(seal_state.ctx, d + DG_HEADER + outl, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(seal_state.ctx, EVP_CTRL_GCM_GET_TAG, DG_TAG, d + n - DG_TAG) != 1) {
    seal_state.keyed = false;
    return throw_errno(env, "EVP_EncryptUpdate", EIO);
  }
  return NULL;
}

/* dgramOpen(key, datagram) -> plaintext Buffer, or null if it does not authenticate. */
napi_value js_dgram_open(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  unsigned char *key, *d, *plain, nonce[DG_NONCE], tag[DG_TAG];
  size_t n;
  int outl, fin;
  if (!get_args(env, info, 2, argv) || !get_key(env, argv[0], &key) ||
      !get_buffer(env, argv[1], "datagram must be a Buffer", &d, &n)) return NULL;
  if (n < DG_HEADER + DG_TAG || n - DG_HEADER - DG_TAG > INT_MAX) {
    CALL(env, napi_get_null(env, &out));
    return out;
  }
  int plen = (int)(n - DG_HEADER - DG_TAG);
  CALL(env, napi_create_buffer(env, (size_t)plen, (void **)&plain, &out));
  nonce_of(d, nonce);
  memcpy(tag, d + n - DG_TAG, DG_TAG);
  bool ok = gcm_begin(&open_state, false, key, nonce) && EVP_DecryptUpdate(open_state.ctx, NULL, &outl, d, DG_HEADER) == 1 &&
            EVP_DecryptUpdate(open_state.ctx, plain, &outl, d + DG_HEADER, plen) == 1 &&
            EVP_CIPHER_CTX_ctrl(open_state.ctx, EVP_CTRL_GCM_SET_TAG, DG_TAG, tag) == 1;
  fin = ok ? EVP_DecryptFinal_ex(open_state.ctx, plain + outl, &outl) : 0;
  if (!ok) open_state.keyed = false;
  if (fin != 1) {
    memset(plain, 0, (size_t)plen); /* never hand out unauthenticated plaintext */
    CALL(env, napi_get_null(env, &out));
  }
  return out;
}

/*
 * udpSendBatch(fd, datagrams[], host, port) -> how many were sent. sendmmsg(2), up to
 * SEND_BATCH datagrams per call. A datagram the kernel refuses (EPERM from a firewall,
 * EMSGSIZE, no route) is skipped; a full socket buffer (EAGAIN, ENOBUFS) drops the rest.
 * Never throws for a send failure: the caller counts datagrams.length - sent.
 */
napi_value js_udp_send_batch(napi_env env, napi_callback_info info) {
  napi_value argv[4], item;
  struct sockaddr_storage addr;
  socklen_t len;
  struct mmsghdr msgs[SEND_BATCH];
  struct iovec iov[SEND_BATCH];
  uint32_t count, done = 0, sent = 0;
  bool is_array;
  int fd;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  CALL(env, napi_is_array(env, argv[1], &is_array));
  if (!is_array) return throw_arg(env, "datagrams must be an array of Buffers");
  CALL(env, napi_get_array_length(env, argv[1], &count));
  if (!get_host_port(env, argv[2], argv[3], &addr, &len)) return NULL;
  while (done < count) {
    uint32_t k = 0;
    for (; k < SEND_BATCH && done + k < count; k++) {
      unsigned char *data;
      size_t size;
      CALL(env, napi_get_element(env, argv[1], done + k, &item));
      if (!get_buffer(env, item, "datagrams must be an array of Buffers", &data, &size)) return NULL;
      iov[k].iov_base = data;
      iov[k].iov_len = size;
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_name = &addr;
      msgs[k].msg_hdr.msg_namelen = len;
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    uint32_t i = 0;
    while (i < k) {
      int n = sendmmsg(fd, msgs + i, k - i, 0);
      if (n > 0) {
        i += (uint32_t)n;
        sent += (uint32_t)n;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
        return int_value(env, (int)sent);
      } else {
        i++; /* this one is refused: skip it */
      }
    }
    done += k;
  }
  return int_value(env, (int)sent);
}

/* Read up to READ_BATCH datagrams (data only: no source, no TTL) into a JS array of Buffers. */
static napi_value data_drain(fd_reader *r, int *err) {
  napi_env env = r->env;
  napi_value list, item;
  uint32_t count = 0;
  if (napi_create_array(env, &list) != napi_ok) return NULL;
  while (count < READ_BATCH) {
    ssize_t n = recv(r->fd, r->buf, r->size, MSG_TRUNC);
    if (n < 0 && (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)) continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) *err = errno;
      break;
    }
    if ((size_t)n > r->size) continue; /* MSG_TRUNC: the real length was longer, dropped */
    void *data;
    if (napi_create_buffer_copy(env, (size_t)n, r->buf, &data, &item) != napi_ok ||
        napi_set_element(env, list, count++, item) != napi_ok) break;
  }
  return list;
}

/* udpStartReadingData(fd, size, cb): cb(buffers) per batch; cb(buffers, err) once if a read fails. */
napi_value js_udp_start_reading_data(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  return start_reading(env, argv, 65535, data_drain, "recv", "SentinelUdpDataRead");
}
