/**
 * The Internet checksum (RFC 1071) at memory speed, for segmentation and
 * coalescing, which sum every payload byte of every TCP segment.
 *
 * The sum runs over aligned 32-bit words read through a Uint32Array view of
 * the packet's ArrayBuffer. The host is little-endian, so each word holds
 * two byte-swapped 16-bit words; RFC 1071 §2(B) says the ones' complement
 * sum is byte-order independent up to a final swap, so the words are added
 * as they are and the folded result is swapped once at the end. Words are
 * accumulated in a plain JS number (a double): exact up to 2^53, that is
 * 2^21 words (8 MiB) before a fold is needed, so the inner loop has no carry
 * handling at all. Bytes before the first aligned word and after the last
 * are added one by one, high or low by their distance from the start.
 *
 * The word views come cached from src/bytes/copy.ts (wordsFor), so a call
 * allocates nothing.
 */
import { copyBytes, foundOffset, wordsFor } from '../bytes/copy.ts';
import { IPV4_SRC_OFFSET, IPV6_SRC_OFFSET } from '../wire/ip.ts';

/** Below this many bytes the byte loop wins over finding a view. */
const SMALL = 32;
/** Words summed between folds: far below 2^53 / 2^32, so the sum stays exact. */
const CHUNK_WORDS = 1 << 20;

/**
 * Fold a non-negative sum below 2^53 to 16 bits with end-around carry (0
 * stays 0, never becomes 0xffff). Above 2^31 the high part is split off by
 * an exact division by 2^16, not `%` (a float modulo is a slow call).
 */
export function fold(x: number): number {
  if (x > 0x7fffffff) {
    let hi = Math.floor(x / 0x10000);
    x = x - hi * 0x10000 + hi; // < 2^37 + 2^16
    hi = Math.floor(x / 0x10000);
    x = x - hi * 0x10000 + hi; // < 2^21 + 2^16
  }
  x = (x & 0xffff) + (x >>> 16);
  return (x & 0xffff) + (x >>> 16);
}

/** Swap the two bytes of a 16-bit value. */
function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/** Sum of whole 32-bit words [w, w+n) as stored (little-endian), folded to 16 bits. */
function sumWords(words: Uint32Array, w: number, n: number): number {
  if (n > CHUNK_WORDS) return sumWordsChunked(words, w, n);
  const end = w + n;
  let s = 0;
  for (; w + 8 <= end; w += 8) {
    s += words[w]! + words[w + 1]! + words[w + 2]! + words[w + 3]! + words[w + 4]! + words[w + 5]! + words[w + 6]! + words[w + 7]!;
  }
  for (; w < end; w++) s += words[w]!;
  return fold(s);
}

/** Runs past 8 MiB: fold every CHUNK_WORDS so the double stays exact. Kept apart so the common loop has no chunking. */
function sumWordsChunked(words: Uint32Array, w: number, n: number): number {
  let total = 0;
  while (n > 0) {
    const take = n < CHUNK_WORDS ? n : CHUNK_WORDS;
    total += sumWords(words, w, take);
    w += take;
    n -= take;
  }
  return fold(total);
}

/** Byte loop: big-endian 16-bit words from `off`, an odd last byte padded with zero. Unfolded. */
function sumBytes(bytes: Uint8Array, off: number, len: number): number {
  let s = 0;
  const end = off + (len & ~1);
  let i = off;
  for (; i < end; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  if (len & 1) s += bytes[i]! << 8;
  return s;
}

/**
 * The ones' complement sum of `len` bytes at `off` as big-endian 16-bit
 * words (an odd last byte padded with zero), plus `initial`, folded to 16
 * bits and NOT complemented: `~onesSum(...) & 0xffff` is the Internet
 * checksum. `initial` may be any partial sum below 2^52.
 */
export function onesSum(bytes: Uint8Array, off: number, len: number, initial: number): number {
  if (len < SMALL) return fold(initial + sumBytes(bytes, off, len));
  const words = wordsFor(bytes);
  const abs = foundOffset + off;
  // Bytes before the first 32-bit boundary.
  const head = (4 - (abs & 3)) & 3;
  let s = initial;
  for (let j = 0; j < head; j++) s += (j & 1) === 0 ? bytes[off + j]! << 8 : bytes[off + j]!;
  const n = (len - head) >>> 2;
  const mid = sumWords(words, (abs + head) >>> 2, n);
  // Little-endian words pair each byte with its neighbour the wrong way round
  // when the words start an even distance from `off`; at an odd distance the
  // pairing is shifted by one byte and the order comes out right.
  s += (head & 1) === 0 ? swap16(mid) : mid;
  for (let j = head + (n << 2); j < len; j++) s += (j & 1) === 0 ? bytes[off + j]! << 8 : bytes[off + j]!;
  return fold(s);
}

/**
 * Copy `len` bytes and return their sum as onesSum(dst, dstOff, len, 0)
 * would: one pass instead of two (segmentation copies every payload byte
 * and must checksum it too). Word-at-a-time when source and destination
 * are aligned alike (mod 4) in different buffers; otherwise a copy
 * (memmove within one buffer) and a separate sum. The ranges must not overlap.
 */
export function copyWithSum(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): number {
  if (len < SMALL) {
    copyBytes(src, srcOff, dst, dstOff, len);
    return onesSum(dst, dstOff, len, 0);
  }
  const sw = wordsFor(src);
  const sAbs = foundOffset + srcOff;
  const dw = wordsFor(dst);
  const dAbs = foundOffset + dstOff;
  // One buffer (the ring's staging area to a slot): a native memmove and a
  // separate sum beat the combined JavaScript loop (npm run bench:offload:
  // 318 against 414 ns per 1448-byte TSO segment). Different alignments: no word loop.
  if (sw === dw || ((sAbs ^ dAbs) & 3) !== 0) {
    copyBytes(src, srcOff, dst, dstOff, len);
    return onesSum(dst, dstOff, len, 0);
  }
  const head = (4 - (sAbs & 3)) & 3;
  let s = 0;
  for (let j = 0; j < head; j++) {
    const b = src[srcOff + j]!;
    dst[dstOff + j] = b;
    s += (j & 1) === 0 ? b << 8 : b;
  }
  const n = (len - head) >>> 2;
  let i = (sAbs + head) >>> 2;
  let o = (dAbs + head) >>> 2;
  let mid = 0;
  let left = n;
  while (left > 0) {
    const take = left < CHUNK_WORDS ? left : CHUNK_WORDS;
    const end = i + take;
    let acc = 0;
    for (; i + 4 <= end; i += 4, o += 4) {
      const a = sw[i]!;
      const b = sw[i + 1]!;
      const c = sw[i + 2]!;
      const d = sw[i + 3]!;
      dw[o] = a;
      dw[o + 1] = b;
      dw[o + 2] = c;
      dw[o + 3] = d;
      acc += a + b + c + d;
    }
    for (; i < end; i++, o++) {
      const a = sw[i]!;
      dw[o] = a;
      acc += a;
    }
    mid += fold(acc);
    left -= take;
  }
  mid = fold(mid);
  s += (head & 1) === 0 ? swap16(mid) : mid;
  for (let j = head + (n << 2); j < len; j++) {
    const b = src[srcOff + j]!;
    dst[dstOff + j] = b;
    s += (j & 1) === 0 ? b << 8 : b;
  }
  return fold(s);
}


/**
 * The TCP/UDP pseudo-header (RFC 9293 §3.1, RFC 768; RFC 8200 §8.1 for
 * IPv6) for the IP header at `ipOff`: source and destination addresses,
 * protocol and the L4 length, summed and folded, NOT complemented.
 */
export function pseudoHeaderSum(bytes: Uint8Array, ipOff: number, version: 4 | 6, protocol: number, l4Length: number): number {
  let s = protocol + (l4Length >>> 16) + (l4Length & 0xffff);
  const start = ipOff + (version === 4 ? IPV4_SRC_OFFSET : IPV6_SRC_OFFSET);
  const end = start + (version === 4 ? 8 : 32);
  for (let i = start; i < end; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  return fold(s);
}
