/* sentinel_native: fds (TUN devices, UDP sockets) read from the event loop. */
#include "sentinel_native.h"

/* ---- fd readers (TUN devices, UDP sockets) ---------------------------------------- */

/*
 * A TUN or UDP fd is read from the event loop: a uv_poll_t watches it, and on readability
 * the reader's drain function reads up to READ_BATCH packets into one reusable buffer,
 * copying each out at its exact length, then calls JS once with the batch. No thread-pool
 * round trip per packet. Readers are kept in one list (keyed by env and fd, guarded for
 * workers) so tunStopReading(fd) / udpStopReading(fd) and close(fd) find them; a reader is
 * freed in its poll's close callback.
 */
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
bool reader_forget(napi_env env, int fd) {
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
napi_value start_reading(napi_env env, napi_value *argv, int size_max, drain_fn drain,
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
napi_value js_stop_reading(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], 0, INT_MAX, "fd", &fd)) return NULL;
  CALL(env, napi_get_boolean(env, reader_forget(env, fd), &out));
  return out;
}
