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
 * ours, copied by 32-bit words. Either way nothing is allocated.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import type { WeftNative } from '../native/addon.ts';
import type { ReceiveHandler, TransportStats } from './transport.ts';

/** Runs received per native call. */
const STAGED = 16;
/** The largest UDP payload over IPv4 fits; a longer run is cut (MSG_TRUNC) and dropped. */
const STAGE_SIZE = 65536;
/** Ring staging (PacketRingOptions.staging) a UdpGroStage takes. */
export const GRO_STAGING_BYTES = STAGED * STAGE_SIZE;

export class UdpGroStage {
  private readonly addon: WeftNative;
  private readonly ring: PacketRing;
  /** The ring's buffer when it had staging room (inRing), else a buffer of ours. */
  private readonly stage: ArrayBuffer;
  private readonly inRing: boolean;
  private readonly stageBytes: Uint8Array;
  private readonly stageWords: Uint32Array;
  private readonly ringWords: Uint32Array;
  private readonly offsets = new Int32Array(STAGED);
  private readonly lengths = new Int32Array(STAGED);
  private readonly slots = new Int32Array(STAGED);
  private readonly addrs = new Uint32Array(STAGED);
  private readonly ports = new Uint16Array(STAGED);
  private readonly segSizes = new Int32Array(STAGED);
  /** Runs that held more than one datagram, and the datagrams they held. */
  coalescedRuns = 0;
  coalescedDatagrams = 0;

  constructor(addon: WeftNative, ring: PacketRing) {
    this.addon = addon;
    this.ring = ring;
    let base = ring.reserveStaging(GRO_STAGING_BYTES);
    this.inRing = base >= 0;
    if (base < 0) base = 0;
    this.stage = this.inRing ? ring.buffer : new ArrayBuffer(GRO_STAGING_BYTES);
    this.stageBytes = this.inRing ? ring.bytes : new Uint8Array(this.stage);
    this.stageWords = new Uint32Array(this.stage, 0, this.stage.byteLength >>> 2);
    this.ringWords = new Uint32Array(ring.buffer, 0, ring.buffer.byteLength >>> 2);
    for (let i = 0; i < STAGED; i++) {
      this.offsets[i] = base + i * STAGE_SIZE;
      this.slots[i] = i;
    }
  }

  /**
   * One receive of up to STAGED runs; each datagram goes into a slot of its
   * own and to `handler` (or straight back to the ring without one).
   * Returns the runs received, 0 when the socket had none, or -errno.
   */
  receive(fd: number, stats: TransportStats, handler: ReceiveHandler | null, nameOf: (addr: number) => string): number {
    const n = this.addon.udpRecvBatch(fd, this.stage, this.offsets, this.lengths, this.slots, STAGED, STAGE_SIZE, this.addrs, this.ports, this.segSizes);
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
      const from = handler === null ? '' : nameOf(this.addrs[i]!);
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
        this.copy(base + off, ring.offset[slot]!, size);
        ring.length[slot] = size;
        stats.receivedPackets++;
        stats.receivedBytes += size;
        if (handler === null) ring.release(slot);
        else handler(slot, from, port);
      }
    }
    return n;
  }

  /** Staging bytes [from, from+len) to ring bytes at `to`: memmove in one buffer, else by words when both are 4-aligned. */
  private copy(from: number, to: number, len: number): void {
    const dst = this.ring.bytes;
    if (this.inRing) {
      dst.copyWithin(to, from, from + len);
      return;
    }
    const src = this.stageBytes;
    let j = 0;
    if (((from | to) & 3) === 0) {
      const sw = this.stageWords;
      const dw = this.ringWords;
      const words = len >>> 2;
      const s = from >>> 2;
      const d = to >>> 2;
      for (let k = 0; k < words; k++) dw[d + k] = sw[s + k]!;
      j = words << 2;
    }
    for (; j < len; j++) dst[to + j] = src[from + j]!;
  }
}
