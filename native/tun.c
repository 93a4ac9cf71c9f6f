/*
 * weft_native: TUN device syscalls for weft, as a Node-API addon.
 *
 * Syscalls only, no protocol logic. Packets move between the kernel and
 * PacketRing memory (one ArrayBuffer owned by JavaScript) in batches described
 * by slot numbers: offsets[slot] is where a packet starts in the buffer,
 * lengths[slot] its size. Nothing here allocates per packet or per batch.
 *
 * Readiness comes from a uv_poll_t on the main event loop (level-triggered
 * epoll on the TUN fd), not from the libuv thread pool: a TUN read never
 * blocks because the fd is O_NONBLOCK, so a thread hop would only add latency.
 *
 * Kernel interface: Documentation/networking/tuntap.rst, open(2), read(2),
 * write(2), ioctl(2), netdevice(7).
 */
#ifndef __linux__
#error "weft_native needs Linux (/dev/net/tun)"
#endif

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <node_api.h>
#include <uv.h>

#include "napi-util.h"
#include "batch.h"
#include "poll.h"
#include "aead.h"
#include "scheduling.h"
#include "udp.h"

/* ---- tunOpen(name, multiQueue[, vnetHdr]) -> { fd, name } --------------- */

static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (!get_args(env, info, argv, &argc, 2, "weft_native: tunOpen(name, multiQueue[, vnetHdr])")) return NULL;
  /* One byte more than IFNAMSIZ so an over-long name is detected, not cut. */
  char name[IFNAMSIZ + 1];
  size_t name_len = 0;
  bool multi_queue = false;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "weft_native: tunOpen name must be a string");
    return NULL;
  }
  if (napi_get_value_bool(env, argv[1], &multi_queue) != napi_ok) {
    napi_throw_type_error(env, NULL, "weft_native: tunOpen multiQueue must be a boolean");
    return NULL;
  }
  bool vnet_hdr = false;
  if (argc >= 3 && napi_get_value_bool(env, argv[2], &vnet_hdr) != napi_ok) {
    napi_throw_type_error(env, NULL, "weft_native: tunOpen vnetHdr must be a boolean");
    return NULL;
  }
  if (name_len >= IFNAMSIZ) {
    throw_errno(env, EINVAL, "ioctl(TUNSETIFF)", "(interface name longer than 15 bytes)");
    return NULL;
  }

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, errno, "open", "/dev/net/tun");
    return NULL;
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  /* IFF_NO_PI: packets are bare IP, no 4-byte flags/proto prefix, so a read
   * lands the IP header exactly at the slot offset. An empty name lets the
   * kernel pick tunN.
   * IFF_VNET_HDR: every packet read or written is preceded by a
   * struct virtio_net_hdr (10 bytes), which is what lets the kernel hand over
   * and take TCP super-packets once tunSetOffload has enabled them. */
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0) | (vnet_hdr ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, name_len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    char subject[IFNAMSIZ + 8];
    snprintf(subject, sizeof subject, "'%s'", name);
    throw_errno(env, err, "ioctl(TUNSETIFF)", subject);
    return NULL;
  }

  /* Non-blocking so a batch read stops at EAGAIN instead of parking the event
   * loop. Set after TUNSETIFF: the flag lives on the open file, not the device. */
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "fcntl(O_NONBLOCK)", "/dev/net/tun");
    return NULL;
  }

  napi_value result, v;
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_int32(env, fd, &v));
  NAPI_CALL(env, napi_set_named_property(env, result, "fd", v));
  NAPI_CALL(env, napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v));
  NAPI_CALL(env, napi_set_named_property(env, result, "name", v));
  return result;
}

/* ---- batch read / write -------------------------------------------------- */

/* What a batch of writes did: one writev per packet, counted, and reported
 * through the caller's status array as failures, last errno, bytes. */
typedef struct {
  int32_t written, failed, last_err;
  int64_t bytes;
} write_tally;

static void tally_writev(int fd, const struct iovec *iov, int count, write_tally *t) {
  ssize_t r;
  do {
    r = writev(fd, iov, count);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    t->failed++;
    t->last_err = errno;
  } else {
    t->written++;
    t->bytes += r;
  }
}

static napi_value tally_report(napi_env env, const write_tally *t, int32_t *status, size_t n_status) {
  status[0] = t->failed;
  status[1] = t->last_err;
  if (n_status >= 3) status[2] = t->bytes > INT32_MAX ? INT32_MAX : (int32_t)t->bytes;
  return make_i32(env, t->written);
}

/* tunReadBatch(fd, buffer, offsets, lengths, slots, count, capacity) -> n | -errno
 *
 * A packet larger than `capacity` is cut to `capacity` bytes and read()
 * returns `capacity` (tun_chr_read_iter returns min(packet, buffer)), so a cut
 * packet looks whole. A caller that must tell them apart passes one byte more
 * than it accepts and treats a length of capacity+1 as "did not fit". */
static napi_value tun_read_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (!get_args(env, info, argv, &argc, 7, "weft_native: tunReadBatch expects 7 arguments")) return NULL;
  batch_args a;
  int32_t capacity;
  if (!get_batch_args(env, argv, &a) || !get_i32(env, argv[6], &capacity, "capacity")) return NULL;
  if (capacity <= 0 || !batch_in_bounds(&a, capacity)) return make_i32(env, -EINVAL);

  int32_t got = 0;
  while (got < a.count) {
    int32_t slot = a.slots[got];
    ssize_t r = read(a.fd, a.buf + a.offsets[slot], (size_t)capacity);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      /* A real error after some packets: return those; the error shows up
       * again on the next call, where it is reported. */
      if (got == 0) return make_i32(env, -errno);
      break;
    }
    a.lengths[slot] = r > INT32_MAX ? INT32_MAX : (int32_t)r;
    got++;
  }
  return make_i32(env, got);
}

/* tunWriteBatch(fd, buffer, offsets, lengths, slots, count, status) -> written
 *
 * A failed write (e.g. EINVAL for a packet that is not IPv4/IPv6) skips that
 * packet and carries on: one bad packet must not hold up the batch.
 * status[0] = failures, status[1] = last errno, status[2] (if present) = bytes
 * written. */
static napi_value tun_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (!get_args(env, info, argv, &argc, 7, "weft_native: tunWriteBatch expects 7 arguments")) return NULL;
  batch_args a;
  int32_t *status;
  size_t n_status;
  if (!get_batch_args(env, argv, &a) || !get_i32_array(env, argv[6], &status, &n_status, "status")) return NULL;
  if (n_status < 2) {
    napi_throw_range_error(env, NULL, "weft_native: status must have at least 2 elements");
    return NULL;
  }
  status[0] = 0;
  status[1] = 0;
  if (n_status >= 3) status[2] = 0;
  if (!batch_in_bounds(&a, -1)) {
    status[0] = a.count > 0 ? a.count : 0;
    status[1] = EINVAL;
    return make_i32(env, 0);
  }

  write_tally t = {0, 0, 0, 0};
  for (int32_t i = 0; i < a.count; i++) {
    int32_t slot = a.slots[i];
    struct iovec iov = {a.buf + a.offsets[slot], (size_t)a.lengths[slot]};
    tally_writev(a.fd, &iov, 1, &t);
  }
  return tally_report(env, &t, status, n_status);
}

/* ---- tunSetOffload(fd, flags) -> 0 | -errno ----------------------------- */

/* TUNSETVNETHDRSZ to the plain 10-byte header, then TUNSETOFFLOAD with the
 * TUN_F_* flags the caller can handle. Only meaningful on an fd opened with
 * vnetHdr. An old kernel answers EINVAL for flags it does not know; the
 * caller then runs without offloads. */
static napi_value tun_set_offload(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, flags;
  if (!get_args(env, info, argv, &argc, 2, "weft_native: tunSetOffload(fd, flags)")) return NULL;
  if (!get_i32(env, argv[0], &fd, "fd") || !get_i32(env, argv[1], &flags, "flags")) return NULL;
  int hdr_size = (int)sizeof(struct virtio_net_hdr);
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0) return make_i32(env, -errno);
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(uint32_t)flags) < 0) return make_i32(env, -errno);
  return make_i32(env, 0);
}

/* ---- tunWriteGather(fd, buffer, iovOffsets, iovLengths, writeIovs, writes, status) -> written
 *
 * writev(2) per write: write w takes the next writeIovs[w] (offset, length)
 * pairs of the buffer as one packet. This is how a coalesced TCP
 * super-packet (virtio header + head packet, then each follower's payload)
 * reaches the kernel without being copied together first. As tunWriteBatch,
 * a failed write is counted and skipped; status[0] = failures, status[1] =
 * last errno, status[2] = bytes written. Every iovec is bounds-checked
 * before the first syscall. */
#define MAX_GATHER_IOVS 256

static napi_value tun_write_gather(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (!get_args(env, info, argv, &argc, 7, "weft_native: tunWriteGather expects 7 arguments")) return NULL;
  int32_t fd, writes;
  uint8_t *buf;
  size_t buf_len, n_off, n_len, n_groups, n_status;
  int32_t *offsets, *lengths, *groups, *status;
  if (!get_i32(env, argv[0], &fd, "fd") || !get_arraybuffer(env, argv[1], &buf, &buf_len) ||
      !get_i32_array(env, argv[2], &offsets, &n_off, "iovOffsets") ||
      !get_i32_array(env, argv[3], &lengths, &n_len, "iovLengths") ||
      !get_i32_array(env, argv[4], &groups, &n_groups, "writeIovs") || !get_i32(env, argv[5], &writes, "writes") ||
      !get_i32_array(env, argv[6], &status, &n_status, "status"))
    return NULL;
  if (n_status < 3) {
    napi_throw_range_error(env, NULL, "weft_native: status must have at least 3 elements");
    return NULL;
  }
  status[0] = 0;
  status[1] = 0;
  status[2] = 0;
  /* Whole-call bounds check first: a bad plan has no partial effect. */
  bool ok = writes >= 0 && (size_t)writes <= n_groups;
  size_t iov_total = 0;
  for (int32_t w = 0; ok && w < writes; w++) {
    int32_t k = groups[w];
    if (k < 1 || k > MAX_GATHER_IOVS || iov_total + (size_t)k > n_off || iov_total + (size_t)k > n_len) {
      ok = false;
      break;
    }
    for (int32_t j = 0; j < k; j++) {
      int64_t off = offsets[iov_total + (size_t)j], len = lengths[iov_total + (size_t)j];
      if (off < 0 || len < 0 || off + len > (int64_t)buf_len) ok = false;
    }
    iov_total += (size_t)k;
  }
  if (!ok) {
    status[0] = writes > 0 ? writes : 0;
    status[1] = EINVAL;
    return make_i32(env, 0);
  }

  struct iovec iov[MAX_GATHER_IOVS];
  write_tally t = {0, 0, 0, 0};
  size_t next = 0;
  for (int32_t w = 0; w < writes; w++) {
    int32_t k = groups[w];
    for (int32_t j = 0; j < k; j++, next++) {
      iov[j].iov_base = buf + offsets[next];
      iov[j].iov_len = (size_t)lengths[next];
    }
    tally_writev(fd, iov, k, &t);
  }
  return tally_report(env, &t, status, n_status);
}

/* ---- closeFd(fd) --------------------------------------------------------- */

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, argv, &argc, 1, "weft_native: closeFd(fd)") || !get_i32(env, argv[0], &fd, "fd")) return NULL;
  /* On Linux the fd is released even when close() reports EINTR; retrying
   * could close an fd another thread just got, so only EBADF is an error. */
  if (close(fd) < 0 && errno != EINTR) {
    throw_errno(env, errno, "close", "(TUN fd)");
    return NULL;
  }
  return NULL;
}

/* ---- module -------------------------------------------------------------- */

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"tunOpen", NULL, tun_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"tunReadBatch", NULL, tun_read_batch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"tunWriteBatch", NULL, tun_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"tunWriteGather", NULL, tun_write_gather, NULL, NULL, NULL, napi_enumerable, NULL},
    {"tunSetOffload", NULL, tun_set_offload, NULL, NULL, NULL, napi_enumerable, NULL},
    {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"pollStart", NULL, poll_start, NULL, NULL, NULL, napi_enumerable, NULL},
    {"pollStop", NULL, poll_stop, NULL, NULL, NULL, napi_enumerable, NULL},
    /* Batch UDP (udp.c). */
    {"udpOpen", NULL, weft_udp_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"udpRecvBatch", NULL, weft_udp_recv_batch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"udpSendBatch", NULL, weft_udp_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"udpSetGro", NULL, weft_udp_set_gro, NULL, NULL, NULL, napi_enumerable, NULL},
    {"udpSetTimestamps", NULL, weft_udp_set_timestamps, NULL, NULL, NULL, napi_enumerable, NULL},
    /* The event loop thread's scheduling class (scheduling.c). */
    {"schedSetRealtime", NULL, weft_sched_set_realtime, NULL, NULL, NULL, napi_enumerable, NULL},
    {"schedGet", NULL, weft_sched_get, NULL, NULL, NULL, napi_enumerable, NULL},
    /* WireGuard's transport AEAD through Node's OpenSSL (aead.c). */
    {"aeadSeal", NULL, weft_aead_seal, NULL, NULL, NULL, napi_enumerable, NULL},
    {"aeadOpen", NULL, weft_aead_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"aeadAvailable", NULL, weft_aead_available, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  if (!weft_aead_init(env)) {
    throw_napi_failure(env, "napi_set_instance_data");
    return NULL;
  }
  return exports;
}
