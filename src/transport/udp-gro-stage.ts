/**
 * UdpGroStage: the receive half of the batch transport on a socket with
 * UDP_GRO.
 *
 * Why: a peer that sends with UDP GSO hands its kernel one message of up to
 * 64 datagrams. Without UDP_GRO the receiving kernel cuts that message back
 * into one buffer per datagram at our socket, and recvmmsg returns them one
 * by one; the profile of a TCP stream over VXLAN showed that receive at a
 * fifth of the receiving node's time. With UDP_GRO the message stays whole
 * (and datagrams of one flow that arrive separately may be joined): one
 * receive brings the run end to end, with its datagram size.
 *
 * Those runs need 64 KiB buffers, more than a ring slot, so they land in a
 * staging area, and each datagram is copied into a slot of its own before
 * the handler sees it: everything above the transport still sees one
 * datagram per slot. The staging area is the ring's own (reserveStaging)
 * when it has room, so the copy is a native memmove; otherwise a buffer of
 * ours, copied by 32-bit words (copyBytes). Either way nothing is allocated.
 *
 * Either family: UDP_GRO and its control message are the same on IPv6
 * sockets (udp(7)); only the senders' address array differs, and the
 * transport's AddressFamily makes it and names what it holds. A run's
 * payload is at most 65527 bytes over IPv6 (65507 over IPv4), so one
 * 64 KiB stage entry holds either.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import { copyBytes } from '../bytes/copy.ts';
import type { WeftNative } from '../native/addon.ts';
import type { AddressFamily } from './address-names.ts';
import { Ipv4Family } from './address-names.ts';
import type { ReceiveHandler, TransportStats } from './transport.ts';
import { WaitHistogram } from './wait-histogram.ts';

/** Runs received per native call. */
const STAGED = 16;
/** The largest UDP payload of either family fits; a longer run is cut (MSG_TRUNC) and dropped. */
const STAGE_SIZE = 65536;
/** Ring staging (PacketRingOptions.staging) a UdpGroStage takes. */
export const GRO_STAGING_BYTES = STAGED * STAGE_SIZE;

export class UdpGroStage {
  private readonly addon: WeftNative;
  private readonly ring: PacketRing;
  /** The ring's buffer when it had staging room, else a buffer of ours. */
  private readonly stage: ArrayBuffer;
  private readonly stageBytes: Uint8Array;
  private readonly offsets = new Int32Array(STAGED);
  private readonly lengths = new Int32Array(STAGED);
  private readonly slots = new Int32Array(STAGED);
  private readonly addresses: AddressFamily;
  private readonly addrs: Uint32Array | Uint8Array;
  private readonly ports = new Uint16Array(STAGED);
  private readonly segSizes = new Int32Array(STAGED);
  /** Microseconds each run waited in the socket's queue (-1: not stamped). */
  private readonly waits = new Int32Array(STAGED);
  /** While the handler runs: how long the run its datagram came in waited, ms. */
  waitMs = 0;
  /** Runs that held more than one datagram, and the datagrams they held. */
  coalescedRuns = 0;
  coalescedDatagrams = 0;

  /** Each run's wait in the socket's queue, counted. */
  private readonly waitCounts: WaitHistogram;

  /** `addresses`: the socket's family (IPv4 unless given); `waits` counts each run's wait (the transport's). */
  constructor(addon: WeftNative, ring: PacketRing, addresses: AddressFamily = new Ipv4Family(), waits = new WaitHistogram()) {
    this.addon = addon;
    this.ring = ring;
    this.addresses = addresses;
    this.waitCounts = waits;
    this.addrs = addresses.array(STAGED);
    const area = ring.stagingArea(GRO_STAGING_BYTES);
    this.stage = area.buffer;
    this.stageBytes = area.bytes;
    for (let i = 0; i < STAGED; i++) {
      this.offsets[i] = area.base + i * STAGE_SIZE;
      this.slots[i] = i;
    }
  }

  /**
   * One receive of up to STAGED runs; each datagram goes into a slot of its
   * own and to `handler` (or straight back to the ring without one).
   * Returns the runs received, 0 when the socket had none, or -errno.
   */
  receive(fd: number, stats: TransportStats, handler: ReceiveHandler | null): number {
    const n = this.addon.udpRecvBatch(fd, this.stage, this.offsets, this.lengths, this.slots, STAGED, STAGE_SIZE, this.addrs, this.ports, this.segSizes, this.waits);
    if (n <= 0) return n;
    const ring = this.ring;
    for (let i = 0; i < n; i++) {
      const len = this.lengths[i]!;
      if (len > STAGE_SIZE) {
        stats.droppedOversize++; // cut by the kernel: the run is incomplete
        continue;
      }
      const seg = this.segSizes[i]! > 0 ? this.segSizes[i]! : len;
      if (seg < len) {
        this.coalescedRuns++;
        this.coalescedDatagrams += Math.ceil(len / seg);
      }
      const from = handler === null ? '' : this.addresses.nameAt(this.addrs, i);
      this.waitCounts.record(this.waits[i]!);
      this.waitMs = this.waits[i]! > 0 ? this.waits[i]! / 1000 : 0;
      const port = this.ports[i]!;
      const base = this.offsets[i]!;
      for (let off = 0; off < len; off += seg) {
        const size = len - off < seg ? len - off : seg;
        if (size > ring.capacity) {
          stats.droppedOversize++;
          continue;
        }
        const slot = ring.acquire();
        if (slot < 0) {
          stats.droppedRingFull += Math.ceil((len - off) / seg);
          break;
        }
        copyBytes(this.stageBytes, base + off, ring.bytes, ring.offset[slot]!, size);
        ring.length[slot] = size;
        stats.receivedPackets++;
        stats.receivedBytes += size;
        if (handler === null) ring.release(slot);
        else handler(slot, from, port);
      }
    }
    return n;
  }
}
