/*
 * What udp.c and udp-gso.c share: the batch arguments of the UDP calls,
 * the tally of a send, and the GSO send path's entry point.
 */
#ifndef WEFT_UDP_BATCH_H
#define WEFT_UDP_BATCH_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "batch.h"

/* Datagrams per recvmmsg/sendmmsg call: 64 message headers, iovecs and
 * addresses are about 6 KiB of stack. Larger batches loop over chunks. */
#define UDP_CHUNK 64

/* The shared batch arguments (batch.h), then per message a destination or
 * sender: addrs (IPv4, first octet most significant) and ports. */
typedef struct {
  batch_args b;
  uint32_t *addrs;
  uint16_t *ports;
  size_t n_addrs, n_ports;
} udp_batch_args;

static inline bool get_udp_batch_args(napi_env env, napi_value *argv, napi_value addrs, napi_value ports, udp_batch_args *a) {
  return get_batch_args(env, argv, &a->b) && get_u32_array(env, addrs, &a->addrs, &a->n_addrs, "addrs") &&
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

static inline void fill_sockaddr(struct sockaddr_in *to, uint32_t addr, uint16_t port) {
  memset(to, 0, sizeof *to);
  to->sin_family = AF_INET;
  to->sin_addr.s_addr = htonl(addr);
  to->sin_port = htons(port);
}

/* Send the batch with UDP GSO where runs allow (udp-gso.c). */
void send_gso(const udp_batch_args *a, send_result *res);

#endif /* WEFT_UDP_BATCH_H */
