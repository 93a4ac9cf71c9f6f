/**
 * NativeTun: a kernel TUN device (IFF_TUN | IFF_NO_PI) over the native addon.
 *
 * Reads go straight into ring slots: the addon is handed the ring's buffer,
 * its offset/length arrays and a preallocated list of slot numbers, and fills
 * them with read(2) calls until EAGAIN. Every typed array used on the hot
 * path is allocated once here, so a read or write batch allocates nothing.
 */
import { getSystemErrorName } from 'node:util';
import type { PacketRing, SlotBatch } from '../buf/packet-ring.ts';
import { WeftError } from '../errors.ts';
import { isNativeSyscallError, loadAddon } from '../native/addon.ts';
import { finishPartialChecksums } from '../offload/partial-checksum.ts';
import type { PollHandle, WeftNative } from '../native/addon.ts';
import { emptyTunStats, MAX_IFNAME_BYTES, MAX_TUN_PACKET } from './tun-device.ts';
import type { TunDevice, TunStats } from './tun-device.ts';
import { TUN_OFFLOADS, TunOffload } from './tun-offload.ts';
import type { OffloadStats } from './tun-offload.ts';

export interface OpenTunOptions {
  /** Interface name, 1..15 bytes; a name with %d (e.g. 'weft%d') lets the kernel number it. */
  name: string;
  /** IFF_MULTI_QUEUE: several fds (queues) may attach to the same device. Default false. */
  multiQueue?: boolean;
  /** Most slots one readBatch fills; bounds the preallocated slot list. Default 256. */
  maxBatch?: number;
  /**
   * TCP segmentation offload through a virtio-net header (IFF_VNET_HDR +
   * TUNSETOFFLOAD): the kernel hands over 64 KiB TCP super-packets, which
   * weft cuts into packets, and takes coalesced TCP segments back in one
   * write. Needs `ring` (the ring the device will read into). Default false.
   */
  offload?: { ring: PacketRing; verifyChecksums?: boolean; leavePartial?: boolean };
}

/** Check an interface name as the kernel's dev_valid_name() would, before any syscall. */
export function validateTunName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new WeftError('TUN_NAME_INVALID', `TUN device name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IFNAME_BYTES) {
    throw new WeftError(
      'TUN_NAME_TOO_LONG',
      `TUN device name '${name}' is ${bytes} bytes; Linux allows at most ${MAX_IFNAME_BYTES}: choose a shorter name`,
    );
  }
  if (name === '.' || name === '..' || /[/:\s\0]/u.test(name)) {
    throw new WeftError(
      'TUN_NAME_INVALID',
      `TUN device name '${name}' is not a valid interface name: it must not be '.' or '..' nor contain '/', ':', whitespace or NUL`,
    );
  }
}

/**
 * Turn the addon's failure to open `name` into a WeftError whose code says
 * what to fix. The errno name stays on the error (err.errno).
 */
export function tunOpenError(err: unknown, name: string): WeftError {
  if (!isNativeSyscallError(err)) {
    return new WeftError('TUN_OPEN_FAILED', `opening TUN device '${name}' failed: ${String(err)}`, { cause: err });
  }
  const errno = err.code;
  const detail = `${err.syscall}: ${errno}`;
  switch (errno) {
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return new WeftError(
        'TUN_UNAVAILABLE',
        `cannot open TUN device '${name}' (${detail}): the kernel has no TUN support here; load the tun module (modprobe tun) or create /dev/net/tun (mknod /dev/net/tun c 10 200), or in a container pass --device /dev/net/tun`,
        { cause: err, errno },
      );
    case 'EPERM':
    case 'EACCES':
      return new WeftError(
        'TUN_PERMISSION',
        `cannot open TUN device '${name}' (${detail}): creating or attaching a TUN device needs root or CAP_NET_ADMIN`,
        { cause: err, errno },
      );
    case 'EBUSY':
      return new WeftError(
        'TUN_BUSY',
        `cannot attach to TUN device '${name}' (${detail}): it is already open in another process (a single-queue TUN device takes one fd); stop that process or choose another name`,
        { cause: err, errno },
      );
    case 'EINVAL':
      // With the flags weft passes, TUNSETIFF only says EINVAL when the name
      // already exists as something we cannot attach to: a non-TUN device
      // (veth, dummy, a TAP device) or a TUN device with the other
      // multi-queue setting. The name is taken, so this is TUN_BUSY too.
      if (err.syscall.startsWith('ioctl')) {
        return new WeftError(
          'TUN_BUSY',
          `cannot attach to TUN device '${name}' (${detail}): the name is in use by a device that is not a TUN device, or by a TUN device with a different multi-queue setting; choose another name or delete that device`,
          { cause: err, errno },
        );
      }
      break;
  }
  return new WeftError('TUN_OPEN_FAILED', `cannot open TUN device '${name}': ${err.message}`, { cause: err, errno });
}

/** -errno -> 'EBADF' etc.; libuv's table lacks EBADFD, which is what a detached TUN fd reports. */
function errnoName(negErrno: number): string {
  if (negErrno === -77) return 'EBADFD'; // Linux (asm-generic) value
  const name = getSystemErrorName(negErrno);
  return name.startsWith('Unknown') ? `ERRNO_${-negErrno}` : name;
}

export class NativeTun implements TunDevice {
  readonly name: string;
  readonly stats: TunStats = emptyTunStats();
  readonly multiQueue: boolean;

  private readonly addon: WeftNative;
  private fd: number;
  private poll: PollHandle | null = null;
  private handler: (() => void) | null = null;
  /** Slots taken from the ring for one read batch. */
  private readonly acquired: Int32Array;
  /** Write results from the addon: failures, last errno, bytes. */
  private readonly writeStatus = new Int32Array(3);
  /**
   * Where a packet goes when the ring is full: read and dropped, so a
   * level-triggered poll does not fire again and again for a packet nobody
   * can take. One slot covering the whole scratch buffer.
   */
  private readonly scratch = new ArrayBuffer(MAX_TUN_PACKET);
  private readonly scratchOffset = new Int32Array(1);
  private readonly scratchLength = new Int32Array(1);
  private readonly scratchSlot = new Int32Array(1);
  /** Made once so that starting the poll does not allocate a closure each time. */
  private readonly dispatch = (): void => {
    this.handler?.();
  };
  /** The offload halves when the device was opened with a virtio-net header; null otherwise. */
  private readonly offload: TunOffload | null;
  /** Whether the kernel accepted TUNSETOFFLOAD (a header alone works too, without super-packets). */
  readonly offloadsEnabled: boolean;
  private resumeScheduled = false;
  private readonly resume = (): void => {
    this.resumeScheduled = false;
    if (this.fd >= 0) this.handler?.();
  };

  /** Use openTun(); the constructor takes an already opened fd. */
  constructor(
    addon: WeftNative,
    fd: number,
    name: string,
    multiQueue: boolean,
    maxBatch: number,
    offload: TunOffload | null = null,
    offloadsEnabled = false,
  ) {
    this.addon = addon;
    this.fd = fd;
    this.name = name;
    this.multiQueue = multiQueue;
    this.acquired = new Int32Array(maxBatch);
    this.offload = offload;
    this.offloadsEnabled = offloadsEnabled;
  }

  /** Segmentation and coalescing figures, or null without offload. */
  get offloadStats(): OffloadStats | null {
    return this.offload?.stats ?? null;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  readBatch(ring: PacketRing, batch: SlotBatch, max: number): number {
    const fd = this.checkOpen('readBatch');
    const want = Math.min(max, batch.slots.length - batch.count, this.acquired.length);
    if (!(want > 0)) return 0; // also catches NaN
    if (this.offload !== null) return this.readOffload(fd, ring, batch, want);
    const got = ring.acquireBatch(this.acquired, want);
    if (got === 0) {
      this.dropOne(fd);
      return 0;
    }
    // One byte more than a slot holds (it lands in the slot's own tailroom,
    // at least MIN_TAILROOM bytes): the kernel cuts an oversized packet to the
    // buffer and reports the cut length, so only a length of capacity + 1
    // tells "did not fit" from "exactly capacity".
    const n = this.addon.tunReadBatch(fd, ring.buffer, ring.offset, ring.length, this.acquired, got, ring.capacity + 1);
    if (n < 0) {
      for (let i = 0; i < got; i++) ring.release(this.acquired[i]!);
      throw this.ioError('read', n);
    }
    const capacity = ring.capacity;
    const lengths = ring.length;
    const out = batch.slots;
    let kept = 0;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const slot = this.acquired[i]!;
      const len = lengths[slot]!;
      if (len > capacity) {
        // Cut short by the kernel: the device MTU is larger than the ring's
        // slots. Drop it whole rather than pass on a truncated packet.
        this.stats.droppedTooBig++;
        ring.release(slot);
        continue;
      }
      out[batch.count++] = slot;
      bytes += len;
      kept++;
    }
    for (let i = n; i < got; i++) ring.release(this.acquired[i]!);
    if (kept > 0) {
      this.stats.readPackets += kept;
      this.stats.readBytes += bytes;
      this.stats.readBatches++;
    }
    return kept;
  }

  /**
   * Offload read: packets come out of staged super-packets. Segments left
   * over when the batch is full are picked up on the next turn (the kernel's
   * readiness knows nothing of them, hence the setImmediate); with the ring
   * dry they are dropped and counted, as a packet is without offload.
   */
  private readOffload(fd: number, ring: PacketRing, batch: SlotBatch, want: number): number {
    const offload = this.offload!;
    const n = offload.read(fd, ring, batch, want, this.stats);
    if (n < 0) throw this.ioError('read', n);
    if (offload.pending) {
      if (ring.free === 0) offload.dropPending(this.stats);
      else if (!this.resumeScheduled) {
        this.resumeScheduled = true;
        setImmediate(this.resume);
      }
    }
    if (n > 0) {
      this.stats.readPackets += n;
      this.stats.readBatches++;
    }
    return n;
  }

  writeBatch(ring: PacketRing, slots: Int32Array, count: number): number {
    const fd = this.checkOpen('writeBatch');
    if (count <= 0) return 0;
    if (this.offload !== null) return this.offload.write(fd, ring, slots, count, this.stats);
    // No virtio header to say "finish this checksum": finish it here.
    finishPartialChecksums(ring, slots, count);
    const status = this.writeStatus;
    const n = this.addon.tunWriteBatch(fd, ring.buffer, ring.offset, ring.length, slots, count, status);
    this.stats.writePackets += n;
    this.stats.writeBytes += status[2]!;
    this.stats.writeErrors += status[0]!;
    return n;
  }

  /** errno of the most recent failed write in the last writeBatch, 0 if none failed. */
  get lastWriteErrno(): number {
    return this.offload !== null ? this.offload.lastWriteErrno : this.writeStatus[1]!;
  }

  onReadable(handler: (() => void) | null): void {
    if (handler === null) {
      this.handler = null;
      this.stopPoll();
      return;
    }
    const fd = this.checkOpen('onReadable');
    this.handler = handler;
    if (this.poll === null) this.poll = this.addon.pollStart(fd, this.dispatch);
  }

  /** Stop the poll and close the fd; a non-persistent device disappears with its last fd. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    this.handler = null;
    this.stopPoll();
    const fd = this.fd;
    this.fd = -1;
    this.addon.closeFd(fd);
  }

  private dropOne(fd: number): void {
    const n = this.addon.tunReadBatch(
      fd,
      this.scratch,
      this.scratchOffset,
      this.scratchLength,
      this.scratchSlot,
      1,
      MAX_TUN_PACKET,
    );
    if (n > 0) this.stats.droppedRingFull++;
    else if (n < 0) throw this.ioError('read', n);
  }

  private stopPoll(): void {
    if (this.poll === null) return;
    const poll = this.poll;
    this.poll = null;
    this.addon.pollStop(poll);
  }

  private checkOpen(op: string): number {
    if (this.fd < 0) throw new WeftError('TUN_CLOSED', `TunDevice.${op} on '${this.name}' after close()`);
    return this.fd;
  }

  private ioError(op: string, negErrno: number): WeftError {
    const errno = errnoName(negErrno);
    const hint =
      errno === 'EBADFD' || errno === 'EBADF' || errno === 'EIO'
        ? ': the device was deleted or detached under weft; recreate it (restart weft)'
        : errno === 'EINVAL'
          ? ': a ring slot lies outside the ring buffer (a bug in the caller)'
          : '';
    return new WeftError('TUN_IO_FAILED', `${op} on TUN device '${this.name}' failed: ${errno}${hint}`, { errno });
  }
}

/**
 * Open (creating if needed) TUN device `name` in the current network
 * namespace, non-blocking and ready for readBatch/writeBatch. The device is
 * not persistent: it disappears when close() closes the last fd.
 */
export function openTun(options: OpenTunOptions): NativeTun {
  const { name } = options;
  validateTunName(name);
  const multiQueue = options.multiQueue ?? false;
  const maxBatch = options.maxBatch ?? 256;
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 65536) {
    throw new WeftError('TUN_CONFIG', `maxBatch must be an integer from 1 to 65536, got ${maxBatch}`);
  }
  const addon = loadAddon();
  const offload = options.offload;
  let opened;
  try {
    opened = addon.tunOpen(name, multiQueue, offload !== undefined);
  } catch (err) {
    throw tunOpenError(err, name);
  }
  if (offload === undefined) return new NativeTun(addon, opened.fd, opened.name, multiQueue, maxBatch);
  // A kernel that refuses the offloads still speaks the header; weft then
  // gets ordinary packets behind an empty one, and nothing else changes.
  const enabled = addon.tunSetOffload(opened.fd, TUN_OFFLOADS) === 0;
  const halves = new TunOffload(addon, offload.ring, maxBatch, offload.verifyChecksums ?? true, offload.leavePartial ?? false);
  return new NativeTun(addon, opened.fd, opened.name, multiQueue, maxBatch, halves, enabled);
}
