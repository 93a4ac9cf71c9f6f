/*
 * WireGuard's transport AEAD in place over ring memory (aead.c), registered
 * by the module init in tun.c, which also calls weft_aead_init once.
 */
#ifndef WEFT_AEAD_H
#define WEFT_AEAD_H

#include <stdbool.h>

#include <node_api.h>

/* Sets this environment's cipher contexts as its instance data; false only
 * when Node-API refused. An OpenSSL without the cipher is not an error here:
 * aeadAvailable() then reports false. */
bool weft_aead_init(napi_env env);
napi_value weft_aead_seal(napi_env env, napi_callback_info info);
napi_value weft_aead_open(napi_env env, napi_callback_info info);
napi_value weft_aead_available(napi_env env, napi_callback_info info);

#endif /* WEFT_AEAD_H */
