/**
 * Integers at an offset in a Uint8Array, in the byte order the name says.
 *
 * Why these and not DataView: a DataView is an object per buffer (one per
 * packet when the packet is a fresh view), while these are straight-line
 * byte loads and stores that V8 inlines, so the per-packet path allocates
 * nothing. Network headers are big-endian (BE); WireGuard's message fields
 * and the virtio-net header are little-endian (LE). The caller has checked the bounds: reads past the
 * end see undefined as 0, writes past the end are dropped, as with any
 * typed array.
 *
 * Reads return unsigned numbers (`| 0` makes an int32 of a 32-bit one);
 * writes take the low 16, 32 or 48 bits of `v`.
 */

/** Big-endian uint16 at bytes[off]. */
export function readU16BE(bytes: Uint8Array, off: number): number {
  return (bytes[off]! << 8) | bytes[off + 1]!;
}

/** Little-endian uint16 at bytes[off]. */
export function readU16LE(bytes: Uint8Array, off: number): number {
  return bytes[off]! | (bytes[off + 1]! << 8);
}

/** Big-endian uint32 at bytes[off]. */
export function readU32BE(bytes: Uint8Array, off: number): number {
  return ((bytes[off]! << 24) | (bytes[off + 1]! << 16) | (bytes[off + 2]! << 8) | bytes[off + 3]!) >>> 0;
}

/** Little-endian uint32 at bytes[off]. */
export function readU32LE(bytes: Uint8Array, off: number): number {
  return (bytes[off]! | (bytes[off + 1]! << 8) | (bytes[off + 2]! << 16) | (bytes[off + 3]! << 24)) >>> 0;
}

/** Big-endian uint48 at bytes[off] (exact: below 2^53). */
export function readU48BE(bytes: Uint8Array, off: number): number {
  return ((bytes[off]! << 8) | bytes[off + 1]!) * 2 ** 32 + readU32BE(bytes, off + 2);
}

/** Big-endian uint16 to bytes[off]. */
export function writeU16BE(bytes: Uint8Array, off: number, v: number): void {
  bytes[off] = (v >>> 8) & 0xff;
  bytes[off + 1] = v & 0xff;
}

/** Little-endian uint16 to bytes[off]. */
export function writeU16LE(bytes: Uint8Array, off: number, v: number): void {
  bytes[off] = v & 0xff;
  bytes[off + 1] = (v >>> 8) & 0xff;
}

/** Big-endian uint32 to bytes[off]. */
export function writeU32BE(bytes: Uint8Array, off: number, v: number): void {
  bytes[off] = (v >>> 24) & 0xff;
  bytes[off + 1] = (v >>> 16) & 0xff;
  bytes[off + 2] = (v >>> 8) & 0xff;
  bytes[off + 3] = v & 0xff;
}

/** Little-endian uint32 to bytes[off]. */
export function writeU32LE(bytes: Uint8Array, off: number, v: number): void {
  bytes[off] = v & 0xff;
  bytes[off + 1] = (v >>> 8) & 0xff;
  bytes[off + 2] = (v >>> 16) & 0xff;
  bytes[off + 3] = (v >>> 24) & 0xff;
}

/** Big-endian uint48 to bytes[off]; `v` is an integer in [0, 2^48). */
export function writeU48BE(bytes: Uint8Array, off: number, v: number): void {
  writeU16BE(bytes, off, Math.floor(v / 2 ** 32));
  writeU32BE(bytes, off + 2, v >>> 0);
}
