/**
 * IPv4 (RFC 791) and IPv6 (RFC 8200) header peek and validation.
 *
 * Everything here reads packet bytes in place: functions take the ring's
 * bytes and an absolute offset, return numbers, and never allocate or throw,
 * because they run once per packet on bytes that came off the wire or out of
 * a pod. Addresses are left where they are; callers hand the address offset
 * (IPV4_SRC_OFFSET and friends) to the route table, which reads them itself.
 */
import { readU16BE, readU32BE } from '../bytes/endian.ts';

export const IPV4_MIN_HEADER_LEN = 20;
export const IPV6_HEADER_LEN = 40;

// Field offsets from the start of the IP header.
export const IPV4_TOTAL_LENGTH_OFFSET = 2;
export const IPV4_TTL_OFFSET = 8;
export const IPV4_PROTOCOL_OFFSET = 9;
export const IPV4_CHECKSUM_OFFSET = 10;
export const IPV4_SRC_OFFSET = 12;
export const IPV4_DST_OFFSET = 16;
export const IPV6_PAYLOAD_LENGTH_OFFSET = 4;
export const IPV6_NEXT_HEADER_OFFSET = 6;
export const IPV6_HOP_LIMIT_OFFSET = 7;
export const IPV6_SRC_OFFSET = 8;
export const IPV6_DST_OFFSET = 24;

export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
export const IP_PROTO_ICMPV6 = 58;

/** What checkIpPacket found. `Ok` is 0 so that `if (verdict)` reads as "bad". */
export const IpVerdict = {
  Ok: 0,
  /** Fewer bytes than the smallest header of the claimed version (or none). */
  Short: 1,
  /** Version nibble is neither 4 nor 6. */
  BadVersion: 2,
  /** IPv4 IHL below 5 words or past the bytes that were read. */
  BadHeaderLength: 3,
  /** The length the header declares does not fit the bytes that were read, or is smaller than the header. */
  BadTotalLength: 4,
} as const;
export type IpVerdict = (typeof IpVerdict)[keyof typeof IpVerdict];

export const IP_VERDICT_NAMES: readonly string[] = ['ok', 'short', 'bad_version', 'bad_header_length', 'bad_total_length'];

/** The version nibble of the first byte; 0 when there is no byte to read. */
export function ipVersion(bytes: Uint8Array, off: number, len: number): number {
  return len > 0 ? bytes[off]! >> 4 : 0;
}

/**
 * Check that `len` bytes at `off` hold a plausible IPv4 or IPv6 packet: the
 * version, the header length, and a declared length that the bytes cover.
 * Bytes past the declared length are allowed (Ethernet pads short frames);
 * ipPacketLength() gives the length to forward.
 */
export function checkIpPacket(bytes: Uint8Array, off: number, len: number): IpVerdict {
  if (len < 1) return IpVerdict.Short;
  const version = bytes[off]! >> 4;
  if (version === 4) {
    if (len < IPV4_MIN_HEADER_LEN) return IpVerdict.Short;
    const headerLen = (bytes[off]! & 0x0f) << 2;
    if (headerLen < IPV4_MIN_HEADER_LEN || headerLen > len) return IpVerdict.BadHeaderLength;
    const total = readU16BE(bytes, off + 2);
    if (total < headerLen || total > len) return IpVerdict.BadTotalLength;
    return IpVerdict.Ok;
  }
  if (version === 6) {
    if (len < IPV6_HEADER_LEN) return IpVerdict.Short;
    // A payload length of 0 means a jumbogram (RFC 2675), which needs a
    // hop-by-hop option and a link MTU above 64 KiB: never valid here.
    const payload = readU16BE(bytes, off + 4);
    if (payload === 0 && len > IPV6_HEADER_LEN) return IpVerdict.BadTotalLength;
    if (IPV6_HEADER_LEN + payload > len) return IpVerdict.BadTotalLength;
    return IpVerdict.Ok;
  }
  return IpVerdict.BadVersion;
}

/** The packet length the header declares. Call only after checkIpPacket returned Ok. */
export function ipPacketLength(bytes: Uint8Array, off: number): number {
  if (bytes[off]! >> 4 === 4) return readU16BE(bytes, off + 2);
  return IPV6_HEADER_LEN + readU16BE(bytes, off + 4);
}

/** IPv4 header length in bytes (IHL * 4). */
export function ipv4HeaderLength(bytes: Uint8Array, off: number): number {
  return (bytes[off]! & 0x0f) << 2;
}

export function ipv4Src(bytes: Uint8Array, off: number): number {
  return readU32BE(bytes, off + IPV4_SRC_OFFSET);
}

export function ipv4Dst(bytes: Uint8Array, off: number): number {
  return readU32BE(bytes, off + IPV4_DST_OFFSET);
}

export function ipv4Protocol(bytes: Uint8Array, off: number): number {
  return bytes[off + IPV4_PROTOCOL_OFFSET]!;
}

/** Offset of the source address from the header start, by version (4 or 6). */
export function ipSrcOffset(version: number): number {
  return version === 4 ? IPV4_SRC_OFFSET : IPV6_SRC_OFFSET;
}

/** Offset of the destination address from the header start, by version (4 or 6). */
export function ipDstOffset(version: number): number {
  return version === 4 ? IPV4_DST_OFFSET : IPV6_DST_OFFSET;
}

/** Do two 16-byte IPv6 addresses in place compare equal? */
export function ipv6Equal(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/**
 * The Internet checksum (RFC 1071) over `len` bytes: the ones' complement of
 * the ones' complement sum of 16-bit big-endian words, an odd last byte
 * padded with zero. `initial` carries a partial sum (a pseudo-header).
 */
export function internetChecksum(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (len & 1) sum += bytes[off + len - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * The ICMPv6 checksum (RFC 4443 section 2.3) of the `len`-byte message
 * behind the IPv6 header at `ip`, over the pseudo-header (RFC 8200 section
 * 8.1) of that header's addresses as they stand. A message that carries a
 * correct checksum sums to 0.
 */
export function icmpv6Checksum(bytes: Uint8Array, ip: number, len: number): number {
  let pseudo = len + IP_PROTO_ICMPV6;
  const end = ip + IPV6_SRC_OFFSET + 32;
  for (let i = ip + IPV6_SRC_OFFSET; i < end; i += 2) pseudo += (bytes[i]! << 8) | bytes[i + 1]!;
  return internetChecksum(bytes, ip + IPV6_HEADER_LEN, len, pseudo);
}

/** Does the IPv4 header at `off` carry a correct checksum? */
export function ipv4HeaderChecksumOk(bytes: Uint8Array, off: number): boolean {
  return internetChecksum(bytes, off, ipv4HeaderLength(bytes, off)) === 0;
}

/** Recompute and store the IPv4 header checksum in place. */
export function writeIpv4HeaderChecksum(bytes: Uint8Array, off: number): void {
  bytes[off + IPV4_CHECKSUM_OFFSET] = 0;
  bytes[off + IPV4_CHECKSUM_OFFSET + 1] = 0;
  const sum = internetChecksum(bytes, off, ipv4HeaderLength(bytes, off));
  bytes[off + IPV4_CHECKSUM_OFFSET] = sum >> 8;
  bytes[off + IPV4_CHECKSUM_OFFSET + 1] = sum & 0xff;
}

/**
 * Is the destination link-scoped: multicast, broadcast or link-local? Such
 * packets belong to the link they were sent on (the kernel sends IPv6
 * router solicitations and MLD reports out of every interface, the TUN
 * device included) and an L3 overlay never forwards them. Call after
 * checkIpPacket returned Ok.
 */
export function isLinkScopedDestination(bytes: Uint8Array, off: number): boolean {
  if (bytes[off]! >> 4 === 4) {
    const a = bytes[off + IPV4_DST_OFFSET]!;
    const b = bytes[off + IPV4_DST_OFFSET + 1]!;
    // 224.0.0.0/4 multicast, 255.255.255.255 broadcast, 169.254.0.0/16 link-local.
    return a >= 224 || (a === 169 && b === 254);
  }
  const a = bytes[off + IPV6_DST_OFFSET]!;
  // ff00::/8 multicast, fe80::/10 link-local unicast.
  return a === 0xff || (a === 0xfe && (bytes[off + IPV6_DST_OFFSET + 1]! & 0xc0) === 0x80);
}
