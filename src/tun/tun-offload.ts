/**
 * TunOffload: the read and write halves of a TUN device opened with
 * IFF_VNET_HDR and TCP segmentation offload (TUN_F_CSUM | TUN_F_TSO4 |
 * TUN_F_TSO6 | TUN_F_TSO_ECN).
 *
 * Why: without offloads the kernel hands weft one MTU-sized packet per
 * read() and takes one per write(), and the profile of a TCP stream showed
 * those per-packet crossings, not JavaScript or crypto, as the cost. With
 * TSO the kernel hands over TCP super-packets of up to 64 KiB in one read;
 * with a GSO write it takes up to 64 segments of one flow in one writev and
 * carries them through forwarding to the pod as one packet.
 *
 * Read: up to STAGED packets are read into a staging buffer (each preceded
 * by its 10-byte virtio_net_hdr), then TsoSegmenter cuts each into
 * MTU-sized IP packets in ring slots, so everything above the device still
 * sees ordinary packets. Write: GroCoalescer plans the batch (merging
 * consecutive segments of a TCP flow, a zero header for everything else,
 * written into the slots' headroom) and one native call does a writev per
 * planned write.
 */
import type { PacketRing, SlotBatch } from '../buf/packet-ring.ts';
import type { WeftNative } from '../native/addon.ts';
import { GroCoalescer } from '../offload/gro.ts';
import { TsoSegmenter } from '../offload/tso.ts';
import { VNET_HDR_LEN } from '../offload/virtio-net-hdr.ts';
import type { TunStats } from './tun-device.ts';
import { MAX_TUN_PACKET } from './tun-device.ts';

/** linux/if_tun.h */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
/** What weft asks for: checksum and TCP segmentation offload, both families, ECN included. */
export const TUN_OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;

/** Packets read per native call into the staging buffer. */
const STAGED = 8;
/** One staged packet: its header, the largest IP packet, and one byte to detect a cut one. */
const STAGE_SIZE = VNET_HDR_LEN + MAX_TUN_PACKET + 1;
/** Ring staging (PacketRingOptions.staging) a TunOffload takes: with it, segments are copied by memmove. */
export const TUN_STAGING_BYTES = STAGED * STAGE_SIZE + 64;

export interface OffloadStats {
  /** Reads that were TCP super-packets (gso_type TCPv4/TCPv6), and the segments cut from them. */
  superPackets: number;
  segments: number;
  /** Writes issued, and received packets merged into another packet's write. */
  writes: number;
  merged: number;
  /** Received TCP segments not merged because a checksum was wrong (the kernel then drops them). */
  checksumFailed: number;
  /** Read packets dropped by the segmenter, by reason. */
  drops: Record<string, number>;
}

export class TunOffload {
  private readonly addon: WeftNative;
  private readonly segmenter: TsoSegmenter;
  private readonly coalescer: GroCoalescer;
  /** The staging memory: the ring's own buffer when it has staging room, else a buffer of ours. */
  private readonly stage: ArrayBuffer;
  private readonly stageBytes: Uint8Array;
  private readonly stageOffsets = new Int32Array(STAGED);
  private readonly stageLengths = new Int32Array(STAGED);
  private readonly stageSlots = new Int32Array(STAGED);
  /** Staged packets read so far and the next one to segment. */
  private staged = 0;
  private next = 0;
  private readonly writeStatus = new Int32Array(3);

  /** `leavePartial`: read TCP with its checksum left partial (see TsoSegmenter), for a caller that finishes or passes it on. */
  constructor(addon: WeftNative, ring: PacketRing, maxBatch: number, verifyChecksums: boolean, leavePartial = false) {
    this.addon = addon;
    this.segmenter = new TsoSegmenter(ring, { leavePartial });
    this.coalescer = new GroCoalescer(ring, { verifyChecksums, maxBatch });
    // Staged in the ring's own buffer, the segmenter copies with copyWithin.
    const area = ring.stagingArea(TUN_STAGING_BYTES);
    this.stage = area.buffer;
    this.stageBytes = area.bytes;
    for (let i = 0; i < STAGED; i++) {
      this.stageOffsets[i] = area.base + i * STAGE_SIZE;
      this.stageSlots[i] = i;
    }
  }

  /** Segments or staged packets are waiting for ring slots or batch room: read() has more to give without a syscall. */
  get pending(): boolean {
    return this.segmenter.pending || this.next < this.staged;
  }

  get stats(): OffloadStats {
    const s = this.segmenter.stats;
    const g = this.coalescer.stats;
    return {
      superPackets: s.superPackets,
      segments: s.segments,
      writes: g.writes,
      merged: g.merged,
      checksumFailed: g.checksumFailed,
      drops: { ...this.segmenter.drops },
    };
  }

  /**
   * Fill up to `want` batch entries with packets: first what is pending, then
   * newly read ones. Returns packets appended, or -errno when the first read
   * fails. Stops early when the ring runs dry; the caller decides (see
   * dropPending) whether to wait or drop.
   */
  read(fd: number, ring: PacketRing, batch: SlotBatch, want: number, stats: TunStats): number {
    const out = batch.slots;
    const start = batch.count;
    const end = start + want;
    const segmenter = this.segmenter;
    while (batch.count < end) {
      if (segmenter.pending) {
        const n = segmenter.emit(out, batch.count, end - batch.count);
        batch.count += n;
        if (segmenter.pending) break; // batch full, or the ring ran dry
        continue;
      }
      if (this.next < this.staged) {
        const i = this.next++;
        const off = this.stageOffsets[i]!;
        const len = this.stageLengths[i]!;
        if (len > VNET_HDR_LEN + MAX_TUN_PACKET) {
          stats.droppedTooBig++;
          continue;
        }
        if (len < VNET_HDR_LEN) continue; // cannot happen with IFF_VNET_HDR; never trust it
        segmenter.load(this.stageBytes, off, off + VNET_HDR_LEN, len - VNET_HDR_LEN);
        continue;
      }
      const n = this.addon.tunReadBatch(fd, this.stage, this.stageOffsets, this.stageLengths, this.stageSlots, STAGED, STAGE_SIZE);
      if (n < 0) {
        if (batch.count === start) return n;
        break;
      }
      if (n === 0) break;
      this.staged = n;
      this.next = 0;
    }
    const got = batch.count - start;
    let bytes = 0;
    for (let i = start; i < batch.count; i++) bytes += ring.length[out[i]!]!;
    stats.readBytes += bytes;
    return got;
  }

  /** The ring is dry: drop what is staged and pending rather than hold it with no readiness to resume it. */
  dropPending(stats: TunStats): void {
    stats.droppedRingFull += this.segmenter.discard() + (this.staged - this.next);
    this.next = this.staged;
  }

  /**
   * Write `count` packets, merging TCP segments of one flow. Returns packets
   * written: a failed write counts as one lost packet even when it carried
   * several, since the kernel does not say which write failed.
   */
  write(fd: number, ring: PacketRing, slots: Int32Array, count: number, stats: TunStats): number {
    const c = this.coalescer;
    const unplaced = c.stats.noHeadroom;
    const writes = c.plan(slots, count);
    const status = this.writeStatus;
    this.addon.tunWriteGather(fd, ring.buffer, c.iovOffsets, c.iovLengths, c.writeIovs, writes, status);
    const failed = status[0]!;
    // A packet without room for the header in front of it is not written
    // (never with weft's rings, whose headroom is at least 64 bytes).
    const written = count - (c.stats.noHeadroom - unplaced) - failed;
    stats.writePackets += written;
    // The kernel's byte count includes each write's virtio header.
    stats.writeBytes += status[2]! - (writes - failed) * VNET_HDR_LEN;
    stats.writeErrors += failed;
    stats.writeErrors += c.stats.noHeadroom - unplaced;
    return written;
  }

  get lastWriteErrno(): number {
    return this.writeStatus[1]!;
  }
}
