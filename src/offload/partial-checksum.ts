/**
 * TCP checksums left partial (CHECKSUM_PARTIAL, Linux checksum-offloads.rst):
 * the checksum field holds the folded, uncomplemented pseudo-header sum, and
 * whoever finishes it sums from the start of the TCP header to the end of the
 * packet, that field included, and stores the complement.
 *
 * Why weft leaves them so. Segmenting a super-packet used to sum every
 * payload byte in JavaScript (a tenth of the sending node's time under a
 * TCP stream), and the receiving node summed them again to verify them
 * before merging. Neither is needed between two weft nodes: over VXLAN the
 * remote checksum offload extension (RCO, draft-herbert-vxlan-rco) tells the
 * receiver the field is partial and the outer UDP checksum, which the kernel
 * computes and verifies, covers the bytes; over WireGuard the AEAD tag
 * authenticates every byte. The receiver hands the packet to its TUN device
 * with NEEDS_CSUM, and the kernel finishes the sum only where a checksum is
 * still needed (forwarding out of a device without checksum offload); for
 * a local pod it trusts it, as it trusts its own. A peer that did not say it
 * takes partial checksums (a kernel vxlan without remcsumrx, wireguard-go)
 * gets them finished here, just before encapsulation.
 */
import { CsumState } from '../buf/packet-ring.ts';
import type { PacketRing } from '../buf/packet-ring.ts';
import { IP_PROTO_TCP, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN } from '../wire/ip.ts';
import { TCP_CHECKSUM_OFFSET, TCP_MIN_HEADER_LEN } from '../wire/tcp.ts';
import { onesSum, pseudoHeaderSum } from './checksum.ts';

/** Where the checksum field sits in a UDP header. */
const UDP_CSUM_FIELD = 6;

/**
 * Where the TCP header of the IP packet at `off` starts, relative to `off`,
 * when the packet is whole TCP (not an IPv4 fragment, no IPv6 extension
 * header) with room for a TCP header; -1 otherwise.
 */
export function tcpHeaderStart(bytes: Uint8Array, off: number, len: number): number {
  if (len < 1) return -1;
  const v = bytes[off]! >> 4;
  let ipLen: number;
  if (v === 4) {
    if (len < IPV4_MIN_HEADER_LEN || bytes[off + 9] !== IP_PROTO_TCP) return -1;
    // MF or a fragment offset: the TCP header is not (all) here.
    if (((bytes[off + 6]! & 0x3f) | bytes[off + 7]!) !== 0) return -1;
    ipLen = (bytes[off]! & 0x0f) << 2;
    if (ipLen < IPV4_MIN_HEADER_LEN) return -1;
  } else if (v === 6) {
    if (bytes[off + 6] !== IP_PROTO_TCP) return -1;
    ipLen = IPV6_HEADER_LEN;
  } else {
    return -1;
  }
  return ipLen + TCP_MIN_HEADER_LEN <= len ? ipLen : -1;
}

/**
 * Put the partial form in the TCP checksum field of the packet whose TCP
 * header starts `tcp` bytes into it: the pseudo-header sum over its TCP length.
 */
export function writePartialTcpChecksum(bytes: Uint8Array, off: number, len: number, tcp: number): void {
  const partial = pseudoHeaderSum(bytes, off, bytes[off]! >> 4 === 4 ? 4 : 6, IP_PROTO_TCP, len - tcp);
  bytes[off + tcp + TCP_CHECKSUM_OFFSET] = partial >>> 8;
  bytes[off + tcp + TCP_CHECKSUM_OFFSET + 1] = partial & 0xff;
}

/**
 * Finish the partial TCP checksum of the packet at `off`: what a peer that
 * takes only whole checksums must receive. False (nothing written) when the
 * packet is not one whose checksum can have been left partial.
 */
export function finishTcpChecksum(bytes: Uint8Array, off: number, len: number): boolean {
  const tcp = tcpHeaderStart(bytes, off, len);
  if (tcp < 0) return false;
  const field = off + tcp + TCP_CHECKSUM_OFFSET;
  const csum = ~onesSum(bytes, off + tcp, len - tcp, 0) & 0xffff;
  bytes[field] = csum >>> 8;
  bytes[field + 1] = csum & 0xff;
  return true;
}

/** If `slot` is marked Partial, finish its checksum and mark it Complete: for a peer or device that takes only whole ones. */
export function finishPartialChecksum(ring: PacketRing, slot: number): void {
  if (ring.csum[slot] !== CsumState.Partial) return;
  finishTcpChecksum(ring.bytes, ring.offset[slot]!, ring.length[slot]!);
  ring.csum[slot] = CsumState.Complete;
}

/** finishPartialChecksum for each of the batch's slots. */
export function finishPartialChecksums(ring: PacketRing, slots: Int32Array, count: number): void {
  for (let i = 0; i < count; i++) finishPartialChecksum(ring, slots[i]!);
}

/**
 * Finish a partial checksum that a peer's RCO header placed: sum from
 * `start` to the end of the `len`-byte packet at `off`, the field at
 * `start + fieldOffset` (which holds the pseudo-header sum) included, and
 * store the complement; for UDP (field offset 6) a zero result goes as
 * 0xffff (RFC 768). The caller has checked that the field lies inside.
 */
export function finishChecksumAt(bytes: Uint8Array, off: number, len: number, start: number, fieldOffset: number): void {
  let csum = ~onesSum(bytes, off + start, len - start, 0) & 0xffff;
  if (csum === 0 && fieldOffset === UDP_CSUM_FIELD) csum = 0xffff;
  const field = off + start + fieldOffset;
  bytes[field] = csum >>> 8;
  bytes[field + 1] = csum & 0xff;
}
