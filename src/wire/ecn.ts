/**
 * Explicit Congestion Notification in an IP header (RFC 3168): the two ECN
 * bits of IPv4's TOS byte and of IPv6's traffic class. A queue that would
 * drop a packet to signal congestion marks it "congestion experienced"
 * instead, when the sender said it understands ECN (ECT(0) or ECT(1)).
 */
import { IPV4_CHECKSUM_OFFSET } from './ip.ts';

const ECN_MASK = 0x03;
const ECN_CE = 0x03;

/**
 * Mark the IP packet at `off` CE if it is ECN-capable. True when marked (or
 * already CE): the packet then signals congestion and need not be dropped.
 * False for a Not-ECT packet (or a truncated one), which the caller drops.
 * IPv4's header checksum is updated incrementally (RFC 1624, eqn. 3).
 */
export function markCongestionExperienced(bytes: Uint8Array, off: number, len: number): boolean {
  if (len < 2) return false;
  const version = bytes[off]! >> 4;
  if (version === 4) {
    if (len < 20) return false;
    const tos = bytes[off + 1]!;
    const ecn = tos & ECN_MASK;
    if (ecn === 0) return false;
    if (ecn === ECN_CE) return true;
    const newTos = tos | ECN_CE;
    bytes[off + 1] = newTos;
    // HC' = ~(~HC + ~m + m'), over the 16-bit word holding the TOS byte (version/IHL is unchanged).
    const word = bytes[off]! << 8;
    const oldWord = word | tos;
    const newWord = word | newTos;
    const c = off + IPV4_CHECKSUM_OFFSET;
    let sum = (~((bytes[c]! << 8) | bytes[c + 1]!) & 0xffff) + (~oldWord & 0xffff) + newWord;
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const check = ~sum & 0xffff;
    bytes[c] = check >> 8;
    bytes[c + 1] = check & 0xff;
    return true;
  }
  if (version === 6) {
    // The traffic class straddles bytes 0 and 1; its ECN bits are byte 1's bits 4 and 5.
    const ecn = (bytes[off + 1]! >> 4) & ECN_MASK;
    if (ecn === 0) return false;
    bytes[off + 1] = bytes[off + 1]! | (ECN_CE << 4);
    return true;
  }
  return false;
}
