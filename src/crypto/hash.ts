/**
 * The hash-based primitives of WireGuard's handshake (whitepaper 5.4):
 *
 *   HASH(input)      BLAKE2s(input, 32)
 *   MAC(key, input)  keyed BLAKE2s(key, input, 16)         (mac1, mac2, cookies)
 *   HMAC(key, input) RFC 2104 HMAC over BLAKE2s-256, block 64 bytes
 *   KDFn(key, input) HKDF (RFC 5869) with salt = key, IKM = input, empty info:
 *                    T0 = HMAC(key, input), Ti = HMAC(T0, T(i-1) || i)
 *
 * BLAKE2s and the HMAC construction come from @noble/hashes: noble's hmac()
 * is generic over any hash with `blockLen`/`outputLen` and hashes keys longer
 * than the block first, which is RFC 2104 exactly; the tests prove it with
 * the RFC 4231 SHA-256 vectors and against an independent HMAC-BLAKE2s.
 * HKDF is written once, generic over the hash, so RFC 5869's SHA-256 vectors
 * test the very code the BLAKE2s KDF runs. Cold path: results are new arrays.
 */
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import type { CHash } from '@noble/hashes/utils.js';
import { WeftError } from '../errors.ts';

export const HASH_LEN = 32;
export const MAC_LEN = 16;
/** BLAKE2s block size, the HMAC pad length. */
export const BLOCK_LEN = 64;

/** A hash function in @noble/hashes' shape (sha256, blake2s, ...). */
export type HashFunction = CHash;

const EMPTY: Uint8Array = new Uint8Array(0);

/** BLAKE2s-256 over the concatenation of `parts` (WireGuard's HASH(a || b) without building a || b). */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Keyed BLAKE2s with a 16-byte output: WireGuard's MAC. The key is 1..32
 * bytes (mac1 uses HASH(LABEL_MAC1 || Spub), mac2 the 16-byte cookie); an
 * empty key means unkeyed BLAKE2s, as RFC 7693 defines kk = 0.
 */
export function mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  if (key.length > HASH_LEN) throw new WeftError('CRYPTO_MISUSE', `BLAKE2s MAC key must be at most ${HASH_LEN} bytes, got ${key.length}`);
  const h = blake2s.create(key.length === 0 ? { dkLen: MAC_LEN } : { dkLen: MAC_LEN, key });
  for (const p of parts) h.update(p);
  return h.digest();
}

/** RFC 2104 HMAC over any hash, message given as parts. */
export function hmacWith(fn: HashFunction, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = nobleHmac.create(fn, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-BLAKE2s-256, WireGuard's HMAC. */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return hmacWith(blake2s, key, ...parts);
}

/** RFC 5869 HKDF-Extract: PRK = HMAC(salt, IKM); an absent salt is HashLen zero bytes. */
export function hkdfExtract(fn: HashFunction, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmacWith(fn, salt.length === 0 ? new Uint8Array(fn.outputLen) : salt, ikm);
}

/**
 * RFC 5869 HKDF-Expand: T(0) = empty, T(i) = HMAC(PRK, T(i-1) || info || i),
 * output = first `length` bytes of T(1) || T(2) || ... (at most 255 blocks).
 */
export function hkdfExpand(fn: HashFunction, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const n = Math.ceil(length / fn.outputLen);
  if (!Number.isInteger(length) || length < 0 || n > 255) {
    throw new WeftError('CRYPTO_MISUSE', `HKDF output length must be 0 ..= ${255 * fn.outputLen}, got ${length}`);
  }
  const out = new Uint8Array(n * fn.outputLen);
  const counter = new Uint8Array(1);
  let prev: Uint8Array = EMPTY;
  for (let i = 1; i <= n; i++) {
    counter[0] = i;
    prev = hmacWith(fn, prk, prev, info, counter);
    out.set(prev, (i - 1) * fn.outputLen);
  }
  prev.fill(0);
  // Return exactly `length` bytes without keeping the surplus key stream reachable.
  if (out.length === length) return out;
  const exact = out.slice(0, length);
  out.fill(0);
  return exact;
}

/** RFC 5869 HKDF: Expand(Extract(salt, ikm), info, length). */
export function hkdf(fn: HashFunction, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const prk = hkdfExtract(fn, salt, ikm);
  const out = hkdfExpand(fn, prk, info, length);
  prk.fill(0);
  return out;
}

/** WireGuard's KDFn: n 32-byte outputs of HKDF-BLAKE2s with salt = key (the chaining key) and IKM = input. */
function kdf(key: Uint8Array, input: Uint8Array, n: number): Uint8Array[] {
  const okm = hkdf(blake2s, input, key, EMPTY, n * HASH_LEN);
  const outs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) outs.push(okm.slice(i * HASH_LEN, (i + 1) * HASH_LEN));
  okm.fill(0);
  return outs;
}

export function kdf1(key: Uint8Array, input: Uint8Array): Uint8Array {
  return kdf(key, input, 1)[0]!;
}

export function kdf2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const [t1, t2] = kdf(key, input, 2);
  return [t1!, t2!];
}

export function kdf3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const [t1, t2, t3] = kdf(key, input, 3);
  return [t1!, t2!, t3!];
}
