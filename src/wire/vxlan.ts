/**
 * The VXLAN header (RFC 7348 section 5). On the wire a VXLAN packet is
 * outer IP | UDP | VXLAN header (8 bytes) | inner Ethernet frame. The header,
 * exactly as the RFC's figure draws it:
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |R|R|R|R|I|R|R|R|            Reserved                           |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                VXLAN Network Identifier (VNI) |   Reserved    |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * byte 0 flags (I = 0x08), bytes 1-3 reserved, bytes 4-6 the 24-bit VNI,
 * byte 7 reserved.
 *
 * Hot path rules: absolute offsets into the ring's bytes, numbers out, no
 * allocation, no exceptions.
 */

export const VXLAN_HEADER_LEN = 8;

/** The I flag: "MUST be set to 1 for a valid VXLAN Network ID" (section 5). */
export const VXLAN_FLAG_I = 0x08;

/**
 * Linux's vxlan driver and Flannel default to 8472, the port Linux chose
 * before IANA assigned one; weft defaults to it to interoperate with Flannel.
 */
export const VXLAN_PORT_LINUX_FLANNEL = 8472;
/** The IANA-assigned port (RFC 7348 section 5, "Destination Port"). */
export const VXLAN_PORT_IANA = 4789;
/** Flannel's default VNI. */
export const VXLAN_DEFAULT_VNI = 1;
/** The VNI is 24 bits wide. */
export const VXLAN_MAX_VNI = 0xffffff;

// Field offsets from the start of the VXLAN header.
export const VXLAN_FLAGS_OFFSET = 0;
export const VXLAN_VNI_OFFSET = 4;

const OUTER_IPV4_LEN = 20;
const OUTER_IPV6_LEN = 40;
const OUTER_UDP_LEN = 8;
const INNER_ETH_LEN = 14;

/** Bytes VXLAN adds around an inner IP packet: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD_IPV4 = OUTER_IPV4_LEN + OUTER_UDP_LEN + VXLAN_HEADER_LEN + INNER_ETH_LEN;
/** The same over an IPv6 underlay: outer IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD_IPV6 = OUTER_IPV6_LEN + OUTER_UDP_LEN + VXLAN_HEADER_LEN + INNER_ETH_LEN;

/** What checkVxlanHeader found. `Ok` is 0 so that `if (verdict)` reads as "bad". */
export const VxlanVerdict = {
  Ok: 0,
  /** Fewer than VXLAN_HEADER_LEN bytes. */
  Short: 1,
  /** The I flag is clear: the VNI field is not valid. */
  BadFlags: 2,
} as const;
export type VxlanVerdict = (typeof VxlanVerdict)[keyof typeof VxlanVerdict];

export const VXLAN_VERDICT_NAMES: readonly string[] = ['ok', 'short', 'bad_flags'];

/**
 * Write the header for `vni` at `off`: flags 0x08 and every reserved bit
 * zero, as section 5 requires of senders (and as Linux requires of what it
 * receives, see checkVxlanHeader). `vni` must be 0..VXLAN_MAX_VNI; it is
 * masked to 24 bits. Returns the offset of the inner frame.
 */
export function writeVxlanHeader(bytes: Uint8Array, off: number, vni: number): number {
  bytes[off] = VXLAN_FLAG_I;
  bytes[off + 1] = 0;
  bytes[off + 2] = 0;
  bytes[off + 3] = 0;
  bytes[off + VXLAN_VNI_OFFSET] = (vni >>> 16) & 0xff;
  bytes[off + VXLAN_VNI_OFFSET + 1] = (vni >>> 8) & 0xff;
  bytes[off + VXLAN_VNI_OFFSET + 2] = vni & 0xff;
  bytes[off + 7] = 0;
  return off + VXLAN_HEADER_LEN;
}

/**
 * Check the header of a received VXLAN payload (`len` bytes at `off`, the
 * UDP payload). Only the I flag is checked. RFC 7348 section 5 says the
 * reserved flag bits and the reserved fields "MUST be set to zero on
 * transmission and ignored on receipt", and weft follows the RFC.
 *
 * Linux's vxlan driver is stricter on purpose: it drops any frame with a
 * reserved bit set that no enabled extension (GBP, GPE, remote checksum
 * offload) claims, a documented divergence from the RFC kept so that future
 * extensions cannot be misread (newer kernels make the set of reserved bits
 * configurable, but the default still drops). So frames weft sends must have
 * every reserved bit zero (writeVxlanHeader does that), while frames weft
 * receives may carry such bits from other implementations and are accepted.
 * The VNI itself is compared against the configured one by the backend.
 */
export function checkVxlanHeader(bytes: Uint8Array, off: number, len: number): VxlanVerdict {
  if (len < VXLAN_HEADER_LEN || off + VXLAN_HEADER_LEN > bytes.length) return VxlanVerdict.Short;
  if ((bytes[off + VXLAN_FLAGS_OFFSET]! & VXLAN_FLAG_I) === 0) return VxlanVerdict.BadFlags;
  return VxlanVerdict.Ok;
}

/** The 24-bit VNI of the header at `off`. */
export function readVni(bytes: Uint8Array, off: number): number {
  const at = off + VXLAN_VNI_OFFSET;
  return (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
}

/**
 * Remote checksum offload (RCO; draft-herbert-vxlan-rco-00, Linux's
 * `remcsumtx`/`remcsumrx`): a reserved flag bit says the inner frame's
 * TCP or UDP checksum was left partial (its field holds the pseudo-header
 * sum), and the reserved byte behind the VNI says where the sum starts and
 * which field it goes in, so the receiver finishes it from the outer UDP
 * checksum (or, as weft does, hands it on partial to its TUN device).
 *   byte 1, 0x20: the R flag (bit 10 of the header; Linux's VXLAN_HF_RCO)
 *   byte 7, low 7 bits: checksum start / 2, in bytes from the inner Ethernet header
 *   byte 7, 0x80: the field is UDP's (start + 6); clear, TCP's (start + 16)
 */
export const VXLAN_FLAG_RCO = 0x20;
const RCO_FLAG_OFFSET = 1;
const RCO_DATA_OFFSET = 7;
const RCO_UDP = 0x80;
const RCO_START_MASK = 0x7f;
/** The largest start RCO can say: 127 two-byte units from the inner Ethernet header. */
export const VXLAN_RCO_MAX_START = RCO_START_MASK << 1;

/** Mark the header at `off` (written by writeVxlanHeader) as RCO for a TCP checksum summed from `start` (even, at most VXLAN_RCO_MAX_START). */
export function writeVxlanRcoTcp(bytes: Uint8Array, off: number, start: number): void {
  bytes[off + RCO_FLAG_OFFSET] = bytes[off + RCO_FLAG_OFFSET]! | VXLAN_FLAG_RCO;
  bytes[off + RCO_DATA_OFFSET] = (start >>> 1) & RCO_START_MASK;
}

/** The RCO checksum start (bytes from the inner Ethernet header) of the header at `off`, or -1 when RCO is not set. */
export function readRcoStart(bytes: Uint8Array, off: number): number {
  if ((bytes[off + RCO_FLAG_OFFSET]! & VXLAN_FLAG_RCO) === 0) return -1;
  return (bytes[off + RCO_DATA_OFFSET]! & RCO_START_MASK) << 1;
}

/** Where, from the checksum start, the RCO header at `off` says the field is: UDP's 6 or TCP's 16. */
export function readRcoFieldOffset(bytes: Uint8Array, off: number): number {
  return (bytes[off + RCO_DATA_OFFSET]! & RCO_UDP) !== 0 ? 6 : 16;
}
