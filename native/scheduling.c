/*
 * The scheduling class of the calling thread (the event loop's, since
 * Node-API calls run there): the data path asks for a real-time round-robin
 * priority so that, on a busy node, a packet does not wait for a pod's
 * process to finish its time slice before weft runs, as it never waits for
 * one in the kernel's own data path (softirq). See docs/ARCHITECTURE.md,
 * "Waiting for a CPU".
 */
#ifndef __linux__
#error "weft_native is Linux-only"
#endif

#include <sched.h>

#include "napi-util.h"
#include "scheduling.h"

/* schedSetRealtime(priority): SCHED_RR at `priority` (1..99), or SCHED_OTHER
 * for 0. SCHED_RESET_ON_FORK: threads and processes started afterwards (the
 * ip(8) children, libuv's pool) get normal scheduling, never this one.
 * Returns 0 or -errno (EPERM: no CAP_SYS_NICE and no RLIMIT_RTPRIO, or a
 * cgroup without real-time runtime). */
napi_value weft_sched_set_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t priority;
  if (!get_args(env, info, argv, &argc, 1, "weft_native: schedSetRealtime(priority)") ||
      !get_i32(env, argv[0], &priority, "priority"))
    return NULL;
  if (priority < 0 || priority > 99) {
    napi_throw_range_error(env, NULL, "weft_native: schedSetRealtime: priority must be 0 to 99");
    return NULL;
  }
  struct sched_param param = {.sched_priority = priority};
  int policy = priority == 0 ? SCHED_OTHER : SCHED_RR | SCHED_RESET_ON_FORK;
  return make_i32(env, sched_setscheduler(0, policy, &param) == 0 ? 0 : -errno);
}

/* schedGet(out): out[0] = the calling thread's policy (SCHED_RESET_ON_FORK
 * masked off), out[1] = its real-time priority. Returns 0 or -errno. */
napi_value weft_sched_get(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t *out;
  size_t n;
  if (!get_args(env, info, argv, &argc, 1, "weft_native: schedGet(out)") || !get_i32_array(env, argv[0], &out, &n, "out"))
    return NULL;
  if (n < 2) {
    napi_throw_range_error(env, NULL, "weft_native: schedGet: out needs 2 elements");
    return NULL;
  }
  int policy = sched_getscheduler(0);
  struct sched_param param;
  if (policy < 0 || sched_getparam(0, &param) < 0) return make_i32(env, -errno);
  out[0] = policy & ~SCHED_RESET_ON_FORK;
  out[1] = param.sched_priority;
  return make_i32(env, 0);
}
