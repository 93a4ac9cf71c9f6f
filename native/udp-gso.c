/*
 * weft_native: sending a UDP batch with UDP GSO (UDP_SEGMENT, Linux 4.18+):
 * consecutive datagrams to one destination with one size (the last may be
 * shorter) leave as one message that the kernel, or the NIC, cuts into
 * datagrams after routing. A message the kernel refuses is sent again one
 * datagram at a time. Syscalls only. See udp(7) and
 * Documentation/networking/segmentation-offloads.rst.
 */
#include <errno.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "udp-batch.h"

/* At most this many datagrams per GSO message: UDP_MAX_SEGMENTS was 64 until
 * Linux 6.2 and is 128 since; 64 works on every kernel with UDP_SEGMENT. */
#define UDP_GSO_MAX_SEGS 64
/* A GSO message is one UDP datagram until it is cut: its payload must fit
 * the 16-bit IPv4 total length (65535 - 20 - 8 = 65507). IPv6's payload
 * length leaves 65527, but one limit for both keeps a run's cut the same
 * whichever family carries it (and an IPv4-mapped peer takes the IPv4 path). */
#define UDP_GSO_MAX_BYTES 65507


typedef union {
  char buf[CMSG_SPACE(sizeof(uint16_t))];
  struct cmsghdr align;
} gso_cmsg;


/* Datagrams [first, first + n) one sendmsg each: what a GSO message that the
 * kernel refused turns back into. */
static void send_singly(const udp_batch_args *a, int32_t first, int32_t n, send_result *res) {
  for (int32_t i = first; i < first + n; i++) {
    int32_t slot = a->b.slots[i];
    udp_sockaddr to;
    socklen_t to_len = fill_sockaddr(&to, a, i);
    struct iovec iov = {a->b.buf + a->b.offsets[slot], (size_t)a->b.lengths[slot]};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &to;
    m.msg_namelen = to_len;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t r;
    do {
      r = sendmsg(a->b.fd, &m, MSG_DONTWAIT);
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
void send_gso(const udp_batch_args *a, send_result *res) {
  struct mmsghdr msgs[UDP_CHUNK];
  struct iovec iov[UDP_CHUNK];
  udp_sockaddr to[UDP_CHUNK];
  gso_cmsg cm[UDP_CHUNK];
  int32_t first[UDP_CHUNK], nseg[UDP_CHUNK];
  int32_t i = 0;
  while (i < a->b.count) {
    int32_t nmsg = 0, niov = 0;
    while (i < a->b.count && niov < UDP_CHUNK) {
      int32_t seg = a->b.lengths[a->b.slots[i]];
      int64_t total = seg;
      int32_t n = 1;
      iov[niov].iov_base = a->b.buf + a->b.offsets[a->b.slots[i]];
      iov[niov].iov_len = (size_t)seg;
      while (seg > 0 && i + n < a->b.count && niov + n < UDP_CHUNK && n < UDP_GSO_MAX_SEGS &&
             same_destination(a, i, i + n)) {
        int32_t slot = a->b.slots[i + n];
        int32_t len = a->b.lengths[slot];
        if (len <= 0 || len > seg || total + len > UDP_GSO_MAX_BYTES) break;
        iov[niov + n].iov_base = a->b.buf + a->b.offsets[slot];
        iov[niov + n].iov_len = (size_t)len;
        total += len;
        n++;
        if (len < seg) break; /* a shorter datagram can only be the last segment */
      }
      struct msghdr *h = &msgs[nmsg].msg_hdr;
      memset(&msgs[nmsg], 0, sizeof msgs[nmsg]);
      h->msg_name = &to[nmsg];
      h->msg_namelen = fill_sockaddr(&to[nmsg], a, i);
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
      int r = sendmmsg(a->b.fd, msgs + done, (unsigned int)(nmsg - done), MSG_DONTWAIT);
      if (r < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          res->failed += a->b.count - first[done];
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

