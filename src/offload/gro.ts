/**
 * Receive coalescing (GRO) for writes to a TUN device with IFF_VNET_HDR:
 * consecutive TCP segments of one flow in a received batch become one
 * super-packet, written with one writev (the head's headers and payload,
 * then each follower's payload) behind a virtio_net_hdr that tells the
 * kernel how to cut it again (gso_type TCPV4/TCPV6, gso_size = the head's
 * payload length). The kernel then carries 40 segments through forwarding
 * and into the pod's socket as one packet.
 *
 * Merging must be lossless: re-segmenting the super-packet (TsoSegmenter,
 * or the kernel's own GSO) has to give back exactly the segments that were
 * merged. Hence the strict rules below: fixed IPv4/IPv6 headers that agree,
 * consecutive IPv4 ids (virtio cannot say "fixed id"), contiguous sequence
 * numbers, identical TCP options, ACK number and window, full-sized
 * segments but for the last, PSH only on the last and no other flags.
 *
 * Checksums follow CHECKSUM_PARTIAL (Linux checksum-offloads.rst): the
 * head's TCP checksum field holds the folded, uncomplemented pseudo-header
 * sum over the whole super-packet's TCP length, and NEEDS_CSUM asks the
 * kernel to sum from csum_start to the end (that field included) and store
 * the complement. The kernel trusts such a packet's checksum, so with
 * `verifyChecksums` a segment is merged only after its own IPv4 header and
 * TCP checksums are found correct; a bad one goes alone, with a zero virtio
 * header, and the kernel drops and counts it as it always did.
 *
 * A slot whose checksum someone else vouches for (PacketRing.csum: Partial,
 * from a VXLAN peer using remote checksum offload, or Authenticated, by a
 * WireGuard tag; every slot when `verifyChecksums` is off) is merged without
 * verifying, and when it goes alone as TCP it is written in partial form with
 * NEEDS_CSUM too: its field may hold only the pseudo-header sum, and the
 * kernel then skips a verification that could only succeed.
 */
import { CsumState } from '../buf/packet-ring.ts';
import type { PacketRing } from '../buf/packet-ring.ts';
import { readU32BE } from '../bytes/endian.ts';
import { WeftError } from '../errors.ts';
import { IP_PROTO_TCP, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, ipPacketLength, writeIpv4HeaderChecksum } from '../wire/ip.ts';
import { onesSum, pseudoHeaderSum } from './checksum.ts';
import { tcpHeaderStart, writePartialTcpChecksum } from './partial-checksum.ts';
import { TCP_ACK, TCP_CHECKSUM_OFFSET, TCP_DATA_OFFSET_OFFSET, TCP_FLAGS_OFFSET, TCP_MIN_HEADER_LEN, TCP_PSH } from '../wire/tcp.ts';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VNET_HDR_LEN,
  writeVnetHdr,
  writeVnetHdrNone,
} from './virtio-net-hdr.ts';

export interface GroOptions {
  /** Merge a segment only if its IPv4 header and TCP checksums verify (off for input already authenticated end to end). */
  verifyChecksums: boolean;
  /** Most packets one plan() call takes. */
  maxBatch: number;
  /** Most segments in one super-packet. Default 64. */
  maxSegments?: number;
}

export interface GroStats {
  /** Packets planned. */
  packets: number;
  /** Writes planned. */
  writes: number;
  /** Packets merged into another packet's write (followers). */
  merged: number;
  /** TCP segments not merged because a checksum was wrong. */
  checksumFailed: number;
  /** Packets left out of every write: no room for the virtio header in front of them. */
  noHeadroom: number;
}

/** Groups of this batch still open to followers, looked up by a linear scan. */
const OPEN_FLOWS = 8;
const MAX_IP_LENGTH = 65535;

// What a packet can be, found once per packet.
/** Not TCP, or TCP whose ports cannot be found: written alone, touches no group. */
const OTHER = 0;
/** TCP of a known flow that cannot merge: written alone, and ends its flow's open group so order holds. */
const TCP_ALONE = 1;
/** A data segment that can join or start a group. */
const MERGEABLE = 2;

export class GroCoalescer {
  /** Absolute offsets and lengths in ring.buffer, one iovec per written packet. */
  readonly iovOffsets: Int32Array;
  readonly iovLengths: Int32Array;
  /** The slot each iovec comes from (the head's for the header+head iovec). */
  readonly iovSlots: Int32Array;
  /** Per write: its iovecs, consecutive in the iov arrays. */
  readonly writeIovs: Int32Array;
  /** Per write: the packets it carries (equal to writeIovs: one iovec per packet). */
  readonly writePackets: Int32Array;
  /** Iovecs filled by the last plan(). */
  iovCount = 0;
  readonly stats: GroStats = { packets: 0, writes: 0, merged: 0, checksumFailed: 0, noHeadroom: 0 };

  private readonly ring: PacketRing;
  private readonly verify: boolean;
  private readonly maxBatch: number;
  private readonly maxSegments: number;
  // Per input packet (index into the plan's slots).
  private readonly pIpLen: Int32Array;
  private readonly pTcpLen: Int32Array;
  private readonly pPayload: Int32Array;
  private readonly pSeq: Float64Array;
  private readonly pNext: Int32Array;
  // Per group, numbered in creation order, which is the write order.
  private readonly gHead: Int32Array;
  private readonly gLast: Int32Array;
  private readonly gCount: Int32Array;
  private readonly gBytes: Int32Array;
  private readonly gPsh: Uint8Array;
  private readonly open = new Int32Array(OPEN_FLOWS);
  private openCount = 0;
  private slots: Int32Array = new Int32Array(0);

  constructor(ring: PacketRing, options: GroOptions) {
    const maxBatch = options.maxBatch;
    const maxSegments = options.maxSegments ?? 64;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new WeftError('RING_CONFIG', `GRO maxBatch must be a positive integer, got ${maxBatch}`);
    if (!Number.isInteger(maxSegments) || maxSegments < 1) throw new WeftError('RING_CONFIG', `GRO maxSegments must be a positive integer, got ${maxSegments}`);
    this.ring = ring;
    this.verify = options.verifyChecksums;
    this.maxBatch = maxBatch;
    this.maxSegments = maxSegments;
    this.iovOffsets = new Int32Array(maxBatch);
    this.iovLengths = new Int32Array(maxBatch);
    this.iovSlots = new Int32Array(maxBatch);
    this.writeIovs = new Int32Array(maxBatch);
    this.writePackets = new Int32Array(maxBatch);
    this.pIpLen = new Int32Array(maxBatch);
    this.pTcpLen = new Int32Array(maxBatch);
    this.pPayload = new Int32Array(maxBatch);
    this.pSeq = new Float64Array(maxBatch);
    this.pNext = new Int32Array(maxBatch);
    this.gHead = new Int32Array(maxBatch);
    this.gLast = new Int32Array(maxBatch);
    this.gCount = new Int32Array(maxBatch);
    this.gBytes = new Int32Array(maxBatch);
    this.gPsh = new Uint8Array(maxBatch);
  }

  /**
   * Plan the writes for `count` packets in `slots`; returns how many writes.
   * Writes the virtio headers into the slots' headroom and patches merged
   * heads in place; the slots stay the caller's. More than maxBatch
   * packets is a programming error and throws.
   */
  plan(slots: Int32Array, count: number): number {
    if (count > this.maxBatch || count > slots.length) {
      throw new WeftError('RING_MISUSE', `GroCoalescer.plan(${count} packets) over its maxBatch of ${this.maxBatch}: plan fewer at a time`);
    }
    this.slots = slots;
    this.openCount = 0;
    let groups = 0;
    for (let i = 0; i < count; i++) {
      if (this.ring.headroomOf(slots[i]!) < VNET_HDR_LEN) {
        this.stats.noHeadroom++;
        continue;
      }
      const kind = this.classify(i);
      this.pNext[i] = -1;
      if (kind === OTHER) {
        this.startGroup(groups++, i);
        continue;
      }
      const e = this.findOpen(i);
      if (e >= 0 && kind === MERGEABLE && this.canAppend(this.open[e]!, i)) {
        const g = this.open[e]!;
        this.pNext[this.gLast[g]!] = i;
        this.gLast[g] = i;
        this.gCount[g]!++;
        this.gBytes[g]! += this.pPayload[i]!;
        // PSH ends what the sender had to say: nothing may follow it in the group.
        if ((this.tcpFlags(i) & TCP_PSH) !== 0) {
          this.gPsh[g] = 1;
          this.closeOpen(e);
        }
        continue;
      }
      // This packet ends its flow's group (order within a flow must hold);
      // a plain ACK-only data segment opens the flow's next one.
      if (e >= 0) this.closeOpen(e);
      const g = groups++;
      this.startGroup(g, i);
      if (kind === MERGEABLE && this.tcpFlags(i) === TCP_ACK) this.addOpen(g);
    }
    const writes = this.emitWrites(groups);
    this.stats.packets += count;
    this.stats.writes += writes;
    return writes;
  }

  private startGroup(g: number, i: number): void {
    this.gHead[g] = i;
    this.gLast[g] = i;
    this.gCount[g] = 1;
    this.gBytes[g] = this.pPayload[i]!;
    this.gPsh[g] = 0;
  }

  private addOpen(g: number): void {
    // Full: the new group is simply not tracked and is written as it stands.
    // (Evicting instead would let a round-robin of more flows than entries
    // evict every flow before its next packet, and merge nothing at all.)
    if (this.openCount < OPEN_FLOWS) this.open[this.openCount++] = g;
  }

  private closeOpen(e: number): void {
    this.open[e] = this.open[--this.openCount]!;
  }

  private tcpFlags(i: number): number {
    const s = this.slots[i]!;
    return this.ring.bytes[this.ring.offset[s]! + this.pIpLen[i]! + TCP_FLAGS_OFFSET]!;
  }

  /** Sort packet i into OTHER / TCP_ALONE / MERGEABLE and note its layout. */
  private classify(i: number): number {
    const ring = this.ring;
    const b = ring.bytes;
    const s = this.slots[i]!;
    const off = ring.offset[s]!;
    const len = ring.length[s]!;
    this.pPayload[i] = 0;
    let kind = OTHER;
    if (len < 1) return OTHER;
    const v = b[off]! >> 4;
    let ipLen: number;
    let declared: number;
    if (v === 4) {
      if (len < IPV4_MIN_HEADER_LEN || b[off + 9] !== IP_PROTO_TCP) return OTHER;
      ipLen = (b[off]! & 0x0f) << 2;
      // Ports are only in the first fragment; a later one names no flow.
      if (ipLen < IPV4_MIN_HEADER_LEN || ((b[off + 6]! & 0x1f) | b[off + 7]!) !== 0 || len < ipLen + 4) return OTHER;
      kind = TCP_ALONE;
      declared = (b[off + 2]! << 8) | b[off + 3]!;
      if (ipLen !== IPV4_MIN_HEADER_LEN || (b[off + 6]! & 0x20) !== 0) declared = -1; // options or MF: never merged
    } else if (v === 6) {
      if (len < IPV6_HEADER_LEN + 4 || b[off + 6] !== IP_PROTO_TCP) return OTHER;
      ipLen = IPV6_HEADER_LEN;
      kind = TCP_ALONE;
      declared = IPV6_HEADER_LEN + ((b[off + 4]! << 8) | b[off + 5]!);
    } else {
      return OTHER;
    }
    this.pIpLen[i] = ipLen;
    const t = off + ipLen;
    // Mergeable only with exactly the declared length (no trailing bytes to
    // carry along or lose), a whole TCP header, data, and flags ACK or ACK|PSH
    // (reserved/AE bits clear).
    if (declared !== len || len < ipLen + TCP_MIN_HEADER_LEN) return kind;
    const tcpLen = (b[t + 12]! >> 4) << 2;
    const flags = b[t + TCP_FLAGS_OFFSET]!;
    const payload = len - ipLen - tcpLen;
    if (tcpLen < TCP_MIN_HEADER_LEN || payload <= 0 || (b[t + 12]! & 0x0f) !== 0 || (flags !== TCP_ACK && flags !== (TCP_ACK | TCP_PSH))) {
      return kind;
    }
    if (!this.vouchedFor(s)) {
      const version = v === 4 ? 4 : 6;
      const ipOk = v !== 4 || onesSum(b, off, ipLen, 0) === 0xffff;
      if (!ipOk || onesSum(b, t, len - ipLen, pseudoHeaderSum(b, off, version, IP_PROTO_TCP, len - ipLen)) !== 0xffff) {
        this.stats.checksumFailed++;
        return kind;
      }
    }
    this.pTcpLen[i] = tcpLen;
    this.pPayload[i] = payload;
    this.pSeq[i] = readU32BE(b, t + 4);
    return MERGEABLE;
  }

  /** The open-table entry whose group's head has packet i's version, addresses and ports; -1 if none. */
  private findOpen(i: number): number {
    const ring = this.ring;
    const b = ring.bytes;
    const off = ring.offset[this.slots[i]!]!;
    const ports = off + this.pIpLen[i]!;
    const v = b[off]! >> 4;
    // IPv4: addresses at 12..20; IPv6: at 8..40.
    const addr = v === 4 ? off + 12 : off + 8;
    const addrLen = v === 4 ? 8 : 32;
    for (let e = 0; e < this.openCount; e++) {
      const h = this.gHead[this.open[e]!]!;
      const hoff = ring.offset[this.slots[h]!]!;
      if (b[hoff]! >> 4 !== v) continue;
      const hports = hoff + this.pIpLen[h]!;
      if (b[hports] !== b[ports] || b[hports + 1] !== b[ports + 1] || b[hports + 2] !== b[ports + 2] || b[hports + 3] !== b[ports + 3]) continue;
      const haddr = v === 4 ? hoff + 12 : hoff + 8;
      let k = 0;
      while (k < addrLen && b[haddr + k] === b[addr + k]) k++;
      if (k === addrLen) return e;
    }
    return -1;
  }

  /** May mergeable packet i follow group g, whose flow it shares? */
  private canAppend(g: number, i: number): boolean {
    const ring = this.ring;
    const b = ring.bytes;
    const h = this.gHead[g]!;
    const last = this.gLast[g]!;
    const gso = this.pPayload[h]!;
    const payload = this.pPayload[i]!;
    const tcpLen = this.pTcpLen[i]!;
    if (this.gCount[g]! >= this.maxSegments) return false;
    // Only the last segment may be short, and none may be longer than the first.
    if (this.pPayload[last] !== gso || payload > gso || tcpLen !== this.pTcpLen[h]) return false;
    const ipLen = this.pIpLen[h]!;
    const tcpTotal = tcpLen + this.gBytes[g]! + payload;
    if ((b[ring.offset[this.slots[h]!]!]! >> 4 === 4 ? ipLen + tcpTotal : tcpTotal) > MAX_IP_LENGTH) return false;
    if (this.pSeq[i] !== (this.pSeq[last]! + this.pPayload[last]!) % 0x100000000) return false;
    const off = ring.offset[this.slots[i]!]!;
    const hoff = ring.offset[this.slots[h]!]!;
    if (b[off]! >> 4 === 4) {
      // TOS, flags byte (DF, and the reserved bit, so that re-segmenting
      // gives back the same bytes), TTL as the head's; id one past the previous segment's.
      if (b[off + 1] !== b[hoff + 1] || b[off + 6] !== b[hoff + 6] || b[off + 8] !== b[hoff + 8]) return false;
      const loff = ring.offset[this.slots[last]!]!;
      const lid = (b[loff + 4]! << 8) | b[loff + 5]!;
      if (((b[off + 4]! << 8) | b[off + 5]!) !== ((lid + 1) & 0xffff)) return false;
    } else {
      // Version, traffic class and flow label (bytes 0..3), hop limit.
      if (b[off] !== b[hoff] || b[off + 1] !== b[hoff + 1] || b[off + 2] !== b[hoff + 2] || b[off + 3] !== b[hoff + 3] || b[off + 7] !== b[hoff + 7]) {
        return false;
      }
    }
    const t = off + ipLen;
    const ht = hoff + ipLen;
    // ACK number (8..12), window (14..16) and urgent pointer (18..20, unused
    // without URG but carried by every segment) as the head's, options byte for byte.
    for (let k = 8; k < 12; k++) if (b[t + k] !== b[ht + k]) return false;
    if (b[t + 14] !== b[ht + 14] || b[t + 15] !== b[ht + 15] || b[t + 18] !== b[ht + 18] || b[t + 19] !== b[ht + 19]) return false;
    for (let k = TCP_MIN_HEADER_LEN; k < tcpLen; k++) if (b[t + k] !== b[ht + k]) return false;
    return true;
  }

  /** Fill the iovec and write arrays, group by group, patching heads of merged groups. */
  private emitWrites(groups: number): number {
    const ring = this.ring;
    const b = ring.bytes;
    let iov = 0;
    for (let g = 0; g < groups; g++) {
      const h = this.gHead[g]!;
      const s = this.slots[h]!;
      const off = ring.offset[s]!;
      const n = this.gCount[g]!;
      if (n > 1) this.patchHead(g, off);
      else if (this.vouchedFor(s)) this.writeSingleVouched(s, off);
      else writeVnetHdrNone(b, off - VNET_HDR_LEN);
      this.iovOffsets[iov] = off - VNET_HDR_LEN;
      this.iovLengths[iov] = VNET_HDR_LEN + ring.length[s]!;
      this.iovSlots[iov++] = s;
      for (let i = this.pNext[h]!; i >= 0; i = this.pNext[i]!) {
        const fs = this.slots[i]!;
        const hdrs = this.pIpLen[i]! + this.pTcpLen[i]!;
        this.iovOffsets[iov] = ring.offset[fs]! + hdrs;
        this.iovLengths[iov] = this.pPayload[i]!;
        this.iovSlots[iov++] = fs;
      }
      this.writeIovs[g] = n;
      this.writePackets[g] = n;
      this.stats.merged += n - 1;
    }
    this.iovCount = iov;
    return groups;
  }

  /** Whether slot `s`'s checksum needs no verifying: checks are off, or the slot is Partial or Authenticated. */
  private vouchedFor(s: number): boolean {
    return !this.verify || this.ring.csum[s] !== CsumState.Complete;
  }

  /**
   * The header of a packet going alone whose checksum is vouched for: TCP
   * in partial form with NEEDS_CSUM (its field may hold only the
   * pseudo-header sum); anything else, or TCP with bytes past its declared
   * length, behind a zero header as it stands.
   */
  private writeSingleVouched(s: number, off: number): void {
    const b = this.ring.bytes;
    const len = this.ring.length[s]!;
    const tcp = tcpHeaderStart(b, off, len);
    if (tcp < 0 || ipPacketLength(b, off) !== len) {
      writeVnetHdrNone(b, off - VNET_HDR_LEN);
      return;
    }
    writePartialTcpChecksum(b, off, len, tcp);
    const tcpHdrLen = (b[off + tcp + TCP_DATA_OFFSET_OFFSET]! >> 4) << 2;
    writeVnetHdr(b, off - VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, tcp + tcpHdrLen, 0, tcp, TCP_CHECKSUM_OFFSET);
  }

  /** Make the head of a merged group describe the whole super-packet, and write its virtio header. */
  private patchHead(g: number, off: number): void {
    const b = this.ring.bytes;
    const h = this.gHead[g]!;
    const ipLen = this.pIpLen[h]!;
    const tcpLen = this.pTcpLen[h]!;
    const tcpTotal = tcpLen + this.gBytes[g]!;
    const v4 = b[off]! >> 4 === 4;
    if (v4) {
      const total = ipLen + tcpTotal;
      b[off + 2] = total >>> 8;
      b[off + 3] = total & 0xff;
      writeIpv4HeaderChecksum(b, off);
    } else {
      b[off + 4] = tcpTotal >>> 8;
      b[off + 5] = tcpTotal & 0xff;
    }
    const t = off + ipLen;
    if (this.gPsh[g] === 1) b[t + TCP_FLAGS_OFFSET] = b[t + TCP_FLAGS_OFFSET]! | TCP_PSH;
    // CHECKSUM_PARTIAL: the pseudo-header sum, uncomplemented; the kernel adds the rest.
    const partial = pseudoHeaderSum(b, off, v4 ? 4 : 6, IP_PROTO_TCP, tcpTotal);
    b[t + TCP_CHECKSUM_OFFSET] = partial >>> 8;
    b[t + TCP_CHECKSUM_OFFSET + 1] = partial & 0xff;
    writeVnetHdr(
      b,
      off - VNET_HDR_LEN,
      VIRTIO_NET_HDR_F_NEEDS_CSUM,
      v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
      ipLen + tcpLen,
      this.pPayload[h]!,
      ipLen,
      TCP_CHECKSUM_OFFSET,
    );
  }
}
