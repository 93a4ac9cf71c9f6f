/**
 * ARP for IPv4 over Ethernet (RFC 826). weft answers requests for its own
 * VTEP address, because a Linux vxlan peer configured as Flannel configures
 * it normally has a static neighbour entry, but one without (or one whose
 * entry expired) resolves the VTEP by ARP through the tunnel.
 *
 * Packet layout (RFC 826, "Packet format"), offsets from the ARP header:
 *
 *     0  ar$hrd  hardware address space      2 bytes  1 = Ethernet
 *     2  ar$pro  protocol address space      2 bytes  0x0800 = IPv4
 *     4  ar$hln  hardware address length     1 byte   6
 *     5  ar$pln  protocol address length     1 byte   4
 *     6  ar$op   opcode                      2 bytes  1 request, 2 reply
 *     8  ar$sha  sender hardware address     6 bytes
 *    14  ar$spa  sender protocol address     4 bytes
 *    18  ar$tha  target hardware address     6 bytes
 *    24  ar$tpa  target protocol address     4 bytes
 *
 * Hot path rules: absolute offsets into the ring's bytes, numbers out, no
 * allocation, no exceptions. Accessors assume checkArp() returned Ok.
 */
import { readU16BE, readU32BE, writeU16BE, writeU32BE } from '../bytes/endian.ts';

export const ARP_LEN = 28;

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;
export const ARP_HLEN_ETHERNET = 6;
export const ARP_PLEN_IPV4 = 4;

export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

// Field offsets from the start of the ARP header.
export const ARP_HTYPE_OFFSET = 0;
export const ARP_PTYPE_OFFSET = 2;
export const ARP_HLEN_OFFSET = 4;
export const ARP_PLEN_OFFSET = 5;
export const ARP_OP_OFFSET = 6;
export const ARP_SHA_OFFSET = 8;
export const ARP_SPA_OFFSET = 14;
export const ARP_THA_OFFSET = 18;
export const ARP_TPA_OFFSET = 24;

/** What checkArp found. `Ok` is 0 so that `if (verdict)` reads as "bad". */
export const ArpVerdict = {
  Ok: 0,
  /** Fewer than ARP_LEN bytes. */
  Short: 1,
  /** Not IPv4 over Ethernet: hardware type, protocol type or address lengths differ. */
  Unsupported: 2,
  /** Opcode is neither request nor reply (RARP and InARP included). */
  BadOp: 3,
} as const;
export type ArpVerdict = (typeof ArpVerdict)[keyof typeof ArpVerdict];

export const ARP_VERDICT_NAMES: readonly string[] = ['ok', 'short', 'unsupported', 'bad_op'];

/**
 * Check that `len` bytes at `off` hold an IPv4-over-Ethernet ARP request or
 * reply. RFC 826's receiver first checks ar$hrd and ar$pro against what it
 * speaks; it also relies on ar$hln/ar$pln to find the fields, so any other
 * lengths mean the fixed offsets above do not apply. Bytes past ARP_LEN are
 * Ethernet padding and ignored.
 */
export function checkArp(bytes: Uint8Array, off: number, len: number): ArpVerdict {
  if (len < ARP_LEN || off + ARP_LEN > bytes.length) return ArpVerdict.Short;
  if (
    readU16BE(bytes, off + ARP_HTYPE_OFFSET) !== ARP_HTYPE_ETHERNET ||
    readU16BE(bytes, off + ARP_PTYPE_OFFSET) !== ARP_PTYPE_IPV4 ||
    bytes[off + ARP_HLEN_OFFSET] !== ARP_HLEN_ETHERNET ||
    bytes[off + ARP_PLEN_OFFSET] !== ARP_PLEN_IPV4
  ) {
    return ArpVerdict.Unsupported;
  }
  const op = readU16BE(bytes, off + ARP_OP_OFFSET);
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return ArpVerdict.BadOp;
  return ArpVerdict.Ok;
}

/** ar$op: ARP_OP_REQUEST or ARP_OP_REPLY once checkArp() said Ok. */
export function arpOp(bytes: Uint8Array, off: number): number {
  return readU16BE(bytes, off + ARP_OP_OFFSET);
}

/** Absolute offset of ar$sha (the sender's 6-byte MAC), for macEquals/copyMac. */
export function arpSenderMacOffset(off: number): number {
  return off + ARP_SHA_OFFSET;
}

/** Absolute offset of ar$tha (the target's 6-byte MAC). */
export function arpTargetMacOffset(off: number): number {
  return off + ARP_THA_OFFSET;
}

/** ar$spa as an unsigned 32-bit number. */
export function arpSenderIp(bytes: Uint8Array, off: number): number {
  return readU32BE(bytes, off + ARP_SPA_OFFSET);
}

/** ar$tpa as an unsigned 32-bit number: the address a request asks about. */
export function arpTargetIp(bytes: Uint8Array, off: number): number {
  return readU32BE(bytes, off + ARP_TPA_OFFSET);
}

/**
 * Turn the request at `off` into its reply, in place, as RFC 826 describes
 * ("swap hardware and protocol fields, putting the local hardware and
 * protocol addresses in the sender fields", then set ar$op to reply):
 * target := old sender, sender := `ourMac` and the address that was asked
 * about. Header type and length fields stay as checkArp() accepted them.
 * The caller decides whether to answer (op is a request, ar$tpa is ours) and
 * rewrites the Ethernet header around it (destination := the requester).
 * Returns ARP_LEN, the reply's length.
 */
export function writeArpReplyInPlace(bytes: Uint8Array, off: number, ourMac: Uint8Array): number {
  const asked = readU32BE(bytes, off + ARP_TPA_OFFSET);
  // Sender fields -> target fields; the two ranges do not overlap.
  for (let i = 0; i < ARP_HLEN_ETHERNET; i++) bytes[off + ARP_THA_OFFSET + i] = bytes[off + ARP_SHA_OFFSET + i]!;
  for (let i = 0; i < ARP_PLEN_IPV4; i++) bytes[off + ARP_TPA_OFFSET + i] = bytes[off + ARP_SPA_OFFSET + i]!;
  for (let i = 0; i < ARP_HLEN_ETHERNET; i++) bytes[off + ARP_SHA_OFFSET + i] = ourMac[i]!;
  writeU32BE(bytes, off + ARP_SPA_OFFSET, asked);
  writeU16BE(bytes, off + ARP_OP_OFFSET, ARP_OP_REPLY);
  return ARP_LEN;
}

/**
 * Write a request "who has `targetIp`? tell `senderIp` at `senderMac`" at
 * `off`. ar$tha is zero: RFC 826 leaves it unspecified in a request, and
 * zero is what RFC 5227 section 2.1.1 asks of probes and what Linux sends.
 * Addresses are unsigned 32-bit
 * numbers. The frame goes to ff:ff:ff:ff:ff:ff (the caller writes that
 * Ethernet header). Returns ARP_LEN.
 */
export function writeArpRequest(bytes: Uint8Array, off: number, senderMac: Uint8Array, senderIp: number, targetIp: number): number {
  writeU16BE(bytes, off + ARP_HTYPE_OFFSET, ARP_HTYPE_ETHERNET);
  writeU16BE(bytes, off + ARP_PTYPE_OFFSET, ARP_PTYPE_IPV4);
  bytes[off + ARP_HLEN_OFFSET] = ARP_HLEN_ETHERNET;
  bytes[off + ARP_PLEN_OFFSET] = ARP_PLEN_IPV4;
  writeU16BE(bytes, off + ARP_OP_OFFSET, ARP_OP_REQUEST);
  for (let i = 0; i < ARP_HLEN_ETHERNET; i++) {
    bytes[off + ARP_SHA_OFFSET + i] = senderMac[i]!;
    bytes[off + ARP_THA_OFFSET + i] = 0;
  }
  writeU32BE(bytes, off + ARP_SPA_OFFSET, senderIp);
  writeU32BE(bytes, off + ARP_TPA_OFFSET, targetIp);
  return ARP_LEN;
}
