/*
 * Small helpers shared by the addon's functions: argument unpacking with
 * TypeErrors for programmer mistakes, and errors shaped like Node's system
 * errors (code = errno name, errno, syscall) for syscall failures.
 *
 * Included by each source file of the addon (tun.c, udp.c); the helpers are
 * static inline so a file that uses only some of them compiles without
 * unused-function warnings.
 */
#ifndef WEFT_NAPI_UTIL_H
#define WEFT_NAPI_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <node_api.h>
#include <uv.h>

#define UNUSED(x) ((void)(x))

/* Returns NULL from the calling napi_callback when a Node-API call fails; the
 * failing call has either set a pending exception or we raise one here. */
#define NAPI_CALL(env, call)                  \
  do {                                        \
    if ((call) != napi_ok) {                  \
      throw_napi_failure((env), #call);       \
      return NULL;                            \
    }                                         \
  } while (0)

static inline void throw_napi_failure(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "weft_native: %s failed: %s", what,
           info != NULL && info->error_message != NULL ? info->error_message : "unknown Node-API error");
  napi_throw_error(env, NULL, msg);
}

/* errno -> "EPERM" etc. libuv's table covers the errnos TUN can produce;
 * anything it does not know gets a stable synthetic name. */
static inline void errno_name(int err, char *buf, size_t len) {
  uv_err_name_r(-err, buf, len);
  if (strncmp(buf, "Unknown", 7) == 0) snprintf(buf, len, "ERRNO_%d", err);
}

/* Throw an Error shaped like Node's own system errors: code = errno name,
 * errno = negative errno (Node's convention), syscall, and strerror text. */
static inline void throw_errno(napi_env env, int err, const char *syscall, const char *subject) {
  char name[64], text[128], msg[384];
  errno_name(err, name, sizeof name);
  /* GNU strerror_r (we build with _GNU_SOURCE): returns the text, maybe not in text[]. */
  const char *desc = strerror_r(err, text, sizeof text);
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, subject, desc, name);
  napi_value code, message, error, value;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &error) != napi_ok) {
    napi_throw_error(env, name, msg);
    return;
  }
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "syscall", value);
  if (napi_create_int32(env, -err, &value) == napi_ok)
    napi_set_named_property(env, error, "errno", value);
  napi_throw(env, error);
}

/* The call's arguments into argv (room for *argc; *argc becomes how many
 * were passed). Fewer than `min` throws a TypeError showing `usage`. */
static inline bool get_args(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc, size_t min,
                            const char *usage) {
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok) {
    throw_napi_failure(env, "napi_get_cb_info");
    return false;
  }
  if (*argc < min) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  return true;
}

/* An optional argument left out: null or undefined. */
static inline bool is_null_or_undefined(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  return t == napi_null || t == napi_undefined;
}

/* A number argument, or a TypeError naming `what`. */
static inline bool check_number(napi_env env, napi_value v, const char *what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_number) return true;
  char msg[96];
  snprintf(msg, sizeof msg, "weft_native: %s must be a number", what);
  napi_throw_type_error(env, NULL, msg);
  return false;
}

static inline bool get_i32(napi_env env, napi_value v, int32_t *out, const char *what) {
  return check_number(env, v, what) && napi_get_value_int32(env, v, out) == napi_ok;
}

/* As get_i32, for values up to 2^32 - 1 (a number outside that is taken modulo 2^32). */
static inline bool get_u32(napi_env env, napi_value v, uint32_t *out, const char *what) {
  return check_number(env, v, what) && napi_get_value_uint32(env, v, out) == napi_ok;
}

static inline bool get_i32_array(napi_env env, napi_value v, int32_t **data, size_t *len, const char *what) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta &&
      napi_get_typedarray_info(env, v, &type, len, &ptr, NULL, NULL) == napi_ok && type == napi_int32_array) {
    /* Node-API already adds the view's byte offset to ptr. */
    *data = (int32_t *)ptr;
    return true;
  }
  char msg[96];
  snprintf(msg, sizeof msg, "weft_native: %s must be an Int32Array", what);
  napi_throw_type_error(env, NULL, msg);
  return false;
}

static inline bool get_arraybuffer(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_ab = false;
  void *ptr = NULL;
  if (napi_is_arraybuffer(env, v, &is_ab) == napi_ok && is_ab &&
      napi_get_arraybuffer_info(env, v, &ptr, len) == napi_ok) {
    *data = (uint8_t *)ptr;
    return true;
  }
  napi_throw_type_error(env, NULL, "weft_native: buffer must be an ArrayBuffer");
  return false;
}

static inline napi_value make_i32(napi_env env, int32_t n) {
  napi_value v;
  NAPI_CALL(env, napi_create_int32(env, n, &v));
  return v;
}

/* A typed array of exactly `want` element type; TypeError naming `what` otherwise. */
static inline bool get_typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len,
                                   const char *what, const char *type_name) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta &&
      napi_get_typedarray_info(env, v, &type, len, &ptr, NULL, NULL) == napi_ok && type == want) {
    *data = ptr;
    return true;
  }
  char msg[96];
  snprintf(msg, sizeof msg, "weft_native: %s must be a %s", what, type_name);
  napi_throw_type_error(env, NULL, msg);
  return false;
}

static inline bool get_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len, const char *what) {
  return get_typed_array(env, v, napi_uint32_array, (void **)data, len, what, "Uint32Array");
}

static inline bool get_u16_array(napi_env env, napi_value v, uint16_t **data, size_t *len, const char *what) {
  return get_typed_array(env, v, napi_uint16_array, (void **)data, len, what, "Uint16Array");
}

#endif /* WEFT_NAPI_UTIL_H */
