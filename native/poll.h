/*
 * pollStart / pollStop: readiness of a TUN or UDP socket fd on the main event
 * loop.
 *
 * Included once, by tun.c (after napi-util.h), so its functions are plain
 * statics; tun.c registers them for both kinds of fd.
 */
#ifndef WEFT_POLL_H
#define WEFT_POLL_H

#include <stdbool.h>
#include <stdlib.h>

#include <node_api.h>
#include <uv.h>

#include "napi-util.h"

/*
 * One uv_poll_t per device, watching for UV_READABLE on the main loop. The
 * struct is shared by two owners, each holding one reference:
 *   - the libuv handle, released in the uv_close callback;
 *   - the JS external returned by pollStart, released by its GC finalizer.
 * So pollStop(handle) can be called any number of times: the memory outlives
 * the handle until JavaScript can no longer name it.
 *
 * An async env cleanup hook closes the handle when the environment goes away
 * (worker terminated, process exiting through FreeEnvironment); Node waits for
 * the hook to be removed, which happens in the close callback, so the handle
 * is never freed while libuv still links it.
 */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup_hook;
  int refs;
  bool closing;
} tun_poll;

/* Marks externals made by pollStart so pollStop rejects any other external. */
static const napi_type_tag POLL_TAG = {0x77656674706f6c6cULL, 0x5f74756e5f763101ULL};

static void poll_release(tun_poll *p) {
  if (--p->refs == 0) free(p);
}

static void on_poll_closed(uv_handle_t *h) {
  tun_poll *p = (tun_poll *)h->data;
  if (p->cleanup_hook != NULL) {
    napi_remove_async_cleanup_hook(p->cleanup_hook);
    p->cleanup_hook = NULL;
  }
  poll_release(p);
}

/* Stop watching at once (no callback fires after this returns) and let libuv
 * finish the close on its next loop turn. */
static void poll_close(tun_poll *p) {
  if (p->closing) return;
  p->closing = true;
  uv_poll_stop(&p->poll);
  if (p->callback != NULL) {
    napi_delete_reference(p->env, p->callback);
    p->callback = NULL;
  }
  if (p->async_ctx != NULL) {
    napi_async_destroy(p->env, p->async_ctx);
    p->async_ctx = NULL;
  }
  uv_close((uv_handle_t *)&p->poll, on_poll_closed);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  UNUSED(handle);
  poll_close((tun_poll *)arg);
}

static void on_external_finalize(napi_env env, void *data, void *hint) {
  UNUSED(env);
  UNUSED(hint);
  tun_poll *p = (tun_poll *)data;
  /* Dropping the handle without pollStop stops the poll: nobody could stop it later. */
  poll_close(p);
  poll_release(p);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  /* status < 0 (libuv reports EBADF on POLLERR, e.g. the device was deleted)
   * also calls back: the next read returns the error to JavaScript, which is
   * where it can be reported. libuv has already stopped the handle then. */
  UNUSED(status);
  UNUSED(events);
  tun_poll *p = (tun_poll *)h->data;
  if (p->closing) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, result;
  if (napi_get_reference_value(env, p->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &recv) == napi_ok) {
    /* make_callback (not call_function) so async hooks see the call and
     * process.nextTick / microtasks queued by the handler run right after it,
     * as after any other libuv callback. */
    if (napi_make_callback(env, p->async_ctx, recv, cb, 0, NULL, &result) != napi_ok) {
      bool pending = false;
      napi_value exc;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &exc) == napi_ok) {
        /* No JS frame is below us to catch it: raise it as 'uncaughtException'. */
        napi_fatal_exception(env, exc);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

static napi_value poll_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  napi_valuetype t;
  if (!get_args(env, info, argv, &argc, 2, "weft_native: pollStart(fd, callback)")) return NULL;
  if (!get_i32(env, argv[0], &fd, "fd")) return NULL;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "weft_native: pollStart callback must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));

  tun_poll *p = calloc(1, sizeof *p);
  if (p == NULL) {
    throw_errno(env, ENOMEM, "pollStart", "(allocating the poll handle)");
    return NULL;
  }
  p->env = env;
  int r = uv_poll_init(loop, &p->poll, fd);
  if (r < 0) {
    free(p);
    throw_errno(env, -r, "uv_poll_init", "(TUN fd)");
    return NULL;
  }
  p->poll.data = p;
  /* From here on the handle is initialised and must be freed through uv_close. */
  p->refs = 1;
  napi_value name, external;
  if (napi_create_reference(env, argv[1], 1, &p->callback) != napi_ok ||
      napi_create_string_utf8(env, "weft:TunPoll", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &p->async_ctx) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, p, &p->cleanup_hook) != napi_ok) {
    throw_napi_failure(env, "pollStart setup");
    poll_close(p);
    return NULL;
  }
  r = uv_poll_start(&p->poll, UV_READABLE, on_poll);
  if (r < 0) {
    throw_errno(env, -r, "uv_poll_start", "(TUN fd)");
    poll_close(p);
    return NULL;
  }
  if (napi_create_external(env, p, on_external_finalize, NULL, &external) != napi_ok) {
    throw_napi_failure(env, "napi_create_external");
    poll_close(p);
    return NULL;
  }
  p->refs = 2;
  napi_type_tag_object(env, external, &POLL_TAG);
  return external;
}

static napi_value poll_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t = napi_undefined;
  bool tagged = false;
  void *data = NULL;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external ||
      napi_check_object_type_tag(env, argv[0], &POLL_TAG, &tagged) != napi_ok || !tagged) {
    napi_throw_type_error(env, NULL, "weft_native: pollStop expects a handle returned by pollStart");
    return NULL;
  }
  NAPI_CALL(env, napi_get_value_external(env, argv[0], &data));
  poll_close((tun_poll *)data);
  return NULL;
}

#endif /* WEFT_POLL_H */
