/*
 * What udp.c and udp-gso.c share: the batch arguments of the UDP calls,
 * the tally of a send, socket addresses of either family, and the GSO send
 * path's entry point.
 */
#ifndef WEFT_UDP_BATCH_H
#define WEFT_UDP_BATCH_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "batch.h"

/* Datagrams per recvmmsg/sendmmsg call: 64 message headers, iovecs and
 * addresses are about 7 KiB of stack. Larger batches loop over chunks. */
#define UDP_CHUNK 64

/* Bytes of one IPv6 address in an addrs array (as in struct in6_addr). */
#define UDP_ADDR6_LEN 16

/* The shared batch arguments (batch.h), then per message a destination or
 * sender. The address array's type says the socket's family: a Uint32Array
 * holds IPv4 addresses, one number each (first octet most significant); a
 * Uint8Array holds IPv6 addresses, 16 bytes each in network order, exactly
 * as sin6_addr (an IPv4 peer of a dual-stack socket is ::ffff:a.b.c.d).
 * Exactly one of addrs / addrs6 is set; n_addrs counts addresses. */
typedef struct {
  batch_args b;
  uint32_t *addrs;
  uint8_t *addrs6;
  uint16_t *ports;
  size_t n_addrs, n_ports;
} udp_batch_args;

/* Either family's socket address, sized for the larger. */
typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} udp_sockaddr;

static inline bool get_udp_addrs(napi_env env, napi_value v, udp_batch_args *a) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len;
  void *ptr;
  if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta &&
      napi_get_typedarray_info(env, v, &type, &len, &ptr, NULL, NULL) == napi_ok) {
    if (type == napi_uint32_array) {
      a->addrs = (uint32_t *)ptr;
      a->addrs6 = NULL;
      a->n_addrs = len;
      return true;
    }
    if (type == napi_uint8_array) {
      a->addrs = NULL;
      a->addrs6 = (uint8_t *)ptr;
      a->n_addrs = len / UDP_ADDR6_LEN;
      return true;
    }
  }
  napi_throw_type_error(env, NULL, "weft_native: addrs must be a Uint32Array (IPv4) or a Uint8Array (IPv6, 16 bytes each)");
  return false;
}

static inline bool get_udp_batch_args(napi_env env, napi_value *argv, napi_value addrs, napi_value ports, udp_batch_args *a) {
  return get_batch_args(env, argv, &a->b) && get_udp_addrs(env, addrs, a) &&
         get_u16_array(env, ports, &a->ports, &a->n_ports, "ports");
}

/* The batch's bounds (batch.h), and an address and port for every message. */
static inline bool udp_batch_in_bounds(const udp_batch_args *a, int64_t span) {
  return batch_in_bounds(&a->b, span) && (size_t)a->b.count <= a->n_addrs && (size_t)a->b.count <= a->n_ports;
}

/* What one udpSendBatch did: reported to JavaScript through `status`. */
typedef struct {
  int32_t sent, failed, last_err, messages;
  int64_t bytes;
  bool gso_refused;
} send_result;

/* Message i's destination into `to`; returns the address length for msg_namelen. */
static inline socklen_t fill_sockaddr(udp_sockaddr *to, const udp_batch_args *a, int32_t i) {
  if (a->addrs6 == NULL) {
    memset(&to->v4, 0, sizeof to->v4);
    to->v4.sin_family = AF_INET;
    to->v4.sin_addr.s_addr = htonl(a->addrs[i]);
    to->v4.sin_port = htons(a->ports[i]);
    return sizeof to->v4;
  }
  memset(&to->v6, 0, sizeof to->v6);
  to->v6.sin6_family = AF_INET6;
  memcpy(&to->v6.sin6_addr, a->addrs6 + (size_t)i * UDP_ADDR6_LEN, UDP_ADDR6_LEN);
  to->v6.sin6_port = htons(a->ports[i]);
  return sizeof to->v6;
}

/* Messages i and j go to one address and port. */
static inline bool same_destination(const udp_batch_args *a, int32_t i, int32_t j) {
  if (a->ports[i] != a->ports[j]) return false;
  if (a->addrs6 == NULL) return a->addrs[i] == a->addrs[j];
  return memcmp(a->addrs6 + (size_t)i * UDP_ADDR6_LEN, a->addrs6 + (size_t)j * UDP_ADDR6_LEN, UDP_ADDR6_LEN) == 0;
}

/* Room recvmmsg may fill with a sender's address: only what the family needs. */
static inline socklen_t sender_room(const udp_batch_args *a) {
  return a->addrs6 == NULL ? (socklen_t)sizeof(struct sockaddr_in) : (socklen_t)sizeof(udp_sockaddr);
}

/* Message i's sender as the kernel reported it (`len` bytes of `from`) into
 * addrs/ports. A name that is too short or of another family than the array
 * holds reads as the zero address and port 0 (unspecified), except that an
 * IPv4 sender fits an IPv6 array as ::ffff:a.b.c.d. */
static inline void store_sender(const udp_batch_args *a, int32_t i, const udp_sockaddr *from, socklen_t len) {
  bool v4 = len >= sizeof(struct sockaddr_in) && from->sa.sa_family == AF_INET;
  if (a->addrs6 == NULL) {
    a->addrs[i] = v4 ? ntohl(from->v4.sin_addr.s_addr) : 0;
    a->ports[i] = v4 ? ntohs(from->v4.sin_port) : 0;
    return;
  }
  uint8_t *out = a->addrs6 + (size_t)i * UDP_ADDR6_LEN;
  if (len >= sizeof(struct sockaddr_in6) && from->sa.sa_family == AF_INET6) {
    memcpy(out, &from->v6.sin6_addr, UDP_ADDR6_LEN);
    a->ports[i] = ntohs(from->v6.sin6_port);
  } else if (v4) {
    memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    memcpy(out + 12, &from->v4.sin_addr, 4);
    a->ports[i] = ntohs(from->v4.sin_port);
  } else {
    memset(out, 0, UDP_ADDR6_LEN);
    a->ports[i] = 0;
  }
}

/* Send the batch with UDP GSO where runs allow (udp-gso.c). */
void send_gso(const udp_batch_args *a, send_result *res);

#endif /* WEFT_UDP_BATCH_H */
