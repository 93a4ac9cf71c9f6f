/**
 * Typed loader for the native addon (native/*.c, built by node-gyp into
 * build/Release/weft_native.node when the package is installed).
 *
 * The addon is loaded lazily, on the first loadAddon() call, so that code and
 * tests that never open a device (the fake TUN, pure codecs) work on a
 * machine where the addon was not built.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeftError } from '../errors.ts';

/** What tunOpen returns: the non-blocking fd and the name the kernel gave the device. */
export interface TunOpenResult {
  fd: number;
  name: string;
}

/** What udpOpen returns: the non-blocking, bound socket fd and its local port. */
export interface UdpOpenResult {
  fd: number;
  port: number;
}

/** Opaque token for an active readiness watch; only pollStop understands it. */
export interface PollHandle {
  readonly __weftPollHandle: never;
}

/**
 * The Error the addon throws when a syscall fails, shaped like Node's own
 * system errors: `code` is the errno name, `errno` the negative errno.
 */
export interface NativeSyscallError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface WeftNative {
  /**
   * Open /dev/net/tun and attach it to TUN device `name` (IFF_TUN | IFF_NO_PI,
   * plus IFF_MULTI_QUEUE and IFF_VNET_HDR if asked); the fd is O_NONBLOCK
   * and O_CLOEXEC. With vnetHdr every packet read or written starts with a
   * 10-byte struct virtio_net_hdr. Throws a NativeSyscallError (syscall
   * 'open' or 'ioctl(TUNSETIFF)').
   */
  tunOpen(name: string, multiQueue: boolean, vnetHdr?: boolean): TunOpenResult;
  /**
   * On an fd opened with vnetHdr: set the header size to 10 and enable the
   * TUN_F_* offloads in `flags` (TUNSETOFFLOAD). Returns 0 or -errno.
   */
  tunSetOffload(fd: number, flags: number): number;
  /**
   * One writev(2) per write: write w gathers the next writeIovs[w]
   * (iovOffsets, iovLengths) pairs of `buffer`. A failed write is skipped:
   * status[0] = failures, status[1] = last errno, status[2] = bytes written.
   * Returns writes that succeeded; a plan reaching outside `buffer` (or a
   * write of more than 256 iovecs) writes nothing and reports EINVAL.
   */
  tunWriteGather(
    fd: number,
    buffer: ArrayBuffer,
    iovOffsets: Int32Array,
    iovLengths: Int32Array,
    writeIovs: Int32Array,
    writes: number,
    status: Int32Array,
  ): number;
  /**
   * Read up to `count` packets, packet i into `buffer` at offsets[slots[i]]
   * (at most `capacity` bytes), its size into lengths[slots[i]]. Stops at
   * EAGAIN. Returns packets read, or -errno for an error before the first
   * one (-EINVAL if a slot would reach outside `buffer`). A packet larger
   * than `capacity` is cut to `capacity` bytes and reported as that long:
   * pass one byte more than you accept to detect it.
   */
  tunReadBatch(
    fd: number,
    buffer: ArrayBuffer,
    offsets: Int32Array,
    lengths: Int32Array,
    slots: Int32Array,
    count: number,
    capacity: number,
  ): number;
  /**
   * Write `count` packets (offsets/lengths of slots[i]). A failed write skips
   * that packet: status[0] = failures, status[1] = last errno, status[2] (if
   * the array has it) = bytes written. Returns packets written.
   */
  tunWriteBatch(
    fd: number,
    buffer: ArrayBuffer,
    offsets: Int32Array,
    lengths: Int32Array,
    slots: Int32Array,
    count: number,
    status: Int32Array,
  ): number;
  /**
   * Open a UDP socket (SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC) of `family`,
   * set its receive and send buffers (SO_RCVBUFFORCE / SO_SNDBUFFORCE when
   * allowed, else capped by net.core.[rw]mem_max; 0 leaves the default) and
   * bind it to `address`:`port` ('' = any address of the family, port 0 = a
   * free one). An IPv6 socket gets IPV6_V6ONLY = `v6Only` (default false:
   * dual-stack, IPv4 peers as ::ffff:a.b.c.d), whatever net.ipv6.bindv6only
   * says. Throws a NativeSyscallError ('socket', 'inet_pton',
   * 'setsockopt(...)', 'bind'; code 'EADDRINUSE' for a port in use).
   */
  udpOpen(family: 4 | 6, address: string, port: number, rcvbuf: number, sndbuf: number, v6Only?: boolean): UdpOpenResult;
  /**
   * One recvmmsg (chunks of 64): datagram i into `buffer` at offsets[slots[i]]
   * (at most `capacity` bytes), its size into lengths[slots[i]], its sender
   * into address i of `addrs` and ports[i]. The array's type is the socket's
   * family: a Uint32Array holds IPv4 addresses, one number each, first octet
   * most significant (127.0.0.1 is 0x7f000001); a Uint8Array holds IPv6
   * addresses, 16 bytes each in network order (an IPv4 sender of a
   * dual-stack socket is ::ffff:a.b.c.d). A sender the kernel did not name
   * reads as the zero address and port 0. A datagram larger than `capacity` reports its
   * real size (> capacity) with only `capacity` bytes stored: drop it.
   * Returns datagrams received (0 when none was queued), or -errno for an
   * error before the first one (-EINVAL if a slot would reach outside `buffer`).
   * `segSizes` (a UDP_GRO socket): each message's datagram size, 0 for one
   * datagram. `waits` (a socket with udpSetTimestamps): how long each
   * message waited in the socket's queue, in microseconds (-1: no stamp).
   */
  udpRecvBatch(
    fd: number,
    buffer: ArrayBuffer,
    offsets: Int32Array,
    lengths: Int32Array,
    slots: Int32Array,
    count: number,
    capacity: number,
    addrs: Uint32Array | Uint8Array,
    ports: Uint16Array,
    segSizes?: Int32Array | null,
    waits?: Int32Array | null,
  ): number;
  /**
   * Set UDP_GRO on a socket: one receive may then bring a run of datagrams
   * of one flow end to end (receive buffers must hold 64 KiB), and
   * udpRecvBatch's `segSizes` says each message's datagram size (0: a
   * single datagram). Returns 0 or -errno (an old kernel: ENOPROTOOPT).
   */
  udpSetGro(fd: number): number;
  /**
   * Set SO_TIMESTAMPNS: the kernel stamps each datagram on arrival, and
   * udpRecvBatch's `waits` reports how long it queued. Returns 0 or -errno.
   */
  udpSetTimestamps(fd: number): number;
  /**
   * sendmmsg datagram i (offsets/lengths of slots[i]) to address i of
   * `addrs` (encoded as for udpRecvBatch: Uint32Array IPv4, Uint8Array IPv6)
   * and ports[i]. The kernel has copied every datagram when
   * this returns. A datagram that fails is skipped; EAGAIN ends the batch and
   * the rest count as failed. status[0] = failures, status[1] = last errno,
   * status[2] (if the array has it) = bytes sent, status[3] (if it has it) =
   * 1 when `gso` was asked for and the kernel refused UDP_SEGMENT (EIO,
   * ENOPROTOOPT, EOPNOTSUPP): stop asking, status[4] (if it has it) =
   * messages the kernel took (a GSO message counts once). Returns datagrams sent.
   *
   * `gso` (default false): runs of consecutive datagrams to one destination
   * with one length (the last may be shorter), up to 64 and 65507 bytes,
   * leave as one UDP_SEGMENT message; a refused one is re-sent one by one.
   */
  udpSendBatch(
    fd: number,
    buffer: ArrayBuffer,
    offsets: Int32Array,
    lengths: Int32Array,
    slots: Int32Array,
    count: number,
    addrs: Uint32Array | Uint8Array,
    ports: Uint16Array,
    status: Int32Array,
    gso?: boolean,
  ): number;
  /**
   * Watch `fd` for readability on the main event loop (uv_poll, level-triggered)
   * and call `callback` each time it is readable. An exception thrown by the
   * callback surfaces as 'uncaughtException'. Keep the handle: dropping it
   * stops the watch when it is garbage-collected.
   */
  pollStart(fd: number, callback: () => void): PollHandle;
  /** Stop and close the watch. Safe to call more than once. */
  pollStop(handle: PollHandle): void;
  closeFd(fd: number): void;
  /**
   * Put the calling thread (the event loop's) in SCHED_RR at `priority`
   * (1 to 99), with SCHED_RESET_ON_FORK so that threads and processes it
   * starts later run normally; 0 returns it to SCHED_OTHER. Returns 0 or
   * -errno (-EPERM without CAP_SYS_NICE or RLIMIT_RTPRIO, or in a cgroup
   * with no real-time runtime). Throws a RangeError outside 0 to 99.
   */
  schedSetRealtime(priority: number): number;
  /** The calling thread's policy (SCHED_OTHER 0, SCHED_RR 2, ...) into out[0] and priority into out[1]; 0 or -errno. */
  schedGet(out: Int32Array): number;
  /**
   * WireGuard's transport AEAD through Node's OpenSSL (native/aead.c):
   * ChaCha20-Poly1305 over bytes[off, off+len) in place with the nonce of
   * the counter counterLo + counterHi * 2^32, the tag written right behind.
   * Returns len + 16; -1 when OpenSSL failed; -2 when this environment has
   * no OpenSSL cipher (aeadAvailable). Throws a RangeError when the packet
   * and its tag do not lie inside `bytes` or the key is not 32 bytes.
   */
  aeadSeal(bytes: Uint8Array, off: number, len: number, key: Uint8Array, counterLo: number, counterHi: number): number;
  /**
   * Authenticate and decrypt bytes[off, off+len) (ciphertext, then the tag)
   * in place. Returns the plaintext length; -1 for a packet shorter than a
   * tag, outside `bytes` or forged (its bytes are then zeroed); -2 as for
   * aeadSeal. Throws only for a key that is not 32 bytes.
   */
  aeadOpen(bytes: Uint8Array, off: number, len: number, key: Uint8Array, counterLo: number, counterHi: number): number;
  /** Whether Node's OpenSSL gave this environment ChaCha20-Poly1305 (a FIPS configuration does not). */
  aeadAvailable(): boolean;
}

const ADDON_RELATIVE_PATH = join('build', 'Release', 'weft_native.node');

let cached: WeftNative | undefined;

/**
 * The package root: the nearest directory above this file holding a
 * package.json. From src/native/ under vitest and from dist/src/native/ after
 * tsc this is the same directory, and build/ sits in it.
 */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new WeftError('NATIVE_NOT_BUILT', `no package.json above ${from}: cannot locate the weft package root`);
    }
    dir = parent;
  }
}

/** Load the addon once; throws WeftError('NATIVE_NOT_BUILT') when it is missing. */
export function loadAddon(): WeftNative {
  if (cached !== undefined) return cached;
  const root = packageRoot();
  const path = join(root, ADDON_RELATIVE_PATH);
  if (!existsSync(path)) {
    throw new WeftError(
      'NATIVE_NOT_BUILT',
      `the native addon ${path} is missing: run npm install (it builds the addon with node-gyp; needs a C compiler and python3)`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(path) as WeftNative;
  } catch (cause) {
    throw new WeftError(
      'NATIVE_NOT_BUILT',
      `the native addon ${path} failed to load (${(cause as Error).message}): rebuild it with npm install (it builds the addon with node-gyp)`,
      { cause },
    );
  }
  return cached;
}

/** True for the errors the addon throws when a syscall fails. */
export function isNativeSyscallError(err: unknown): err is NativeSyscallError {
  return (
    err instanceof Error &&
    typeof (err as Partial<NativeSyscallError>).code === 'string' &&
    typeof (err as Partial<NativeSyscallError>).syscall === 'string'
  );
}
