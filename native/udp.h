/*
 * Batch UDP syscalls (udp.c), registered by the module init in tun.c.
 * Declared here because udp.c is its own translation unit.
 */
#ifndef WEFT_UDP_H
#define WEFT_UDP_H

#include <node_api.h>

napi_value weft_udp_open(napi_env env, napi_callback_info info);
napi_value weft_udp_recv_batch(napi_env env, napi_callback_info info);
napi_value weft_udp_send_batch(napi_env env, napi_callback_info info);
napi_value weft_udp_set_gro(napi_env env, napi_callback_info info);
napi_value weft_udp_set_timestamps(napi_env env, napi_callback_info info);

#endif /* WEFT_UDP_H */
