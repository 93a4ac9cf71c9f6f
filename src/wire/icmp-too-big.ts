/**
 * "Packet too big", as a router answers a packet that does not fit the next
 * hop: ICMP type 3 code 4, "fragmentation needed and DF set", carrying the
 * next-hop MTU (RFC 792, RFC 1191), and ICMPv6 type 2, "packet too big"
 * (RFC 4443 §3.2, RFC 8201). The sender's path MTU discovery lowers its
 * packet size on receipt, instead of its packets vanishing.
 *
 * Built in place, over the offending packet: the answer quotes the start of
 * that packet, so the quote moves back by the new headers (a memmove inside
 * the same bytes) and the headers are written in front of it. No
 * allocation; the caller then sends the slot back toward the sender.
 *
 * No answer is due (length 0 returned) for an IPv4 packet without DF (a
 * router would fragment it; the caller forwards it and the underlay
 * fragments), for an ICMP error about an ICMP error (RFC 1122 3.2.2, RFC 4443
 * 2.4 e), or for a source that cannot be answered (unspecified, multicast).
 */
import { writeU32BE } from '../bytes/endian.ts';
import { IPV4_DST_OFFSET, IPV4_SRC_OFFSET, IPV6_DST_OFFSET, IPV6_HEADER_LEN, IPV6_SRC_OFFSET, icmpv6Checksum, internetChecksum, ipv4HeaderLength, writeIpv4HeaderChecksum } from './ip.ts';

const IPV4_ANSWER_HEADERS = 20 + 8;
const IPV6_ANSWER_HEADERS = IPV6_HEADER_LEN + 8;
/** RFC 1812 4.3.2.3: an ICMPv4 error carries as much of the packet as keeps it within 576 bytes. */
const IPV4_ANSWER_MAX = 576;
/** RFC 4443 2.4 c: an ICMPv6 error carries as much as keeps it within the minimum IPv6 MTU. */
const IPV6_ANSWER_MAX = 1280;
const PROTO_ICMP = 1;
const NEXT_ICMPV6 = 58;
const ANSWER_TTL = 64;

/** Addresses of the offending packet, saved before the quote moves over them. */
const saved = new Uint8Array(32);

/**
 * Replace the packet at bytes[off, off+len) by the "too big" answer to it,
 * advertising `mtu`. The answer comes from the packet's destination: the
 * node's own overlay address would be dropped by its kernel as a martian
 * (a packet arriving on the device from a local address), and the overlay
 * device has no IPv6 address at all; the sender's kernel takes the path MTU
 * from the quoted header, whoever sent the answer.
 * Returns the answer's length, or 0 when no answer is due (packet untouched).
 */
export function writeTooBig(bytes: Uint8Array, off: number, len: number, mtu: number): number {
  const version = bytes[off]! >> 4;
  if (version === 4) return tooBigV4(bytes, off, len, mtu);
  if (version === 6) return tooBigV6(bytes, off, len, mtu);
  return 0;
}

function tooBigV4(bytes: Uint8Array, off: number, len: number, mtu: number): number {
  if (len < 20 || (bytes[off + 6]! & 0x40) === 0) return 0; // no DF: fragmenting is allowed
  const ihl = ipv4HeaderLength(bytes, off);
  if (bytes[off + 9] === PROTO_ICMP && len >= ihl + 1 && isIcmpV4Error(bytes[off + ihl]!)) return 0;
  const src0 = bytes[off + IPV4_SRC_OFFSET]!;
  if (src0 === 0 || src0 >= 224) return 0; // unspecified, multicast or reserved source
  saved.set(bytes.subarray(off + IPV4_SRC_OFFSET, off + IPV4_SRC_OFFSET + 8), 0); // source, then destination
  const quote = Math.min(len - IPV4_ANSWER_HEADERS, IPV4_ANSWER_MAX - IPV4_ANSWER_HEADERS);
  bytes.copyWithin(off + IPV4_ANSWER_HEADERS, off, off + quote);
  const total = IPV4_ANSWER_HEADERS + quote;
  bytes[off] = 0x45;
  bytes[off + 1] = 0xc0; // precedence "internetwork control", as routers mark ICMP errors
  bytes[off + 2] = total >> 8;
  bytes[off + 3] = total & 0xff;
  bytes.fill(0, off + 4, off + 8); // id, flags, fragment offset
  bytes[off + 8] = ANSWER_TTL;
  bytes[off + 9] = PROTO_ICMP;
  bytes.set(saved.subarray(4, 8), off + IPV4_SRC_OFFSET);
  bytes.set(saved.subarray(0, 4), off + IPV4_DST_OFFSET);
  writeIpv4HeaderChecksum(bytes, off);
  const icmp = off + 20;
  bytes[icmp] = 3; // destination unreachable
  bytes[icmp + 1] = 4; // fragmentation needed and DF set
  bytes[icmp + 2] = bytes[icmp + 3] = 0;
  bytes[icmp + 4] = bytes[icmp + 5] = 0;
  bytes[icmp + 6] = (mtu >> 8) & 0xff;
  bytes[icmp + 7] = mtu & 0xff;
  const sum = internetChecksum(bytes, icmp, 8 + quote);
  bytes[icmp + 2] = sum >> 8;
  bytes[icmp + 3] = sum & 0xff;
  return total;
}

/** ICMPv4 types that are errors (never answered with another error). */
function isIcmpV4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

function tooBigV6(bytes: Uint8Array, off: number, len: number, mtu: number): number {
  if (len < IPV6_HEADER_LEN) return 0;
  // An ICMPv6 error (types below 128) right after the fixed header is never answered.
  if (bytes[off + 6] === NEXT_ICMPV6 && len > IPV6_HEADER_LEN && bytes[off + IPV6_HEADER_LEN]! < 128) return 0;
  const s = off + IPV6_SRC_OFFSET;
  if (bytes[s] === 0xff) return 0; // multicast source
  let unspecified = true;
  for (let i = 0; i < 16; i++) if (bytes[s + i] !== 0) unspecified = false;
  if (unspecified) return 0;
  saved.set(bytes.subarray(s, s + 16), 0); // becomes the answer's destination
  saved.set(bytes.subarray(off + IPV6_DST_OFFSET, off + IPV6_DST_OFFSET + 16), 16); // its source
  const quote = Math.min(len - IPV6_ANSWER_HEADERS, IPV6_ANSWER_MAX - IPV6_ANSWER_HEADERS);
  bytes.copyWithin(off + IPV6_ANSWER_HEADERS, off, off + quote);
  const payload = 8 + quote;
  bytes[off] = 0x60;
  bytes[off + 1] = bytes[off + 2] = bytes[off + 3] = 0;
  bytes[off + 4] = payload >> 8;
  bytes[off + 5] = payload & 0xff;
  bytes[off + 6] = NEXT_ICMPV6;
  bytes[off + 7] = ANSWER_TTL;
  bytes.set(saved.subarray(16, 32), off + IPV6_SRC_OFFSET);
  bytes.set(saved.subarray(0, 16), off + IPV6_DST_OFFSET);
  const icmp = off + IPV6_HEADER_LEN;
  bytes[icmp] = 2; // packet too big
  bytes[icmp + 1] = 0;
  bytes[icmp + 2] = bytes[icmp + 3] = 0;
  writeU32BE(bytes, icmp + 4, mtu);
  const sum = icmpv6Checksum(bytes, off, payload);
  bytes[icmp + 2] = sum >> 8;
  bytes[icmp + 3] = sum & 0xff;
  return IPV6_HEADER_LEN + payload;
}
