/**
 * Copying bytes between Uint8Arrays without making a view per call, and the
 * cached 32-bit word views that copy (and the checksum in src/offload) run over.
 *
 * Views are made once per ArrayBuffer and cached (two recent arrays, then a
 * WeakMap by buffer), so a call allocates nothing.
 */

/** Below this many bytes the byte loop wins over finding a view. */
const SMALL = 32;

const EMPTY_WORDS = new Uint32Array(0);
const views = new WeakMap<ArrayBufferLike, Uint32Array>();
// The cache is keyed by the Uint8Array itself, not its buffer: `.buffer` is
// a builtin call (about 13 ns, measured) and the callers pass the same few
// arrays (the ring's bytes, a staging buffer) every time. Two entries keep
// segmentation's source and destination both hot (and alive: both are
// long-lived in weft).
let arrA: Uint8Array | null = null;
let wordsA: Uint32Array = EMPTY_WORDS;
let offA = 0;
let arrB: Uint8Array | null = null;
let wordsB: Uint32Array = EMPTY_WORDS;
let offB = 0;
/** The byteOffset of the array wordsFor() was last asked about (a second return value, without an object). */
export let foundOffset = 0;

/** A Uint32Array over all of `buffer` (its length rounded down to words), made once per buffer. */
export function wordsOf(buffer: ArrayBufferLike): Uint32Array {
  let w = views.get(buffer);
  if (w === undefined || w.length !== buffer.byteLength >>> 2) {
    w = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    views.set(buffer, w);
  }
  return w;
}

/** The words over `bytes`'s buffer; sets foundOffset to bytes.byteOffset. */
export function wordsFor(bytes: Uint8Array): Uint32Array {
  if (bytes === arrA) {
    foundOffset = offA;
    return wordsA;
  }
  if (bytes === arrB) {
    foundOffset = offB;
    return wordsB;
  }
  arrB = arrA;
  wordsB = wordsA;
  offB = offA;
  arrA = bytes;
  wordsA = wordsOf(bytes.buffer);
  offA = bytes.byteOffset;
  foundOffset = offA;
  return wordsA;
}

/**
 * Copy `len` bytes without making a view (subarray() allocates): a native
 * memmove when both lie in one buffer, 32-bit words when aligned alike
 * (mod 4), else bytes (callers place packets so that long copies are
 * aligned). Ranges in different buffers cannot overlap; within one buffer
 * copyWithin handles overlap from SMALL (32) bytes up; shorter ranges must
 * not overlap (the byte loop runs forward).
 */
export function copyBytes(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  let j = 0;
  if (len >= SMALL) {
    const sw = wordsFor(src);
    const sAbs = foundOffset + srcOff;
    const dw = wordsFor(dst);
    const dAbs = foundOffset + dstOff;
    if (sw === dw) {
      // One buffer: a native memmove, if the source lies inside dst's view.
      const from = sAbs - (dAbs - dstOff);
      if (from >= 0 && from + len <= dst.length) {
        dst.copyWithin(dstOff, from, from + len);
        return;
      }
    }
    if (((sAbs ^ dAbs) & 3) !== 0) {
      for (; j < len; j++) dst[dstOff + j] = src[srcOff + j]!;
      return;
    }
    const head = (4 - (sAbs & 3)) & 3;
    for (; j < head; j++) dst[dstOff + j] = src[srcOff + j]!;
    let i = (sAbs + head) >>> 2;
    let o = (dAbs + head) >>> 2;
    const end = i + ((len - head) >>> 2);
    for (; i + 4 <= end; i += 4, o += 4) {
      dw[o] = sw[i]!;
      dw[o + 1] = sw[i + 1]!;
      dw[o + 2] = sw[i + 2]!;
      dw[o + 3] = sw[i + 3]!;
    }
    for (; i < end; i++, o++) dw[o] = sw[i]!;
    j = head + (((len - head) >>> 2) << 2);
  }
  for (; j < len; j++) dst[dstOff + j] = src[srcOff + j]!;
}
