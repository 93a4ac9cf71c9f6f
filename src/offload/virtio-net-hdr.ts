/**
 * `struct virtio_net_hdr` (virtio 1.x spec, "Device Operation: Packet
 * Transmission"), the 10-byte header a TUN device opened with IFF_VNET_HDR
 * puts in front of every packet it reads and expects in front of every
 * packet written to it:
 *
 *     0  flags        u8    NEEDS_CSUM (1), DATA_VALID (2)
 *     1  gso_type     u8    NONE 0, TCPV4 1, UDP 3, TCPV6 4, UDP_L4 5; | ECN 0x80
 *     2  hdr_len      u16   bytes of headers (IP + TCP), a hint
 *     4  gso_size     u16   payload bytes per segment (the MSS)
 *     6  csum_start   u16   where the checksum sum starts (from the IP header: TUN has no link header)
 *     8  csum_offset  u16   where, from csum_start, the result is stored
 *
 * Byte order: TUN uses the legacy virtio layout, whose u16 fields are in the
 * host's byte order unless TUNSETVNETBE/TUNSETVNETLE says otherwise. weft
 * runs only on little-endian hosts (x86-64, arm64) and sets neither, so the
 * fields are read and written little-endian here, on every machine.
 *
 * The 12-byte variant (with num_buffers, TUNSETVNETHDRSZ 12) is not used.
 */
import { readU16LE, writeU16LE } from '../bytes/endian.ts';

export const VNET_HDR_LEN = 10;

/** The device must complete a checksum: sum from csum_start to the end, store the complement at csum_start + csum_offset. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** The checksum has been validated (set by the kernel on reads; never needed on writes). */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
/** Or'ed into gso_type: the super-packet carries CWR, which only its first segment may keep. */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

// Field offsets within the header.
const FLAGS = 0;
const GSO_TYPE = 1;
const HDR_LEN = 2;
const GSO_SIZE = 4;
const CSUM_START = 6;
const CSUM_OFFSET = 8;

export function vnetFlags(bytes: Uint8Array, off: number): number {
  return bytes[off + FLAGS]!;
}

/** gso_type including the ECN bit; mask with ~VIRTIO_NET_HDR_GSO_ECN for the kind. */
export function vnetGsoType(bytes: Uint8Array, off: number): number {
  return bytes[off + GSO_TYPE]!;
}

export function vnetHdrLen(bytes: Uint8Array, off: number): number {
  return readU16LE(bytes, off + HDR_LEN);
}

export function vnetGsoSize(bytes: Uint8Array, off: number): number {
  return readU16LE(bytes, off + GSO_SIZE);
}

export function vnetCsumStart(bytes: Uint8Array, off: number): number {
  return readU16LE(bytes, off + CSUM_START);
}

export function vnetCsumOffset(bytes: Uint8Array, off: number): number {
  return readU16LE(bytes, off + CSUM_OFFSET);
}

/** Write a whole header at `off` (u16 fields little-endian, values masked to their widths). */
export function writeVnetHdr(
  bytes: Uint8Array,
  off: number,
  flags: number,
  gsoType: number,
  hdrLen: number,
  gsoSize: number,
  csumStart: number,
  csumOffset: number,
): void {
  bytes[off + FLAGS] = flags & 0xff;
  bytes[off + GSO_TYPE] = gsoType & 0xff;
  writeU16LE(bytes, off + HDR_LEN, hdrLen);
  writeU16LE(bytes, off + GSO_SIZE, gsoSize);
  writeU16LE(bytes, off + CSUM_START, csumStart);
  writeU16LE(bytes, off + CSUM_OFFSET, csumOffset);
}

/** An all-zero header: no offload, the kernel checks the packet's checksums itself. */
export function writeVnetHdrNone(bytes: Uint8Array, off: number): void {
  for (let i = 0; i < VNET_HDR_LEN; i++) bytes[off + i] = 0;
}
