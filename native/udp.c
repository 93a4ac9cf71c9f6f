/*
 * weft_native: batch UDP syscalls for weft's native transport.
 *
 * Syscalls only, no protocol logic, the same shape as the TUN batch calls in
 * tun.c: datagrams move between the kernel and PacketRing memory (one
 * ArrayBuffer owned by JavaScript), described by slot numbers, offsets[slot]
 * and lengths[slot]. One recvmmsg(2) or sendmmsg(2) moves up to UDP_CHUNK
 * datagrams; the message headers live on the C stack, so nothing here
 * allocates per datagram or per batch.
 *
 * Either family, one per socket. IPv4 addresses cross to JavaScript as one
 * uint32 each, the first octet in the most significant byte (127.0.0.1 is
 * 0x7f000001); IPv6 addresses as 16 bytes each in network order (sin6_addr),
 * in a Uint8Array; the array's type says which (udp-batch.h). Ports are
 * host-order uint16. An IPv6 socket is dual-stack unless asked otherwise
 * (IPV6_V6ONLY 0): IPv4 peers appear as ::ffff:a.b.c.d, see ipv6(7).
 *
 * Readiness uses pollStart/pollStop (poll.h) on the socket fd, as for TUN.
 *
 * Sends may use UDP GSO (UDP_SEGMENT, Linux 4.18+): consecutive datagrams
 * to one destination with one size (the last may be shorter) leave as one
 * message the kernel, or the NIC, cuts into datagrams after routing.
 *
 * Kernel interface: socket(2), setsockopt(2) and socket(7) (SO_RCVBUF,
 * SO_RCVBUFFORCE), ipv6(7) (IPV6_V6ONLY), bind(2), recvmmsg(2),
 * sendmmsg(2), udp(7) and, for
 * UDP_SEGMENT, Documentation/networking/segmentation-offloads.rst.
 */
#ifndef __linux__
#error "weft_native needs Linux (recvmmsg/sendmmsg)"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>

#include "napi-util.h"
#include "udp-batch.h"
#include "udp.h"


/* ---- udpOpen(family, address, port, rcvbuf, sndbuf[, v6only]) -> { fd, port } */

/* Set a socket buffer size, forcing past net.core.[rw]mem_max when we may
 * (root or CAP_NET_ADMIN); otherwise the kernel caps it at that sysctl. */
static int set_buffer(int fd, int force_opt, int opt, int32_t size) {
  if (size <= 0) return 0;
  int v = size;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v) == 0) return 0;
  return setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
}

/* The bind address of `family` from text ('' = any); false if it does not parse. */
static bool bind_address(int32_t family, const char *text, size_t len, int32_t port, udp_sockaddr *sa, socklen_t *sa_len) {
  memset(sa, 0, sizeof *sa);
  if (family == 4) {
    sa->v4.sin_family = AF_INET;
    sa->v4.sin_port = htons((uint16_t)port);
    *sa_len = sizeof sa->v4;
    if (len == 0) {
      sa->v4.sin_addr.s_addr = htonl(INADDR_ANY);
      return true;
    }
    return inet_pton(AF_INET, text, &sa->v4.sin_addr) == 1;
  }
  sa->v6.sin6_family = AF_INET6;
  sa->v6.sin6_port = htons((uint16_t)port);
  *sa_len = sizeof sa->v6;
  if (len == 0) {
    sa->v6.sin6_addr = in6addr_any;
    return true;
  }
  return inet_pton(AF_INET6, text, &sa->v6.sin6_addr) == 1;
}

napi_value weft_udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (!get_args(env, info, argv, &argc, 5, "weft_native: udpOpen(family, address, port, rcvbuf, sndbuf[, v6only])")) return NULL;
  int32_t family, port, rcvbuf, sndbuf;
  bool v6only = false;
  char address[64];
  size_t address_len = 0;
  if (!get_i32(env, argv[0], &family, "family")) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], address, sizeof address, &address_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "weft_native: udpOpen address must be a string");
    return NULL;
  }
  if (!get_i32(env, argv[2], &port, "port") || !get_i32(env, argv[3], &rcvbuf, "rcvbuf") ||
      !get_i32(env, argv[4], &sndbuf, "sndbuf"))
    return NULL;
  if (argc >= 6 && napi_get_value_bool(env, argv[5], &v6only) != napi_ok) {
    napi_throw_type_error(env, NULL, "weft_native: udpOpen v6only must be a boolean");
    return NULL;
  }
  if (port < 0 || port > 65535) {
    napi_throw_range_error(env, NULL, "weft_native: udpOpen port must be from 0 to 65535");
    return NULL;
  }
  char subject[96];
  if (family == 6)
    snprintf(subject, sizeof subject, "[%s]:%d", address_len > 0 ? address : "::", port);
  else
    snprintf(subject, sizeof subject, "%s:%d", address_len > 0 ? address : "0.0.0.0", port);
  if (family != 4 && family != 6) {
    throw_errno(env, EAFNOSUPPORT, "socket", subject);
    return NULL;
  }
  udp_sockaddr sa;
  socklen_t sa_len;
  if (address_len >= sizeof address - 1 || !bind_address(family, address, address_len, port, &sa, &sa_len)) {
    throw_errno(env, EINVAL, "inet_pton", subject);
    return NULL;
  }

  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", subject);
    return NULL;
  }
  if (set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "setsockopt(SO_RCVBUF)", subject);
    return NULL;
  }
  if (set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "setsockopt(SO_SNDBUF)", subject);
    return NULL;
  }
  /* Set either way: the default follows net.ipv6.bindv6only, and a socket
   * must not change meaning with a sysctl. */
  int only = v6only ? 1 : 0;
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "setsockopt(IPV6_V6ONLY)", subject);
    return NULL;
  }
  if (bind(fd, &sa.sa, sa_len) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "bind", subject);
    return NULL;
  }
  udp_sockaddr bound;
  socklen_t bound_len = sizeof bound;
  if (getsockname(fd, &bound.sa, &bound_len) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "getsockname", subject);
    return NULL;
  }

  napi_value result, v;
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_int32(env, fd, &v));
  NAPI_CALL(env, napi_set_named_property(env, result, "fd", v));
  NAPI_CALL(env, napi_create_int32(env, ntohs(family == 6 ? bound.v6.sin6_port : bound.v4.sin_port), &v));
  NAPI_CALL(env, napi_set_named_property(env, result, "port", v));
  return result;
}


/* ---- UDP GRO (receive coalescing) ------------------------------------------
 * With UDP_GRO set (Linux 5.0+), the kernel may hand one recvmsg a run of
 * datagrams of one flow, laid end to end, all gso_size long but the last;
 * a control message says gso_size. That keeps a sender's UDP GSO message
 * whole from its sendmsg to ours, instead of cut into one skb and one
 * receive per datagram. The buffer must then hold 64 KiB. */
#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h */
#endif

/* Room for both control messages a receive may carry: UDP_GRO's segment
 * size and SO_TIMESTAMPNS's arrival time. */
typedef union {
  char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct timespec))];
  struct cmsghdr align;
} gro_cmsg;

/* The gso_size of a received message, or 0 when it holds one datagram. */
static int32_t gro_segment_size(struct msghdr *h) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size;
      memcpy(&size, CMSG_DATA(c), sizeof size);
      return size > 0 ? size : 0;
    }
  }
  return 0;
}

/* ---- receive timestamps ---------------------------------------------------
 * With SO_TIMESTAMPNS the kernel stamps each datagram when it arrives
 * (CLOCK_REALTIME) and hands the stamp over with it. The difference to now
 * is how long the datagram waited in the socket's queue: the standing
 * queue weft's receive side controls (CoDel, in JavaScript). */

/* Microseconds message h waited since the kernel stamped it, at `now`; -1 without a stamp. */
static int32_t queued_us(struct msghdr *h, const struct timespec *now) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof ts);
      int64_t us = ((int64_t)now->tv_sec - ts.tv_sec) * 1000000 + ((int64_t)now->tv_nsec - ts.tv_nsec) / 1000;
      /* The wall clock may step: a negative or absurd wait counts as none. */
      return us < 0 ? 0 : us > INT32_MAX ? INT32_MAX : (int32_t)us;
    }
  }
  return -1;
}

/* Turn one boolean socket option on for the fd argument: 0 | -errno. */
static napi_value set_flag(napi_env env, napi_callback_info info, int level, int option, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, argv, &argc, 1, usage) || !get_i32(env, argv[0], &fd, "fd")) return NULL;
  int one = 1;
  if (setsockopt(fd, level, option, &one, sizeof one) < 0) return make_i32(env, -errno);
  return make_i32(env, 0);
}

/* udpSetTimestamps(fd) -> 0 | -errno */
napi_value weft_udp_set_timestamps(napi_env env, napi_callback_info info) {
  return set_flag(env, info, SOL_SOCKET, SO_TIMESTAMPNS, "weft_native: udpSetTimestamps(fd)");
}

/* udpSetGro(fd) -> 0 | -errno */
napi_value weft_udp_set_gro(napi_env env, napi_callback_info info) {
  return set_flag(env, info, SOL_UDP, UDP_GRO, "weft_native: udpSetGro(fd)");
}

/* ---- udpRecvBatch ---------------------------------------------------------
 * udpRecvBatch(fd, buffer, offsets, lengths, slots, count, capacity, addrs, ports) -> n | -errno
 *
 * Receives up to `count` datagrams, datagram i into `buffer` at
 * offsets[slots[i]] (at most `capacity` bytes), its size into
 * lengths[slots[i]], its sender into address i of addrs (udp-batch.h) and
 * ports[i]. Stops when the
 * socket queue is empty. recvmmsg runs with MSG_TRUNC, so a datagram larger
 * than `capacity` reports its real size (> capacity) while only `capacity`
 * bytes were stored: the caller drops it. Returns -errno for an error before
 * the first datagram (-EINVAL if a slot would reach outside `buffer`).
 * With `segSizes` (on a socket with UDP_GRO), segSizes[i] is message i's
 * segment size, 0 for a single datagram. With `waits` (on a socket with
 * SO_TIMESTAMPNS), waits[i] is how long message i waited in the socket's
 * queue in microseconds, -1 if it carried no stamp. Either may be null. */
napi_value weft_udp_recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (!get_args(env, info, argv, &argc, 9, "weft_native: udpRecvBatch expects 9 to 11 arguments")) return NULL;
  udp_batch_args a;
  int32_t capacity;
  int32_t *seg_sizes = NULL;
  int32_t *waits = NULL;
  size_t n_seg = 0, n_waits = 0;
  if (!get_udp_batch_args(env, argv, argv[7], argv[8], &a) || !get_i32(env, argv[6], &capacity, "capacity"))
    return NULL;
  if (argc >= 10 && !is_null_or_undefined(env, argv[9]) && !get_i32_array(env, argv[9], &seg_sizes, &n_seg, "segSizes")) return NULL;
  if (argc >= 11 && !is_null_or_undefined(env, argv[10]) && !get_i32_array(env, argv[10], &waits, &n_waits, "waits")) return NULL;
  if (capacity <= 0 || !udp_batch_in_bounds(&a, capacity)) return make_i32(env, -EINVAL);
  if (seg_sizes != NULL && (size_t)a.b.count > n_seg) return make_i32(env, -EINVAL);
  if (waits != NULL && (size_t)a.b.count > n_waits) return make_i32(env, -EINVAL);
  bool want_cmsg = seg_sizes != NULL || waits != NULL;

  struct mmsghdr msgs[UDP_CHUNK];
  struct iovec iov[UDP_CHUNK];
  udp_sockaddr from[UDP_CHUNK];
  gro_cmsg cm[UDP_CHUNK];
  socklen_t room = sender_room(&a);
  int32_t got = 0;
  while (got < a.b.count) {
    int32_t k = a.b.count - got < UDP_CHUNK ? a.b.count - got : UDP_CHUNK;
    for (int32_t j = 0; j < k; j++) {
      iov[j].iov_base = a.b.buf + a.b.offsets[a.b.slots[got + j]];
      iov[j].iov_len = (size_t)capacity;
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_name = &from[j];
      msgs[j].msg_hdr.msg_namelen = room;
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
      if (want_cmsg) {
        msgs[j].msg_hdr.msg_control = cm[j].buf;
        msgs[j].msg_hdr.msg_controllen = sizeof cm[j].buf;
      }
    }
    int r = recvmmsg(a.b.fd, msgs, (unsigned int)k, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      /* A real error after some datagrams: return those; the kernel keeps
       * the error for the next call, where it is reported. */
      if (got == 0) return make_i32(env, -errno);
      break;
    }
    struct timespec now = {0, 0};
    if (waits != NULL) clock_gettime(CLOCK_REALTIME, &now);
    for (int j = 0; j < r; j++) {
      int32_t slot = a.b.slots[got + j];
      unsigned int len = msgs[j].msg_len;
      a.b.lengths[slot] = len > INT32_MAX ? INT32_MAX : (int32_t)len;
      store_sender(&a, got + j, &from[j], msgs[j].msg_hdr.msg_namelen);
      if (seg_sizes != NULL) seg_sizes[got + j] = gro_segment_size(&msgs[j].msg_hdr);
      if (waits != NULL) waits[got + j] = queued_us(&msgs[j].msg_hdr, &now);
    }
    got += r;
    if (r < k) break; /* the queue is empty: another call would only say EAGAIN */
  }
  return make_i32(env, got);
}

/* ---- udpSendBatch ---------------------------------------------------------
 * udpSendBatch(fd, buffer, offsets, lengths, slots, count, addrs, ports, status) -> sent
 *
 * Sends datagram i (offsets/lengths of slots[i]) to address i of addrs
 * (udp-batch.h) and ports[i]. The
 * kernel copies each datagram before sendmmsg returns, so the caller may
 * reuse every slot at once. sendmmsg stops at the first message that fails
 * and returns the count before it; that message is then retried alone, and
 * if it fails again it is skipped and counted (one bad destination must not
 * hold up the batch). EAGAIN (the send buffer is full) ends the batch: the
 * rest count as failed. status[0] = failures, status[1] = last errno,
 * status[2] (if present) = bytes sent, status[3] (if present) = 1 when GSO
 * was asked for and the kernel refused it (the caller should stop asking),
 * status[4] (if present) = messages the kernel took (GSO messages count
 * once; without GSO, the datagrams sent). Returns datagrams sent.
 *
 * With `gso` true, runs of datagrams with one destination and size become
 * one UDP_SEGMENT message each (send_gso below). */
napi_value weft_udp_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  if (!get_args(env, info, argv, &argc, 9, "weft_native: udpSendBatch expects 9 or 10 arguments")) return NULL;
  udp_batch_args a;
  int32_t *status;
  size_t n_status;
  bool gso = false;
  if (!get_udp_batch_args(env, argv, argv[6], argv[7], &a) ||
      !get_i32_array(env, argv[8], &status, &n_status, "status"))
    return NULL;
  if (argc >= 10 && napi_get_value_bool(env, argv[9], &gso) != napi_ok) {
    napi_throw_type_error(env, NULL, "weft_native: udpSendBatch gso must be a boolean");
    return NULL;
  }
  if (n_status < 2) {
    napi_throw_range_error(env, NULL, "weft_native: status must have at least 2 elements");
    return NULL;
  }
  status[0] = 0;
  status[1] = 0;
  if (n_status >= 3) status[2] = 0;
  if (n_status >= 4) status[3] = 0;
  if (n_status >= 5) status[4] = 0;
  if (!udp_batch_in_bounds(&a, -1)) {
    status[0] = a.b.count > 0 ? a.b.count : 0;
    status[1] = EINVAL;
    return make_i32(env, 0);
  }
  if (gso) {
    send_result res = {0, 0, 0, 0, 0, false};
    send_gso(&a, &res);
    status[0] = res.failed;
    status[1] = res.last_err;
    if (n_status >= 3) status[2] = res.bytes > INT32_MAX ? INT32_MAX : (int32_t)res.bytes;
    if (n_status >= 4) status[3] = res.gso_refused ? 1 : 0;
    if (n_status >= 5) status[4] = res.messages;
    return make_i32(env, res.sent);
  }

  struct mmsghdr msgs[UDP_CHUNK];
  struct iovec iov[UDP_CHUNK];
  udp_sockaddr to[UDP_CHUNK];
  int32_t sent = 0, failed = 0, last_err = 0;
  int64_t bytes = 0;
  for (int32_t base = 0; base < a.b.count; base += UDP_CHUNK) {
    int32_t k = a.b.count - base < UDP_CHUNK ? a.b.count - base : UDP_CHUNK;
    for (int32_t j = 0; j < k; j++) {
      int32_t slot = a.b.slots[base + j];
      iov[j].iov_base = a.b.buf + a.b.offsets[slot];
      iov[j].iov_len = (size_t)a.b.lengths[slot];
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_name = &to[j];
      msgs[j].msg_hdr.msg_namelen = fill_sockaddr(&to[j], &a, base + j);
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    int32_t done = 0;
    while (done < k) {
      int r = sendmmsg(a.b.fd, msgs + done, (unsigned int)(k - done), MSG_DONTWAIT);
      if (r < 0) {
        int err = errno;
        if (err == EINTR) continue;
        last_err = err;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          failed += a.b.count - (base + done);
          goto out;
        }
        failed++; /* message `done` itself failed: skip it */
        done++;
        continue;
      }
      for (int j = done; j < done + r; j++) bytes += msgs[j].msg_len;
      sent += r;
      done += r;
    }
  }
out:
  status[0] = failed;
  status[1] = last_err;
  if (n_status >= 3) status[2] = bytes > INT32_MAX ? INT32_MAX : (int32_t)bytes;
  if (n_status >= 5) status[4] = sent;
  return make_i32(env, sent);
}
