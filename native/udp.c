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
 * IPv4 only for now: addresses cross to JavaScript as one uint32 each, the
 * first octet in the most significant byte (127.0.0.1 is 0x7f000001), and
 * ports as host-order uint16. udpOpen refuses family 6 with EAFNOSUPPORT.
 *
 * Readiness uses pollStart/pollStop (poll.h) on the socket fd, as for TUN.
 *
 * Sends may use UDP GSO (UDP_SEGMENT, Linux 4.18+): consecutive datagrams
 * to one destination with one size (the last may be shorter) leave as one
 * message the kernel, or the NIC, cuts into datagrams after routing.
 *
 * Kernel interface: socket(2), setsockopt(2) and socket(7) (SO_RCVBUF,
 * SO_RCVBUFFORCE), bind(2), recvmmsg(2), sendmmsg(2), udp(7) and, for
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
#include <unistd.h>

#include <node_api.h>

#include "napi-util.h"
#include "udp.h"

/* Datagrams per recvmmsg/sendmmsg call: 64 message headers, iovecs and
 * addresses are about 6 KiB of stack. Larger batches loop over chunks. */
#define UDP_CHUNK 64

/* ---- udpOpen(family, address, port, rcvbuf, sndbuf) -> { fd, port } ----- */

/* Set a socket buffer size, forcing past net.core.[rw]mem_max when we may
 * (root or CAP_NET_ADMIN); otherwise the kernel caps it at that sysctl. */
static int set_buffer(int fd, int force_opt, int opt, int32_t size) {
  if (size <= 0) return 0;
  int v = size;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v) == 0) return 0;
  return setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
}

napi_value weft_udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "weft_native: udpOpen(family, address, port, rcvbuf, sndbuf)");
    return NULL;
  }
  int32_t family, port, rcvbuf, sndbuf;
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
  if (port < 0 || port > 65535) {
    napi_throw_range_error(env, NULL, "weft_native: udpOpen port must be from 0 to 65535");
    return NULL;
  }
  char subject[96];
  snprintf(subject, sizeof subject, "%s:%d", address_len > 0 ? address : "0.0.0.0", port);
  if (family != 4) {
    throw_errno(env, EAFNOSUPPORT, "socket", "(the batch UDP transport supports IPv4 only)");
    return NULL;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (address_len == 0) {
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (address_len >= sizeof address - 1 || inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
    throw_errno(env, EINVAL, "inet_pton", subject);
    return NULL;
  }

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "bind", subject);
    return NULL;
  }
  struct sockaddr_in bound;
  socklen_t bound_len = sizeof bound;
  if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "getsockname", subject);
    return NULL;
  }

  napi_value result, v;
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_int32(env, fd, &v));
  NAPI_CALL(env, napi_set_named_property(env, result, "fd", v));
  NAPI_CALL(env, napi_create_int32(env, ntohs(bound.sin_port), &v));
  NAPI_CALL(env, napi_set_named_property(env, result, "port", v));
  return result;
}

/* ---- batch arguments ----------------------------------------------------- */

/* fd, buffer, offsets, lengths, slots, count, then per call: capacity (recv)
 * or nothing (send), then addrs and ports. */
typedef struct {
  int32_t fd;
  uint8_t *buf;
  size_t buf_len;
  int32_t *offsets, *lengths, *slots;
  size_t n_offsets, n_lengths, n_slots;
  int32_t count;
  uint32_t *addrs;
  uint16_t *ports;
  size_t n_addrs, n_ports;
} udp_batch_args;

static bool get_udp_batch_args(napi_env env, napi_value *argv, napi_value addrs, napi_value ports, udp_batch_args *a) {
  return get_i32(env, argv[0], &a->fd, "fd") && get_arraybuffer(env, argv[1], &a->buf, &a->buf_len) &&
         get_i32_array(env, argv[2], &a->offsets, &a->n_offsets, "offsets") &&
         get_i32_array(env, argv[3], &a->lengths, &a->n_lengths, "lengths") &&
         get_i32_array(env, argv[4], &a->slots, &a->n_slots, "slots") && get_i32(env, argv[5], &a->count, "count") &&
         get_u32_array(env, addrs, &a->addrs, &a->n_addrs, "addrs") &&
         get_u16_array(env, ports, &a->ports, &a->n_ports, "ports");
}

/* Every slot of the batch indexes offsets/lengths, and `span` bytes from its
 * offset (its own length when span < 0) lie inside the buffer; addrs and
 * ports have an entry per message. Checked for the whole batch before the
 * first syscall, so a bad batch has no partial effect. */
static bool udp_batch_in_bounds(const udp_batch_args *a, int64_t span) {
  if (a->count < 0 || (size_t)a->count > a->n_slots || (size_t)a->count > a->n_addrs ||
      (size_t)a->count > a->n_ports)
    return false;
  for (int32_t i = 0; i < a->count; i++) {
    int32_t slot = a->slots[i];
    if (slot < 0 || (size_t)slot >= a->n_offsets || (size_t)slot >= a->n_lengths) return false;
    int64_t off = a->offsets[slot];
    int64_t len = span >= 0 ? span : a->lengths[slot];
    if (off < 0 || len < 0 || off + len > (int64_t)a->buf_len) return false;
  }
  return true;
}

/* ---- udpRecvBatch ---------------------------------------------------------
 * udpRecvBatch(fd, buffer, offsets, lengths, slots, count, capacity, addrs, ports) -> n | -errno
 *
 * Receives up to `count` datagrams, datagram i into `buffer` at
 * offsets[slots[i]] (at most `capacity` bytes), its size into
 * lengths[slots[i]], its sender into addrs[i] / ports[i]. Stops when the
 * socket queue is empty. recvmmsg runs with MSG_TRUNC, so a datagram larger
 * than `capacity` reports its real size (> capacity) while only `capacity`
 * bytes were stored: the caller drops it. Returns -errno for an error before
 * the first datagram (-EINVAL if a slot would reach outside `buffer`). */
napi_value weft_udp_recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) {
    napi_throw_type_error(env, NULL, "weft_native: udpRecvBatch expects 9 arguments");
    return NULL;
  }
  udp_batch_args a;
  int32_t capacity;
  if (!get_udp_batch_args(env, argv, argv[7], argv[8], &a) || !get_i32(env, argv[6], &capacity, "capacity"))
    return NULL;
  if (capacity <= 0 || !udp_batch_in_bounds(&a, capacity)) return make_i32(env, -EINVAL);

  struct mmsghdr msgs[UDP_CHUNK];
  struct iovec iov[UDP_CHUNK];
  struct sockaddr_in from[UDP_CHUNK];
  int32_t got = 0;
  while (got < a.count) {
    int32_t k = a.count - got < UDP_CHUNK ? a.count - got : UDP_CHUNK;
    for (int32_t j = 0; j < k; j++) {
      iov[j].iov_base = a.buf + a.offsets[a.slots[got + j]];
      iov[j].iov_len = (size_t)capacity;
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_name = &from[j];
      msgs[j].msg_hdr.msg_namelen = sizeof from[j];
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    int r = recvmmsg(a.fd, msgs, (unsigned int)k, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      /* A real error after some datagrams: return those; the kernel keeps
       * the error for the next call, where it is reported. */
      if (got == 0) return make_i32(env, -errno);
      break;
    }
    for (int j = 0; j < r; j++) {
      int32_t slot = a.slots[got + j];
      unsigned int len = msgs[j].msg_len;
      a.lengths[slot] = len > INT32_MAX ? INT32_MAX : (int32_t)len;
      if (msgs[j].msg_hdr.msg_namelen >= sizeof(struct sockaddr_in) && from[j].sin_family == AF_INET) {
        a.addrs[got + j] = ntohl(from[j].sin_addr.s_addr);
        a.ports[got + j] = ntohs(from[j].sin_port);
      } else {
        a.addrs[got + j] = 0;
        a.ports[got + j] = 0;
      }
    }
    got += r;
    if (r < k) break; /* the queue is empty: another call would only say EAGAIN */
  }
  return make_i32(env, got);
}

/* ---- UDP GSO ------------------------------------------------------------- */

/* At most this many datagrams per GSO message: UDP_MAX_SEGMENTS was 64 until
 * Linux 6.2 and is 128 since; 64 works on every kernel with UDP_SEGMENT. */
#define UDP_GSO_MAX_SEGS 64
/* A GSO message is one UDP datagram until it is cut: its payload must fit
 * the 16-bit IPv4 total length (65535 - 20 - 8 = 65507). */
#define UDP_GSO_MAX_BYTES 65507

typedef struct {
  int32_t sent, failed, last_err, messages;
  int64_t bytes;
  bool gso_refused;
} send_result;

typedef union {
  char buf[CMSG_SPACE(sizeof(uint16_t))];
  struct cmsghdr align;
} gso_cmsg;

static void fill_sockaddr(struct sockaddr_in *to, uint32_t addr, uint16_t port) {
  memset(to, 0, sizeof *to);
  to->sin_family = AF_INET;
  to->sin_addr.s_addr = htonl(addr);
  to->sin_port = htons(port);
}

/* Datagrams [first, first + n) one sendmsg each: what a GSO message that the
 * kernel refused turns back into. */
static void send_singly(const udp_batch_args *a, int32_t first, int32_t n, send_result *res) {
  for (int32_t i = first; i < first + n; i++) {
    int32_t slot = a->slots[i];
    struct sockaddr_in to;
    fill_sockaddr(&to, a->addrs[i], a->ports[i]);
    struct iovec iov = {a->buf + a->offsets[slot], (size_t)a->lengths[slot]};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t r;
    do {
      r = sendmsg(a->fd, &m, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      res->failed++;
      res->last_err = errno;
    } else {
      res->sent++;
      res->messages++;
      res->bytes += r;
    }
  }
}

/* The GSO refusals that mean "never on this socket or route" (no checksum
 * offload, IPsec, an old kernel), as opposed to a bad datagram. */
static bool gso_unsupported(int err) {
  return err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

/* Group the batch into messages: a run of datagrams with one destination,
 * each as long as the first (the last may be shorter), becomes one message
 * with one iovec per slot and a UDP_SEGMENT of the first's length; any other
 * datagram is a message of its own. Up to UDP_CHUNK iovecs per sendmmsg. A
 * GSO message the kernel refuses (EINVAL for a segment above the path MTU,
 * EIO without checksum offload) is sent again datagram by datagram. */
static void send_gso(const udp_batch_args *a, send_result *res) {
  struct mmsghdr msgs[UDP_CHUNK];
  struct iovec iov[UDP_CHUNK];
  struct sockaddr_in to[UDP_CHUNK];
  gso_cmsg cm[UDP_CHUNK];
  int32_t first[UDP_CHUNK], nseg[UDP_CHUNK];
  int32_t i = 0;
  while (i < a->count) {
    int32_t nmsg = 0, niov = 0;
    while (i < a->count && niov < UDP_CHUNK) {
      uint32_t addr = a->addrs[i];
      uint16_t port = a->ports[i];
      int32_t seg = a->lengths[a->slots[i]];
      int64_t total = seg;
      int32_t n = 1;
      iov[niov].iov_base = a->buf + a->offsets[a->slots[i]];
      iov[niov].iov_len = (size_t)seg;
      while (seg > 0 && i + n < a->count && niov + n < UDP_CHUNK && n < UDP_GSO_MAX_SEGS &&
             a->addrs[i + n] == addr && a->ports[i + n] == port) {
        int32_t slot = a->slots[i + n];
        int32_t len = a->lengths[slot];
        if (len <= 0 || len > seg || total + len > UDP_GSO_MAX_BYTES) break;
        iov[niov + n].iov_base = a->buf + a->offsets[slot];
        iov[niov + n].iov_len = (size_t)len;
        total += len;
        n++;
        if (len < seg) break; /* a shorter datagram can only be the last segment */
      }
      struct msghdr *h = &msgs[nmsg].msg_hdr;
      memset(&msgs[nmsg], 0, sizeof msgs[nmsg]);
      fill_sockaddr(&to[nmsg], addr, port);
      h->msg_name = &to[nmsg];
      h->msg_namelen = sizeof to[nmsg];
      h->msg_iov = &iov[niov];
      h->msg_iovlen = (size_t)n;
      if (n > 1) {
        memset(&cm[nmsg], 0, sizeof cm[nmsg]);
        h->msg_control = cm[nmsg].buf;
        h->msg_controllen = sizeof cm[nmsg].buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t gso_size = (uint16_t)seg;
        memcpy(CMSG_DATA(c), &gso_size, sizeof gso_size);
      }
      first[nmsg] = i;
      nseg[nmsg] = n;
      nmsg++;
      niov += n;
      i += n;
    }
    int32_t done = 0;
    while (done < nmsg) {
      int r = sendmmsg(a->fd, msgs + done, (unsigned int)(nmsg - done), MSG_DONTWAIT);
      if (r < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          res->failed += a->count - first[done];
          res->last_err = err;
          return;
        }
        if (nseg[done] > 1) {
          if (gso_unsupported(err)) res->gso_refused = true;
          send_singly(a, first[done], nseg[done], res);
        } else {
          res->failed++;
          res->last_err = err;
        }
        done++;
        continue;
      }
      res->messages += r;
      for (int32_t j = done; j < done + r; j++) {
        res->sent += nseg[j];
        res->bytes += msgs[j].msg_len;
      }
      done += r;
    }
  }
}

/* ---- udpSendBatch ---------------------------------------------------------
 * udpSendBatch(fd, buffer, offsets, lengths, slots, count, addrs, ports, status) -> sent
 *
 * Sends datagram i (offsets/lengths of slots[i]) to addrs[i]:ports[i]. The
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
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) {
    napi_throw_type_error(env, NULL, "weft_native: udpSendBatch expects 9 or 10 arguments");
    return NULL;
  }
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
    status[0] = a.count > 0 ? a.count : 0;
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
  struct sockaddr_in to[UDP_CHUNK];
  int32_t sent = 0, failed = 0, last_err = 0;
  int64_t bytes = 0;
  for (int32_t base = 0; base < a.count; base += UDP_CHUNK) {
    int32_t k = a.count - base < UDP_CHUNK ? a.count - base : UDP_CHUNK;
    for (int32_t j = 0; j < k; j++) {
      int32_t slot = a.slots[base + j];
      iov[j].iov_base = a.buf + a.offsets[slot];
      iov[j].iov_len = (size_t)a.lengths[slot];
      memset(&to[j], 0, sizeof to[j]);
      to[j].sin_family = AF_INET;
      to[j].sin_addr.s_addr = htonl(a.addrs[base + j]);
      to[j].sin_port = htons(a.ports[base + j]);
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_name = &to[j];
      msgs[j].msg_hdr.msg_namelen = sizeof to[j];
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    int32_t done = 0;
    while (done < k) {
      int r = sendmmsg(a.fd, msgs + done, (unsigned int)(k - done), MSG_DONTWAIT);
      if (r < 0) {
        int err = errno;
        if (err == EINTR) continue;
        last_err = err;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          failed += a.count - (base + done);
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
