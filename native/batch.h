/*
 * The argument shape every batch call shares (TUN read/write, UDP recv/send):
 * fd, the ring's buffer, its per-slot offsets and lengths, the batch's slot
 * list and count; and the bounds check that runs over the whole batch before
 * the first syscall, so a bad batch has no partial effect.
 */
#ifndef WEFT_BATCH_H
#define WEFT_BATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <node_api.h>
#include "napi-util.h"

/* The argument shape shared by both batch calls. */
typedef struct {
  int32_t fd;
  uint8_t *buf;
  size_t buf_len;
  int32_t *offsets, *lengths, *slots;
  size_t n_offsets, n_lengths, n_slots;
  int32_t count;
} batch_args;

static inline bool get_batch_args(napi_env env, napi_value *argv, batch_args *a) {
  return get_i32(env, argv[0], &a->fd, "fd") &&
         get_arraybuffer(env, argv[1], &a->buf, &a->buf_len) &&
         get_i32_array(env, argv[2], &a->offsets, &a->n_offsets, "offsets") &&
         get_i32_array(env, argv[3], &a->lengths, &a->n_lengths, "lengths") &&
         get_i32_array(env, argv[4], &a->slots, &a->n_slots, "slots") &&
         get_i32(env, argv[5], &a->count, "count");
}

/* Every slot named in the batch must index offsets/lengths, and `span` bytes
 * from its offset (or its own length when span < 0) must lie inside the
 * buffer. Checked for the whole batch before the first syscall so that a bad
 * batch has no partial effect. */
static inline bool batch_in_bounds(const batch_args *a, int64_t span) {
  if (a->count < 0 || (size_t)a->count > a->n_slots) return false;
  for (int32_t i = 0; i < a->count; i++) {
    int32_t slot = a->slots[i];
    if (slot < 0 || (size_t)slot >= a->n_offsets || (size_t)slot >= a->n_lengths) return false;
    int64_t off = a->offsets[slot];
    int64_t len = span >= 0 ? span : a->lengths[slot];
    if (off < 0 || len < 0 || off + len > (int64_t)a->buf_len) return false;
  }
  return true;
}

#endif
