/**
 * IPv6 neighbour discovery (RFC 4861), the one exchange a VTEP needs: a
 * neighbour solicitation for its own address answered with a neighbour
 * advertisement. A Linux vxlan peer configured the Flannel way has a static
 * neighbour entry for weft's VTEP; one without (or one checking that the
 * entry still holds, by a unicast solicitation) asks through the tunnel, as
 * IPv4 asks by ARP (arp.ts).
 *
 * Neighbour solicitation (RFC 4861 section 4.3), after the IPv6 header:
 *
 *     0  type 135, code 0, checksum        4 bytes
 *     4  reserved                          4 bytes
 *     8  target address                   16 bytes
 *    24  options: source link-layer address (type 1, length 1 = 8 bytes, a MAC)
 *
 * The advertisement has the same shape (type 136, flags in the first
 * reserved byte) with the target link-layer address option (type 2).
 *
 * Hot path rules: absolute offsets into the ring's bytes, numbers out, no
 * allocation, no exceptions.
 */
import { IPV6_DST_OFFSET, IPV6_HEADER_LEN, IPV6_HOP_LIMIT_OFFSET, IPV6_NEXT_HEADER_OFFSET, IPV6_SRC_OFFSET, IP_PROTO_ICMPV6, icmpv6Checksum } from './ip.ts';

export const NDP_SOLICITATION = 135;
export const NDP_ADVERTISEMENT = 136;
/** An NS or NA without options: type, code, checksum, reserved or flags, target. */
export const NDP_MIN_LEN = 24;
/** The advertisement weft writes: the message and one target link-layer address option. */
export const NDP_ADVERTISEMENT_LEN = NDP_MIN_LEN + 8;
const OPTION_SOURCE_LINK_ADDRESS = 1;
const OPTION_TARGET_LINK_ADDRESS = 2;
/** Solicited and Override (RFC 4861 section 4.4): an answer to a question, for an address that is ours. */
const FLAGS_SOLICITED_OVERRIDE = 0x60;
/** Hop limit 255 both ways: the sender proves it is on the link (RFC 4861 section 7.1.1). */
const LINK_HOP_LIMIT = 255;

/**
 * Is the IPv6 packet at `ip` (`len` bytes, already a checked IPv6 packet) a
 * valid neighbour solicitation for `target` (16 bytes) from an address that
 * can be answered? RFC 4861 section 7.1.1: hop limit 255, code 0, length at
 * least 24, a correct checksum, options of non-zero length; a solicitation
 * from the unspecified address is duplicate address detection, which a VTEP
 * whose address is fixed does not answer.
 */
export function isSolicitationFor(bytes: Uint8Array, ip: number, len: number, target: Uint8Array): boolean {
  if (bytes[ip + IPV6_NEXT_HEADER_OFFSET] !== IP_PROTO_ICMPV6 || bytes[ip + IPV6_HOP_LIMIT_OFFSET] !== LINK_HOP_LIMIT) return false;
  const icmp = ip + IPV6_HEADER_LEN;
  const icmpLen = len - IPV6_HEADER_LEN;
  if (icmpLen < NDP_MIN_LEN || bytes[icmp] !== NDP_SOLICITATION || bytes[icmp + 1] !== 0) return false;
  for (let i = 0; i < 16; i++) if (bytes[icmp + 8 + i] !== target[i]) return false;
  let unspecified = true;
  for (let i = 0; i < 16; i++) if (bytes[ip + IPV6_SRC_OFFSET + i] !== 0) unspecified = false;
  if (unspecified) return false;
  for (let o = icmp + NDP_MIN_LEN; o < icmp + icmpLen; ) {
    const optLen = o + 1 < icmp + icmpLen ? bytes[o + 1]! * 8 : 0;
    if (optLen === 0 || o + optLen > icmp + icmpLen) return false;
    o += optLen;
  }
  return icmpv6Checksum(bytes, ip, icmpLen) === 0;
}

/**
 * The MAC a checked solicitation asks to be answered at: its source
 * link-layer address option, written into `out` at `outOff`. False when it
 * carries none (the caller answers the frame's Ethernet source instead).
 */
export function solicitationSourceMac(bytes: Uint8Array, ip: number, len: number, out: Uint8Array, outOff: number): boolean {
  const end = ip + len;
  for (let o = ip + IPV6_HEADER_LEN + NDP_MIN_LEN; o + 8 <= end; o += bytes[o + 1]! * 8) {
    if (bytes[o] === OPTION_SOURCE_LINK_ADDRESS && bytes[o + 1] === 1) {
      out.set(bytes.subarray(o + 2, o + 8), outOff);
      return true;
    }
    if (bytes[o + 1] === 0) return false;
  }
  return false;
}

/**
 * Turn the solicitation at `ip` into the advertisement answering it, in
 * place: from the target address (ours) to the solicitation's source,
 * hop limit 255, Solicited and Override set, our MAC as the target
 * link-layer address. The slot must hold IPV6_HEADER_LEN +
 * NDP_ADVERTISEMENT_LEN bytes from `ip`. Returns that length.
 */
export function writeAdvertisementInPlace(bytes: Uint8Array, ip: number, mac: Uint8Array): number {
  const icmp = ip + IPV6_HEADER_LEN;
  // The asker becomes the destination, the target (ours) the source.
  bytes.copyWithin(ip + IPV6_DST_OFFSET, ip + IPV6_SRC_OFFSET, ip + IPV6_SRC_OFFSET + 16);
  bytes.copyWithin(ip + IPV6_SRC_OFFSET, icmp + 8, icmp + 24);
  bytes[ip] = 0x60;
  bytes[ip + 1] = bytes[ip + 2] = bytes[ip + 3] = 0;
  bytes[ip + 4] = 0;
  bytes[ip + 5] = NDP_ADVERTISEMENT_LEN;
  bytes[ip + IPV6_NEXT_HEADER_OFFSET] = IP_PROTO_ICMPV6;
  bytes[ip + IPV6_HOP_LIMIT_OFFSET] = LINK_HOP_LIMIT;
  bytes[icmp] = NDP_ADVERTISEMENT;
  bytes[icmp + 1] = 0;
  bytes[icmp + 2] = bytes[icmp + 3] = 0;
  bytes[icmp + 4] = FLAGS_SOLICITED_OVERRIDE;
  bytes[icmp + 5] = bytes[icmp + 6] = bytes[icmp + 7] = 0;
  // The target stays where it is (bytes 8 to 24).
  bytes[icmp + 24] = OPTION_TARGET_LINK_ADDRESS;
  bytes[icmp + 25] = 1;
  bytes.set(mac, icmp + 26);
  const sum = icmpv6Checksum(bytes, ip, NDP_ADVERTISEMENT_LEN);
  bytes[icmp + 2] = sum >> 8;
  bytes[icmp + 3] = sum & 0xff;
  return IPV6_HEADER_LEN + NDP_ADVERTISEMENT_LEN;
}
