/**
 * The native batch transport: one UDP socket driven through the addon's
 * recvmmsg/sendmmsg calls, straight to and from ring memory, on IPv4 or
 * IPv6.
 *
 * Family: one socket, one family, the bind address's unless `family` says
 * otherwise (an IPv6 literal binds IPv6; '' with no family binds IPv4, as
 * before). An IPv6 socket is dual-stack (IPV6_V6ONLY off, `ipv6Only` turns
 * it on): bound to '::' it also reaches and hears IPv4 peers, which the
 * socket API shows as ::ffff:a.b.c.d and this transport as dotted text
 * (address-names.ts): what a node of a mixed cluster needs from one data
 * port. An IPv4 socket counts a send to an IPv6 endpoint as a send
 * error, as a socket bound to one IPv6 address does an IPv4 one (the kernel
 * refuses it).
 *
 * What it saves over DgramTransport, per packet: the Buffer dgram makes for
 * each received datagram and the copy into a slot (recvmmsg writes into the
 * slot itself), the request object and libuv queue entry per send, and one
 * syscall per datagram each way (one per batch of up to 64 instead).
 *
 * Send: send(slot, endpoint) queues the slot (InFlight) with its destination
 * as numbers (udp-send-queue.ts). The queue goes to the kernel in one
 * sendmmsg when it holds `batchSize` slots, when the caller says flush()
 * (the router does after each TUN batch), or at the latest in a
 * setImmediate scheduled once per batch. sendmmsg copies every datagram
 * before it returns, so the slots are released right after it: there is no
 * completion to wait for.
 *
 * Receive: the socket fd is watched with the addon's uv_poll (level
 * triggered, main loop). On readiness the transport takes a batch of free
 * slots, receives into them with one recvmmsg, and hands each filled slot to
 * the handler, then tells the batch-end handler, at most `receiveBudget`
 * batches per readiness so that a flood cannot starve the TUN side. With the ring empty, one batch of datagrams is
 * received into scratch memory and counted as droppedRingFull, so the
 * level-triggered poll does not spin on datagrams nobody can take.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import { parseIpv4 } from '../bytes/ipv4.ts';
import { WeftError } from '../errors.ts';
import { isNativeSyscallError, loadAddon } from '../native/addon.ts';
import type { PollHandle, WeftNative } from '../native/addon.ts';
import type { ReceiveHandler, Transport, TransportBatchStatus, TransportStats, UdpEndpoint } from './transport.ts';
import { bindError, newTransportStats } from './transport.ts';
import type { AddressFamily } from './address-names.ts';
import { Ipv4Family, Ipv6Family, ipv6BytesOf } from './address-names.ts';
import { UdpGroStage } from './udp-gro-stage.ts';
import { WaitHistogram } from './wait-histogram.ts';
import { UdpSendQueue } from './udp-send-queue.ts';

export interface BatchUdpTransportOptions {
  ring: PacketRing;
  /** Local address to bind; default '' (all addresses of the family). */
  bindAddress?: string;
  /** Local port; 0 picks a free one. */
  port: number;
  /** The socket's family; default the bind address's (4 for ''). A bind address of the other family throws UDP_BIND_FAILED. */
  family?: 4 | 6;
  /** IPv6 only: refuse IPv4 peers (IPV6_V6ONLY). Default false: dual-stack. */
  ipv6Only?: boolean;
  /** Socket buffer sizes in bytes (forced past the sysctl cap when running as root). Default 4 MiB each. */
  receiveBufferSize?: number;
  sendBufferSize?: number;
  /** Datagrams per sendmmsg and per recvmmsg. Default 64, the router's TUN batch. */
  batchSize?: number;
  /** recvmmsg batches per readiness callback before yielding to the event loop. Default 8. */
  receiveBudget?: number;
  /**
   * UDP GSO (UDP_SEGMENT): consecutive queued datagrams to one peer with one
   * size leave as one message that the kernel (or the NIC) cuts up after
   * routing. Default false. Turned off by itself if the kernel refuses it.
   */
  gso?: boolean;
  /**
   * UDP GRO (UDP_GRO): the kernel may hand over a run of one peer's
   * datagrams in one receive (a GSO sender's message stays whole); each is
   * then copied into a slot of its own. Default false. Off by itself on a
   * kernel without it.
   */
  gro?: boolean;
}

/** A large buffer absorbs bursts a single-threaded reader cannot: as DgramTransport. */
const DEFAULT_SOCKET_BUFFER = 4 << 20;
const DEFAULT_BATCH = 64;
const DEFAULT_RECEIVE_BUDGET = 8;
/** Datagrams a UDP_GRO socket hands over per readiness, about: four write batches of the router's. */
const GRO_DATAGRAM_BUDGET = 256;

export class BatchUdpTransport implements Transport {
  readonly ring: PacketRing;
  readonly stats: TransportStats = newTransportStats();
  /** recvmmsg failures (other than "nothing queued"); the errno of the last one. */
  receiveErrors = 0;
  lastReceiveErrno = 0;
  /** The socket's family. */
  readonly family: 4 | 6;

  private readonly addon: WeftNative;
  private fd: number;
  private readonly port: number;
  private readonly batchSize: number;
  private readonly receiveBudget: number;
  private handler: ReceiveHandler | null = null;
  private batchEnd: (() => void) | null = null;
  private poll: PollHandle | null = null;

  private readonly queue: UdpSendQueue;
  private flushScheduled = false;

  // Receive batch.
  private readonly recvSlots: Int32Array;
  /** Senders in the family's native form; the handler wants text, made once per address (addresses). */
  private readonly recvAddrs: Uint32Array | Uint8Array;
  private readonly recvPorts: Uint16Array;
  /** How long received messages waited in the socket's queue, from their arrival stamps. */
  readonly receiveWaits = new WaitHistogram();
  /** Microseconds each received datagram waited in the socket's queue (-1: not stamped). */
  private readonly recvWaits: Int32Array;
  /** The wait of the datagram being delivered without GRO, ms. */
  private plainWaitMs = 0;
  private readonly addresses: AddressFamily;
  /** The receive half when the socket has UDP_GRO; null otherwise. */
  private readonly groStage: UdpGroStage | null;
  // Ring full: datagrams are received into this scratch memory and dropped.
  // Every message lands on the same bytes (offset 0); MSG_TRUNC still
  // consumes the whole datagram.
  private readonly scratch = new ArrayBuffer(64);
  private readonly scratchOffsets: Int32Array;
  private readonly scratchLengths: Int32Array;
  private readonly scratchSlots: Int32Array;

  /** Bound once: the poll callback and the deferred flush allocate no closure per use. */
  private readonly onReadable = (): void => {
    this.receive();
  };
  private readonly deferredFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Use BatchUdpTransport.open(); the constructor takes a bound fd. */
  constructor(
    addon: WeftNative,
    fd: number,
    port: number,
    ring: PacketRing,
    batchSize: number,
    receiveBudget: number,
    gso = false,
    gro = false,
    family: 4 | 6 = 4,
  ) {
    this.addon = addon;
    this.family = family;
    this.addresses = family === 6 ? new Ipv6Family() : new Ipv4Family();
    this.queue = new UdpSendQueue(addon, ring, this.addresses, batchSize, gso);
    this.groStage = gro ? new UdpGroStage(addon, ring, this.addresses, this.receiveWaits) : null;
    this.fd = fd;
    this.port = port;
    this.ring = ring;
    this.batchSize = batchSize;
    this.receiveBudget = receiveBudget;
    this.recvSlots = new Int32Array(batchSize);
    this.recvAddrs = this.addresses.array(batchSize);
    this.recvPorts = new Uint16Array(batchSize);
    this.recvWaits = new Int32Array(batchSize);
    this.scratchOffsets = new Int32Array(batchSize);
    this.scratchLengths = new Int32Array(batchSize);
    this.scratchSlots = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) this.scratchSlots[i] = i;
    // Watch from the start, handler or not: datagrams without a handler are
    // received and released, as DgramTransport does, so they cannot pile up.
    this.poll = addon.pollStart(fd, this.onReadable);
  }

  static async open(options: BatchUdpTransportOptions): Promise<BatchUdpTransport> {
    const bindAddress = options.bindAddress ?? '';
    const family = options.family ?? (bindAddress.includes(':') ? 6 : 4);
    const batchSize = options.batchSize ?? DEFAULT_BATCH;
    const receiveBudget = options.receiveBudget ?? DEFAULT_RECEIVE_BUDGET;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1024) {
      throw new WeftError('CONFIG_INVALID', `batch UDP transport batchSize must be an integer from 1 to 1024, got ${batchSize}`);
    }
    if (!Number.isInteger(receiveBudget) || receiveBudget < 1) {
      throw new WeftError('CONFIG_INVALID', `batch UDP transport receiveBudget must be a positive integer, got ${receiveBudget}`);
    }
    const host = bindAddress === '' ? (family === 6 ? '::' : '0.0.0.0') : bindAddress;
    const where = host.includes(':') ? `[${host}]:${options.port}` : `${host}:${options.port}`;
    if (bindAddress !== '' && !(family === 4 ? parseIpv4(bindAddress) >= 0 : parseIpv4(bindAddress) < 0 && ipv6BytesOf(bindAddress) !== null)) {
      throw new WeftError(
        'UDP_BIND_FAILED',
        `cannot bind UDP ${where}: not an IPv${family} address; give an IPv${family} literal, or leave family unset to follow the bind address`,
        { errno: 'EAFNOSUPPORT' },
      );
    }
    const addon = loadAddon();
    let opened;
    try {
      opened = addon.udpOpen(
        family,
        bindAddress,
        options.port,
        options.receiveBufferSize ?? DEFAULT_SOCKET_BUFFER,
        options.sendBufferSize ?? DEFAULT_SOCKET_BUFFER,
        options.ipv6Only ?? false,
      );
    } catch (err) {
      throw bindError(where, err as Error, isNativeSyscallError(err) ? err.code : undefined);
    }
    try {
      // UDP_GRO where the kernel has it (5.0+); without it, one datagram per receive as before.
      const gro = (options.gro ?? false) && addon.udpSetGro(opened.fd) === 0;
      // Arrival stamps let the receiver see its socket's standing queue (receiveWaitMs); without them (never
      // seen on Linux) datagrams count as not having waited, and only the kernel's tail drop bounds the queue.
      addon.udpSetTimestamps(opened.fd);
      return new BatchUdpTransport(addon, opened.fd, opened.port, options.ring, batchSize, receiveBudget, options.gso ?? false, gro, family);
    } catch (err) {
      addon.closeFd(opened.fd); // pollStart failed: do not leak the bound socket
      throw err;
    }
  }

  get localPort(): number {
    return this.port;
  }

  /** Slots queued for the next sendmmsg. */
  get queuedCount(): number {
    return this.queue.queued;
  }

  /** Flushes that reached the kernel: sentPackets / sendBatches is the mean batch size. */
  get sendBatches(): number {
    return this.queue.sendBatches;
  }

  /** Messages the kernel took: a GSO message of many datagrams counts once. */
  get sendMessages(): number {
    return this.queue.sendMessages;
  }

  /** Whether sends use UDP GSO now: the option, until the kernel refuses it once. */
  get gso(): boolean {
    return this.queue.gso;
  }

  send(slot: number, to: UdpEndpoint): void {
    const ring = this.ring;
    const queue = this.queue;
    if (this.fd < 0) {
      this.stats.sendErrors++;
      ring.release(slot);
      return;
    }
    ring.markInFlight(slot);
    // An endpoint of a family this socket cannot reach is refused before the kernel, and counted.
    if (!queue.push(slot, to)) {
      this.stats.sendErrors++;
      ring.release(slot);
      return;
    }
    if (queue.queued === this.batchSize) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.deferredFlush);
    }
  }

  /** Hand every queued datagram to the kernel now (one sendmmsg) and release their slots. */
  flush(): void {
    this.queue.flush(this.fd, this.stats);
  }

  /** errno of the last failed datagram in the last flush, 0 if none failed. */
  get lastSendErrno(): number {
    return this.queue.lastErrno;
  }

  onReceive(handler: ReceiveHandler | null): void {
    this.handler = handler;
  }

  onBatchEnd(handler: (() => void) | null): void {
    this.batchEnd = handler;
  }

  /** Flush queued sends, stop watching and close the socket. Idempotent. */
  close(): Promise<void> {
    if (this.fd < 0) return Promise.resolve();
    this.flush();
    this.handler = null;
    if (this.poll !== null) {
      const poll = this.poll;
      this.poll = null;
      this.addon.pollStop(poll);
    }
    const fd = this.fd;
    this.fd = -1;
    this.addon.closeFd(fd);
    return Promise.resolve();
  }

  /** How long the datagram being delivered waited in the socket's queue, ms (see Transport). */
  get receiveWaitMs(): number {
    return this.groStage !== null ? this.groStage.waitMs : this.plainWaitMs;
  }

  /** Whether receives use UDP GRO (asked for, and the kernel has it). */
  get gro(): boolean {
    return this.groStage !== null;
  }

  get batch(): TransportBatchStatus {
    return { sendBatches: this.queue.sendBatches, gso: this.queue.gso, gro: this.gro };
  }

  /** Readiness: receive up to receiveBudget batches, then flush whatever the handlers sent. */
  private receive(): void {
    if (this.groStage !== null) {
      this.receiveRuns(this.groStage);
      return;
    }
    const ring = this.ring;
    const slots = this.recvSlots;
    const capacity = ring.capacity;
    const lengths = ring.length;
    const stats = this.stats;
    for (let round = 0; round < this.receiveBudget && this.fd >= 0; round++) {
      const got = ring.acquireBatch(slots, this.batchSize);
      if (got === 0) {
        this.dropBatch();
        break;
      }
      const n = this.addon.udpRecvBatch(this.fd, ring.buffer, ring.offset, lengths, slots, got, capacity, this.recvAddrs, this.recvPorts, null, this.recvWaits);
      if (n <= 0) {
        for (let i = 0; i < got; i++) ring.release(slots[i]!);
        if (n < 0) {
          this.receiveErrors++;
          this.lastReceiveErrno = -n;
        }
        break;
      }
      for (let i = n; i < got; i++) ring.release(slots[i]!);
      for (let i = 0; i < n; i++) {
        const slot = slots[i]!;
        const len = lengths[slot]!;
        if (len > capacity) {
          stats.droppedOversize++;
          ring.release(slot);
          continue;
        }
        stats.receivedPackets++;
        stats.receivedBytes += len;
        const handler = this.handler;
        if (handler === null) {
          ring.release(slot);
          continue;
        }
        this.receiveWaits.record(this.recvWaits[i]!);
        this.plainWaitMs = this.recvWaits[i]! > 0 ? this.recvWaits[i]! / 1000 : 0;
        handler(slot, this.addresses.nameAt(this.recvAddrs, i), this.recvPorts[i]!);
      }
      this.batchEnd?.();
      if (n < got) break; // the socket queue is empty
    }
    // Replies the handlers queued (handshake responses, ARP) go out now, not a turn later.
    this.flush();
  }

  /**
   * receive() on a UDP_GRO socket: runs of datagrams through the staging
   * buffer. One receive may bring 16 runs of up to 44 datagrams each, so
   * the budget here also counts datagrams: past GRO_DATAGRAM_BUDGET the rest
   * waits for the next readiness, and the TUN side gets its turn (a ping's
   * reply must not wait behind megabytes of one bulk flow's runs).
   */
  private receiveRuns(stage: UdpGroStage): void {
    const start = this.stats.receivedPackets;
    for (let round = 0; round < this.receiveBudget && this.fd >= 0 && this.stats.receivedPackets - start < GRO_DATAGRAM_BUDGET; round++) {
      const n = stage.receive(this.fd, this.stats, this.handler);
      if (n < 0) {
        this.receiveErrors++;
        this.lastReceiveErrno = -n;
        break;
      }
      if (n === 0) break;
      this.batchEnd?.();
    }
    this.flush();
  }

  /** The ring is empty: receive one batch into scratch memory and count it dropped. */
  private dropBatch(): void {
    const n = this.addon.udpRecvBatch(
      this.fd,
      this.scratch,
      this.scratchOffsets,
      this.scratchLengths,
      this.scratchSlots,
      this.batchSize,
      this.scratch.byteLength,
      this.recvAddrs,
      this.recvPorts,
    );
    if (n > 0) this.stats.droppedRingFull += n;
    else if (n < 0) {
      this.receiveErrors++;
      this.lastReceiveErrno = -n;
    }
  }
}
