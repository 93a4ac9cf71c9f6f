/**
 * Ethernet II framing (IEEE 802.3 section 3.1.1, the DIX layout): the inner
 * frame a VXLAN packet carries (RFC 7348 section 5, "Inner Ethernet Header").
 *
 * Hot path: everything takes the ring's bytes and an absolute offset and
 * works on numbers; nothing allocates or throws. These functions do not check
 * bounds: the caller has already checked that ETH_HEADER_LEN bytes are there
 * (reading past the end of a Uint8Array yields undefined, which reads as 0,
 * so a missed check gives a wrong answer, not an exception).
 *
 * No 802.1Q tags: weft's VTEPs never send them and Flannel's vxlan device does
 * not either, so a tagged inner frame reads as an unknown EtherType and is dropped.
 */
import { readU16BE } from '../bytes/endian.ts';

export const ETH_HEADER_LEN = 14;
export const ETH_ADDR_LEN = 6;

// Field offsets from the start of the frame.
export const ETH_DST_OFFSET = 0;
export const ETH_SRC_OFFSET = 6;
export const ETH_TYPE_OFFSET = 12;

// EtherTypes (IEEE registry) for what the overlay carries.
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

/**
 * Write destination, source and EtherType at `off`; returns the offset of the
 * payload (off + ETH_HEADER_LEN). `dst` and `src` are 6-byte MACs.
 */
export function writeEthernetHeader(bytes: Uint8Array, off: number, dst: Uint8Array, src: Uint8Array, etherType: number): number {
  for (let i = 0; i < ETH_ADDR_LEN; i++) {
    bytes[off + ETH_DST_OFFSET + i] = dst[i]!;
    bytes[off + ETH_SRC_OFFSET + i] = src[i]!;
  }
  bytes[off + ETH_TYPE_OFFSET] = (etherType >> 8) & 0xff;
  bytes[off + ETH_TYPE_OFFSET + 1] = etherType & 0xff;
  return off + ETH_HEADER_LEN;
}

/** The big-endian EtherType of the frame at `off`. */
export function readEtherType(bytes: Uint8Array, off: number): number {
  return readU16BE(bytes, off + ETH_TYPE_OFFSET);
}

/** Whether the 6 bytes at `off` equal `mac`. Pass off + ETH_DST_OFFSET or + ETH_SRC_OFFSET. */
export function macEquals(bytes: Uint8Array, off: number, mac: Uint8Array): boolean {
  for (let i = 0; i < ETH_ADDR_LEN; i++) {
    if (bytes[off + i] !== mac[i]) return false;
  }
  return true;
}

/** Whether the 6 bytes at `off` are ff:ff:ff:ff:ff:ff (ARP requests are sent there). */
export function isBroadcastMac(bytes: Uint8Array, off: number): boolean {
  for (let i = 0; i < ETH_ADDR_LEN; i++) {
    if (bytes[off + i] !== 0xff) return false;
  }
  return true;
}

/** Copy the 6-byte MAC at `srcOff` in `src` to `dstOff` in `dst` (the two may be the same buffer). */
export function copyMac(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number): void {
  // Overlapping ranges inside one buffer would need a direction; MAC fields
  // never overlap each other, so a forward copy is enough.
  for (let i = 0; i < ETH_ADDR_LEN; i++) dst[dstOff + i] = src[srcOff + i]!;
}
