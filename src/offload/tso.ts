/**
 * TCP segmentation (TSO) in userspace: a TUN device with IFF_VNET_HDR and
 * TUN_F_TSO4/TSO6 hands weft TCP "super-packets" of up to 64 KiB, one
 * virtio_net_hdr in front, and weft must put ordinary packets of at most
 * the MSS on the overlay. TsoSegmenter cuts one such packet into ring slots
 * (Linux Documentation/networking/segmentation-offloads.rst, "TCP
 * Segmentation"):
 *
 *   - every segment carries the super-packet's IP and TCP headers, with the
 *     IPv4 total length / IPv6 payload length of the segment, IPv4
 *     identification first + i (virtio has no "fixed id" flag, so ids
 *     increment as Linux does for TSO) and a fresh header checksum;
 *   - TCP sequence first + i * gso_size (mod 2^32); CWR only on the first
 *     segment (RFC 3168 §6.1.2: one CWR per window reduction), FIN and PSH
 *     only on the last (they mark the end of the data);
 *   - the TCP checksum is computed in full, or with `leavePartial` left in
 *     partial form: the pseudo-header sum over the segment's own length
 *     (the super-packet's field holds one over its whole length), the slot
 *     marked CsumState.Partial for whoever sends it on to finish or pass on
 *     (src/offload/partial-checksum.ts).
 *
 * A packet without GSO is copied as it is, its checksum completed first
 * when the kernel left it partial (NEEDS_CSUM; checksum-offloads.rst), or,
 * with `leavePartial` and when it is TCP, marked Partial as it stands.
 *
 * The caller's staging buffer stays untouched while `pending`: the
 * segmenter reads it across emit() calls, so a ring that runs dry midway
 * loses nothing. Between calls the segmenter holds no slot; each slot it
 * acquires is in the caller's hands as soon as emit() returns it.
 *
 * Output packets start up to 3 bytes before the slot's headroom boundary,
 * chosen so that the payload copy runs on aligned 32-bit words (the staging
 * buffer's alignment is the kernel's and the MSS need not be a multiple
 * of 4). That leaves at least ring.headroom - 3 bytes of headroom, still
 * more than any outer header weft writes.
 */
import { CsumState } from '../buf/packet-ring.ts';
import type { PacketRing } from '../buf/packet-ring.ts';
import { copyBytes } from '../bytes/copy.ts';
import { readU32BE, writeU32BE } from '../bytes/endian.ts';
import { IP_PROTO_TCP, IP_PROTO_UDP, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, writeIpv4HeaderChecksum } from '../wire/ip.ts';
import { copyWithSum, fold, onesSum, pseudoHeaderSum } from './checksum.ts';
import { TCP_CHECKSUM_OFFSET, TCP_CWR, TCP_DATA_OFFSET_OFFSET, TCP_FIN, TCP_FLAGS_OFFSET, TCP_MIN_HEADER_LEN, TCP_PSH } from '../wire/tcp.ts';
import { tcpHeaderStart } from './partial-checksum.ts';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VNET_HDR_LEN,
  vnetCsumOffset,
  vnetCsumStart,
  vnetFlags,
  vnetGsoSize,
  vnetGsoType,
} from './virtio-net-hdr.ts';


/** Drop reasons, in the order status output lists them. */
export const TSO_DROP_NAMES = [
  /** No packet, or header/packet ranges outside the staging buffer. */
  'short',
  /** NEEDS_CSUM with csum_start + csum_offset + 2 past the packet. */
  'bad_csum_offset',
  /** A GSO type weft does not segment (UDP, UDP_L4, unknown; ECN without GSO). */
  'gso_unsupported',
  /** TCPV4 on a packet that is not IPv4, or TCPV6 on one that is not IPv6. */
  'version_mismatch',
  /** TCP GSO on a packet whose protocol (IPv6: next header) is not TCP. */
  'not_tcp',
  /** TCP GSO on an IPv4 fragment (MF or a fragment offset). */
  'fragment',
  /** IPv4 IHL or TCP data offset below 5 words, or headers past the packet. */
  'bad_header_length',
  /** TCP GSO with gso_size 0. */
  'zero_gso_size',
  /** A segment (or an unsegmented packet) larger than a ring slot. */
  'segment_too_big',
] as const;
export type TsoDropName = (typeof TSO_DROP_NAMES)[number];

function newTsoDrops(): Record<TsoDropName, number> {
  return {
    short: 0,
    bad_csum_offset: 0,
    gso_unsupported: 0,
    version_mismatch: 0,
    not_tcp: 0,
    fragment: 0,
    bad_header_length: 0,
    zero_gso_size: 0,
    segment_too_big: 0,
  };
}

export interface TsoStats {
  /** Packets load() accepted, with or without GSO. */
  packets: number;
  /** Accepted packets that were TCP GSO super-packets. */
  superPackets: number;
  /** Packets emit() put in slots. */
  segments: number;
  /** Segments given up by discard(), or by load() replacing an unfinished packet. */
  abandoned: number;
}

const EMPTY = new Uint8Array(0);

export class TsoSegmenter {
  /**
   * Dropped packets by reason: a plain object of numbers (fixed shape, so an
   * increment is one property store), ready to spread into status output.
   */
  readonly drops: Record<TsoDropName, number> = newTsoDrops();
  readonly stats: TsoStats = { packets: 0, superPackets: 0, segments: 0, abandoned: 0 };

  private readonly ring: PacketRing;
  private readonly leavePartial: boolean;
  private src: Uint8Array = EMPTY;
  private pktOff = 0;
  private pktLen = 0;
  /** Segments of the current packet, and the next one to emit. */
  private count = 0;
  private next = 0;
  private segmenting = false;
  // Without GSO: whether and where to complete the checksum.
  private needsCsum = false;
  private csumStart = 0;
  private csumField = 0;
  private isUdp = false;
  /** With leavePartial: a TCP packet whose partial checksum is passed on as it is. */
  private passPartial = false;
  // With GSO: the super-packet's layout and the fields that change per segment.
  private version: 4 | 6 = 4;
  private ipHdrLen = 0;
  private tcpHdrLen = 0;
  private hdrLen = 0;
  private payloadLen = 0;
  private gsoSize = 0;
  private seq0 = 0;
  private id0 = 0;
  private flags0 = 0;
  /** Pseudo-header sum of addresses and protocol; each segment adds its TCP length. */
  private addrSum = 0;

  /** `leavePartial`: leave TCP checksums partial (slots marked CsumState.Partial) rather than finish them. */
  constructor(ring: PacketRing, options: { leavePartial?: boolean } = {}) {
    this.ring = ring;
    this.leavePartial = options.leavePartial ?? false;
  }

  /** Segments of the loaded packet not yet emitted. */
  get pending(): boolean {
    return this.next < this.count;
  }

  /**
   * Take the packet read from the TUN device: virtio header at
   * src[hdrOff, hdrOff + 10), IP packet at src[pktOff, pktOff + pktLen).
   * False if it is dropped (counted in `drops`). Loading while a previous
   * packet is pending abandons that packet's remaining segments (counted).
   */
  load(src: Uint8Array, hdrOff: number, pktOff: number, pktLen: number): boolean {
    if (this.pending) this.discard();
    this.count = 0;
    this.next = 0;
    if (pktLen < 1 || hdrOff < 0 || pktOff < 0 || hdrOff + VNET_HDR_LEN > src.length || pktOff + pktLen > src.length) {
      return this.drop(this.drops.short++);
    }
    const gsoType = vnetGsoType(src, hdrOff);
    const kind = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    if (gsoType === VIRTIO_NET_HDR_GSO_NONE) return this.loadPlain(src, hdrOff, pktOff, pktLen);
    if (kind === VIRTIO_NET_HDR_GSO_TCPV4) return this.loadTcp(src, hdrOff, pktOff, pktLen, 4);
    if (kind === VIRTIO_NET_HDR_GSO_TCPV6) return this.loadTcp(src, hdrOff, pktOff, pktLen, 6);
    // UDP (UFO), UDP_L4 (USO) and unknown types: weft does not ask for them
    // (no TUN_F_UFO/USO), so the kernel should never send them. ECN on a
    // non-GSO packet means nothing and is refused as well.
    return this.drop(this.drops.gso_unsupported++);
  }

  /**
   * Put up to `max` packets into freshly acquired slots, their numbers in
   * out[at..]; returns how many. Fewer than asked, with `pending` still
   * true, when the ring ran out of slots: call again later.
   */
  emit(out: Int32Array, at: number, max: number): number {
    const room = out.length - at;
    const limit = max < room ? max : room;
    const ring = this.ring;
    let n = 0;
    while (this.next < this.count && n < limit) {
      const slot = ring.acquire();
      if (slot < 0) break;
      if (this.segmenting) this.writeSegment(slot, this.next);
      else this.writePlain(slot);
      out[at + n++] = slot;
      this.next++;
    }
    this.stats.segments += n;
    // Let go of the caller's buffer once done with it.
    if (this.next === this.count) this.src = EMPTY;
    return n;
  }

  /** Forget what is left of the loaded packet (on close); returns how many segments that was. No slot is held, so none is released. */
  discard(): number {
    const left = this.count - this.next;
    this.stats.abandoned += left;
    this.count = 0;
    this.next = 0;
    this.src = EMPTY;
    return left;
  }

  /** Called as drop(this.drops.reason++): the count is taken by the argument. */
  private drop(_counted: number): false {
    this.src = EMPTY;
    return false;
  }

  private loadPlain(src: Uint8Array, hdrOff: number, pktOff: number, pktLen: number): boolean {
    if (pktLen > this.ring.capacity) return this.drop(this.drops.segment_too_big++);
    this.needsCsum = (vnetFlags(src, hdrOff) & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
    if (this.needsCsum) {
      const start = vnetCsumStart(src, hdrOff);
      const field = start + vnetCsumOffset(src, hdrOff);
      if (field + 2 > pktLen) return this.drop(this.drops.bad_csum_offset++);
      this.csumStart = start;
      this.csumField = field;
      this.passPartial = this.leavePartial && field - start === TCP_CHECKSUM_OFFSET && tcpHeaderStart(src, pktOff, pktLen) === start;
      // RFC 768: a UDP checksum that computes to 0 is sent as 0xffff, since
      // 0 means "no checksum". TCP has no such rule.
      const v = src[pktOff]! >> 4;
      this.isUdp =
        (v === 4 && pktLen >= IPV4_MIN_HEADER_LEN && src[pktOff + 9] === IP_PROTO_UDP) ||
        (v === 6 && pktLen >= IPV6_HEADER_LEN && src[pktOff + 6] === IP_PROTO_UDP);
    }
    this.src = src;
    this.pktOff = pktOff;
    this.pktLen = pktLen;
    this.segmenting = false;
    this.count = 1;
    this.stats.packets++;
    return true;
  }

  private loadTcp(src: Uint8Array, hdrOff: number, pktOff: number, pktLen: number, version: 4 | 6): boolean {
    const v = src[pktOff]! >> 4;
    if (v !== version) return this.drop(this.drops.version_mismatch++);
    let ipHdrLen: number;
    if (version === 4) {
      if (pktLen < IPV4_MIN_HEADER_LEN) return this.drop(this.drops.bad_header_length++);
      ipHdrLen = (src[pktOff]! & 0x0f) << 2;
      if (ipHdrLen < IPV4_MIN_HEADER_LEN || ipHdrLen > pktLen) return this.drop(this.drops.bad_header_length++);
      if (src[pktOff + 9] !== IP_PROTO_TCP) return this.drop(this.drops.not_tcp++);
      // MF (0x20) or any fragment offset: a fragment cannot be resegmented.
      if ((src[pktOff + 6]! & 0x3f) !== 0 || src[pktOff + 7] !== 0) return this.drop(this.drops.fragment++);
    } else {
      if (pktLen < IPV6_HEADER_LEN) return this.drop(this.drops.bad_header_length++);
      ipHdrLen = IPV6_HEADER_LEN;
      // Extension headers would have to be walked and copied; Linux's TCP never sends them with TSO.
      if (src[pktOff + 6] !== IP_PROTO_TCP) return this.drop(this.drops.not_tcp++);
    }
    const tcp = pktOff + ipHdrLen;
    if (ipHdrLen + TCP_MIN_HEADER_LEN > pktLen) return this.drop(this.drops.bad_header_length++);
    const tcpHdrLen = (src[tcp + TCP_DATA_OFFSET_OFFSET]! >> 4) << 2;
    if (tcpHdrLen < TCP_MIN_HEADER_LEN || ipHdrLen + tcpHdrLen > pktLen) return this.drop(this.drops.bad_header_length++);
    const gsoSize = vnetGsoSize(src, hdrOff);
    if (gsoSize === 0) return this.drop(this.drops.zero_gso_size++);
    const hdrLen = ipHdrLen + tcpHdrLen;
    // The declared IP length is not used: the bytes read are the packet, and
    // a super-packet past 64 KiB (BIG TCP) could not declare its length anyway.
    const payloadLen = pktLen - hdrLen;
    const largest = hdrLen + (gsoSize < payloadLen ? gsoSize : payloadLen);
    if (largest > this.ring.capacity) return this.drop(this.drops.segment_too_big++);

    this.src = src;
    this.pktOff = pktOff;
    this.pktLen = pktLen;
    this.segmenting = true;
    this.version = version;
    this.ipHdrLen = ipHdrLen;
    this.tcpHdrLen = tcpHdrLen;
    this.hdrLen = hdrLen;
    this.payloadLen = payloadLen;
    this.gsoSize = gsoSize;
    this.seq0 = readU32BE(src, tcp + 4);
    this.id0 = version === 4 ? (src[pktOff + 4]! << 8) | src[pktOff + 5]! : 0;
    this.flags0 = src[tcp + TCP_FLAGS_OFFSET]!;
    this.addrSum = pseudoHeaderSum(src, pktOff, version, IP_PROTO_TCP, 0);
    // A super-packet with no payload still goes out, as one bare segment.
    this.count = payloadLen === 0 ? 1 : Math.ceil(payloadLen / gsoSize);
    this.stats.packets++;
    this.stats.superPackets++;
    return true;
  }

  /** Where in `slot` to start a packet so that src[srcAt] lands on dst[... + skip] with the same alignment mod 4. */
  private place(slot: number, srcAt: number, skip: number): number {
    const base = this.ring.offset[slot]!;
    const start = base - ((base + skip - (this.src.byteOffset + srcAt)) & 3);
    this.ring.offset[slot] = start;
    return start;
  }

  private writePlain(slot: number): void {
    const src = this.src;
    const bytes = this.ring.bytes;
    const len = this.pktLen;
    const d = this.place(slot, this.pktOff, 0);
    this.ring.length[slot] = len;
    if (!this.needsCsum || this.passPartial) {
      copyBytes(src, this.pktOff, bytes, d, len);
      if (this.needsCsum) this.ring.csum[slot] = CsumState.Partial;
      return;
    }
    // The field already holds the pseudo-header sum the kernel put there, so
    // summing from csum_start to the end with the field as it is gives the checksum.
    const start = this.csumStart;
    copyBytes(src, this.pktOff, bytes, d, start);
    let sum = ~copyWithSum(src, this.pktOff + start, bytes, d + start, len - start) & 0xffff;
    if (sum === 0 && this.isUdp) sum = 0xffff;
    bytes[d + this.csumField] = sum >>> 8;
    bytes[d + this.csumField + 1] = sum & 0xff;
  }

  private writeSegment(slot: number, i: number): void {
    const src = this.src;
    const ring = this.ring;
    const bytes = ring.bytes;
    const hdrLen = this.hdrLen;
    const first = i * this.gsoSize;
    const rest = this.payloadLen - first;
    const plen = rest < this.gsoSize ? rest : this.gsoSize;
    const srcPayload = this.pktOff + hdrLen + first;
    const d = this.place(slot, srcPayload, hdrLen);
    ring.length[slot] = hdrLen + plen;
    copyBytes(src, this.pktOff, bytes, d, hdrLen);

    if (this.version === 4) {
      const total = hdrLen + plen;
      bytes[d + 2] = total >>> 8;
      bytes[d + 3] = total & 0xff;
      const id = (this.id0 + i) & 0xffff;
      bytes[d + 4] = id >>> 8;
      bytes[d + 5] = id & 0xff;
      writeIpv4HeaderChecksum(bytes, d);
    } else {
      const payload = this.tcpHdrLen + plen;
      bytes[d + 4] = payload >>> 8;
      bytes[d + 5] = payload & 0xff;
    }

    const t = d + this.ipHdrLen;
    const seq = (this.seq0 + first) >>> 0;
    writeU32BE(bytes, t + 4, seq);
    let flags = this.flags0;
    if (i > 0) flags &= ~TCP_CWR;
    if (i < this.count - 1) flags &= ~(TCP_FIN | TCP_PSH);
    bytes[t + TCP_FLAGS_OFFSET] = flags;
    bytes[t + TCP_CHECKSUM_OFFSET] = 0;
    bytes[t + TCP_CHECKSUM_OFFSET + 1] = 0;

    const tcpLen = this.tcpHdrLen + plen;
    if (this.leavePartial) {
      copyBytes(src, srcPayload, bytes, d + hdrLen, plen);
      const partial = fold(this.addrSum + tcpLen);
      bytes[t + TCP_CHECKSUM_OFFSET] = partial >>> 8;
      bytes[t + TCP_CHECKSUM_OFFSET + 1] = partial & 0xff;
      ring.csum[slot] = CsumState.Partial;
      return;
    }
    // The TCP header is a whole number of words long, so the payload's sum
    // (taken while copying) lines up with the header's without a swap.
    const payloadSum = copyWithSum(src, srcPayload, bytes, d + hdrLen, plen);
    const headerSum = onesSum(bytes, t, this.tcpHdrLen, this.addrSum + tcpLen);
    const csum = ~fold(headerSum + payloadSum) & 0xffff;
    bytes[t + TCP_CHECKSUM_OFFSET] = csum >>> 8;
    bytes[t + TCP_CHECKSUM_OFFSET + 1] = csum & 0xff;
  }
}
