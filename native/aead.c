/*
 * WireGuard's transport AEAD (ChaCha20-Poly1305, RFC 8439) in place over
 * ring memory, through the OpenSSL that Node itself carries: Node exports
 * its OpenSSL symbols to addons, so this adds no library to the process.
 *
 * Why here and not in libsodium (sodium-native), which the handshake keeps
 * using: on this project's machines OpenSSL's assembly is about twice as
 * fast for a full-size packet (1440 bytes: 1.1 against 2.1 us per seal;
 * bench/crypto/aead-bench.ts), the per-packet AEAD was 45% of a WireGuard
 * node's time, and a call taking (buffer, offset, length) needs no view of
 * the packet per call. The functions are pure: no protocol state, no key
 * kept between calls; the two cipher contexts below are scratch, reused
 * only to avoid an allocation per packet. See docs/ARCHITECTURE.md,
 * "The transport AEAD".
 *
 * Nonce: WireGuard's, 4 zero bytes then the 64-bit counter little-endian
 * (whitepaper 5.4.6), from the counter's two 32-bit halves.
 */
#ifndef __linux__
#error "weft_native is Linux-only"
#endif

#include <limits.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "aead.h"
#include "napi-util.h"

#define AEAD_KEY_LEN 32
#define AEAD_TAG_LEN 16

/* One sealing and one opening context per Node environment (worker threads
 * load the addon into their own), set up with the cipher once; each call
 * only sets its key and nonce. NULL when OpenSSL refused the cipher (a FIPS
 * configuration has no ChaCha20-Poly1305): aeadAvailable() says so and
 * weft uses libsodium instead. */
typedef struct {
  EVP_CIPHER_CTX *seal;
  EVP_CIPHER_CTX *open;
} aead_contexts;

static void free_contexts(napi_env env, void *data, void *hint) {
  UNUSED(env);
  UNUSED(hint);
  aead_contexts *c = data;
  EVP_CIPHER_CTX_free(c->seal);
  EVP_CIPHER_CTX_free(c->open);
  free(c);
}

static EVP_CIPHER_CTX *new_context(int enc) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx != NULL && EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL, enc) == 1) return ctx;
  EVP_CIPHER_CTX_free(ctx);
  return NULL;
}

bool weft_aead_init(napi_env env) {
  aead_contexts *c = calloc(1, sizeof *c);
  if (c == NULL) return false;
  c->seal = new_context(1);
  c->open = new_context(0);
  if (c->seal == NULL || c->open == NULL) {
    EVP_CIPHER_CTX_free(c->seal);
    EVP_CIPHER_CTX_free(c->open);
    c->seal = c->open = NULL;
  }
  return napi_set_instance_data(env, c, free_contexts, NULL) == napi_ok;
}

static aead_contexts *contexts(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  aead_contexts *c = data;
  return c != NULL && c->seal != NULL ? c : NULL;
}

/* The arguments both calls share: (bytes, off, len, key, lo, hi). */
typedef struct {
  uint8_t *bytes;
  size_t size;
  uint32_t off, len, lo, hi;
  const uint8_t *key;
} aead_args;

static bool get_aead_args(napi_env env, napi_callback_info info, aead_args *a, const char *usage) {
  size_t argc = 6, key_len = 0;
  napi_value argv[6];
  void *key = NULL;
  if (!get_args(env, info, argv, &argc, 6, usage) ||
      !get_typed_array(env, argv[0], napi_uint8_array, (void **)&a->bytes, &a->size, "bytes", "Uint8Array") ||
      !get_u32(env, argv[1], &a->off, "off") || !get_u32(env, argv[2], &a->len, "len") ||
      !get_typed_array(env, argv[3], napi_uint8_array, &key, &key_len, "key", "Uint8Array") ||
      !get_u32(env, argv[4], &a->lo, "counterLo") || !get_u32(env, argv[5], &a->hi, "counterHi"))
    return false;
  if (key_len != AEAD_KEY_LEN) {
    napi_throw_range_error(env, NULL, "weft_native: the AEAD key must be 32 bytes");
    return false;
  }
  a->key = key;
  return true;
}

static void wireguard_nonce(uint8_t nonce[12], uint32_t lo, uint32_t hi) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 4; i++) {
    nonce[4 + i] = (uint8_t)(lo >> (8 * i));
    nonce[8 + i] = (uint8_t)(hi >> (8 * i));
  }
}

/* aeadSeal(bytes, off, len, key, counterLo, counterHi): encrypt
 * bytes[off, off+len) in place and write the tag right behind it. Returns
 * len + 16; -1 when OpenSSL failed; -2 when this environment has no
 * OpenSSL cipher. A range outside `bytes` is a programming error: RangeError. */
napi_value weft_aead_seal(napi_env env, napi_callback_info info) {
  aead_args a;
  if (!get_aead_args(env, info, &a, "weft_native: aeadSeal(bytes, off, len, key, counterLo, counterHi)")) return NULL;
  /* OpenSSL takes an int length; a ring's packets are far below it. */
  if ((uint64_t)a.off + a.len + AEAD_TAG_LEN > a.size || a.len > INT_MAX) {
    napi_throw_range_error(env, NULL, "weft_native: aeadSeal: the packet and its tag must lie inside bytes");
    return NULL;
  }
  aead_contexts *c = contexts(env);
  if (c == NULL) return make_i32(env, -2);
  uint8_t nonce[12], *p = a.bytes + a.off;
  wireguard_nonce(nonce, a.lo, a.hi);
  int out = 0, fin = 0;
  bool ok = EVP_CipherInit_ex(c->seal, NULL, NULL, a.key, nonce, 1) == 1 &&
            EVP_CipherUpdate(c->seal, p, &out, p, (int)a.len) == 1 && EVP_CipherFinal_ex(c->seal, p + out, &fin) == 1 &&
            EVP_CIPHER_CTX_ctrl(c->seal, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, p + a.len) == 1;
  return make_i32(env, ok ? (int32_t)(a.len + AEAD_TAG_LEN) : -1);
}

/* aeadOpen(bytes, off, len, key, counterLo, counterHi): authenticate and
 * decrypt bytes[off, off+len) (ciphertext, then the 16-byte tag) in place.
 * Returns the plaintext length, -1 for a packet that is too short, outside
 * `bytes` or forged (wire input: never an exception), -2 when this
 * environment has no OpenSSL cipher. OpenSSL decrypts before it checks the
 * tag, so a forged packet's output is zeroed before returning: no
 * unauthenticated plaintext is left in the slot. */
napi_value weft_aead_open(napi_env env, napi_callback_info info) {
  aead_args a;
  if (!get_aead_args(env, info, &a, "weft_native: aeadOpen(bytes, off, len, key, counterLo, counterHi)")) return NULL;
  if (a.len < AEAD_TAG_LEN || (uint64_t)a.off + a.len > a.size || a.len > INT_MAX) return make_i32(env, -1);
  aead_contexts *c = contexts(env);
  if (c == NULL) return make_i32(env, -2);
  uint8_t nonce[12], *p = a.bytes + a.off;
  uint32_t mlen = a.len - AEAD_TAG_LEN;
  wireguard_nonce(nonce, a.lo, a.hi);
  int out = 0, fin = 0;
  bool ok = EVP_CipherInit_ex(c->open, NULL, NULL, a.key, nonce, 0) == 1 &&
            EVP_CIPHER_CTX_ctrl(c->open, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, p + mlen) == 1 &&
            EVP_CipherUpdate(c->open, p, &out, p, (int)mlen) == 1 && EVP_CipherFinal_ex(c->open, p + out, &fin) == 1;
  if (!ok) {
    memset(p, 0, mlen);
    return make_i32(env, -1);
  }
  return make_i32(env, (int32_t)mlen);
}

/* aeadAvailable(): whether this environment's OpenSSL has the cipher. */
napi_value weft_aead_available(napi_env env, napi_callback_info info) {
  UNUSED(info);
  napi_value v;
  NAPI_CALL(env, napi_get_boolean(env, contexts(env) != NULL, &v));
  return v;
}
