/*
 * The event loop thread's scheduling class (scheduling.c), registered by the
 * module init in tun.c.
 */
#ifndef WEFT_SCHEDULING_H
#define WEFT_SCHEDULING_H

#include <node_api.h>

napi_value weft_sched_set_realtime(napi_env env, napi_callback_info info);
napi_value weft_sched_get(napi_env env, napi_callback_info info);

#endif /* WEFT_SCHEDULING_H */
