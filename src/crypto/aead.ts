/**
 * ChaCha20-Poly1305 (RFC 8439, IETF variant: 96-bit nonce, 16-byte tag) as
 * WireGuard uses it.
 *
 * Two families:
 *  - in place over ring memory, for transport data (hot path): the ciphertext
 *    overwrites the plaintext and the tag lands in the tailroom right behind
 *    it; the 64-bit counter arrives as two uint32 halves, so no bigint and no
 *    nonce per packet. OpenSSL through the addon does these when it can,
 *    libsodium otherwise (aead-backend.ts says why and how it is chosen);
 *  - aeadSeal/aeadOpen returning new arrays, and the in-place calls with
 *    associated data, for the handshake (cold path): always libsodium.
 *
 * WireGuard's nonce (whitepaper 5.4.6) is 32 zero bits followed by the
 * counter as 64-bit little-endian: bytes 0..3 = 0, 4..7 = counter low half,
 * 8..11 = counter high half.
 *
 * Why sodium-native's binding and not its documented wrappers: the wrapper
 * for decrypt throws an Error on a bad tag, and a forged packet must cost a
 * comparison, not a stack trace (hot-path rule 3). The raw binding returns -1
 * instead. The binding checks sizes only with C asserts, so every length
 * and bound is checked here before the call. It must never receive `null`
 * for the associated data (it dereferences it; measured: segfault), only
 * `undefined` or an array, which the types below enforce.
 *
 * Views (libsodium only; the addon takes an offset and a length):
 * libsodium takes a typed array and uses its whole length, and
 * sodium-native has no (buffer, offset, length) variant of the AEAD calls
 * (only generichash, stream_xor, secretstream, sign_verify_detached and
 * randombytes take offsets). So one view of exactly the packet is needed per
 * call. Detached mode keeps it to one view (ciphertext and plaintext are the
 * same view; the tag goes through a 16-byte module scratch), and AeadViews
 * caches that view per ring slot so a steady stream of same-sized packets
 * allocates nothing. bench/crypto/aead-bench.ts measures both.
 */
import { WeftError } from '../errors.ts';
import { chooseAeadBackend, describeAeadBackend } from './aead-backend.ts';
import type { AeadBackendChoice, AeadBackendName } from './aead-backend.ts';
import { sodiumBinding } from './sodium.ts';

export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const NONCE_LEN = 12;
/** The largest counter WireGuard's 64-bit nonce field can carry. */
export const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;

/** The slice of sodium-native's native binding used here (sizes unchecked in C). */
interface SodiumAeadBinding {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    c: Uint8Array,
    mac: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | undefined,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    m: Uint8Array,
    c: Uint8Array,
    mac: Uint8Array,
    ad: Uint8Array | undefined,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
}

const sodium = sodiumBinding<SodiumAeadBinding>(['crypto_aead_chacha20poly1305_ietf_encrypt_detached', 'crypto_aead_chacha20poly1305_ietf_decrypt_detached']);

// Module-level scratch, reused by every call: JavaScript runs one call at a
// time and libsodium returns before the next, so sharing is safe.
const nonce = new Uint8Array(NONCE_LEN);
const nonceView = new DataView(nonce.buffer);
const tag = new Uint8Array(TAG_LEN);

/** Bytes 0..3 stay zero forever; write the counter halves little-endian. */
function setCounter(lo: number, hi: number): void {
  nonceView.setUint32(4, lo, true);
  nonceView.setUint32(8, hi, true);
}

// The transport data's backend: OpenSSL when it is there; `weft up` applies WEFT_AEAD.
let backend: AeadBackendChoice = chooseAeadBackend(undefined);

/** Which implementation seals and opens transport data, for status: "ChaCha20-Poly1305 by OpenSSL 3.0.19". */
export function transportAeadDescription(): string {
  return describeAeadBackend(backend);
}

/** The transport data's backend's name. */
export function transportAeadBackend(): AeadBackendName {
  return backend.name;
}

/**
 * Switch the transport data's backend: `openssl`, `libsodium`, or
 * undefined for OpenSSL when it is there (WEFT_AEAD's values; tests and
 * benchmarks compare the two). Throws CONFIG_INVALID for another value and
 * CRYPTO_UNAVAILABLE for OpenSSL where it cannot be used.
 */
export function useTransportAead(wanted: string | undefined): void {
  backend = chooseAeadBackend(wanted);
}

function isU32(n: number): boolean {
  return n >>> 0 === n;
}

function misuse(what: string): never {
  throw new WeftError('CRYPTO_MISUSE', what);
}

/**
 * Reusable packet views, two per ring slot. A hit needs the same byte offset
 * and length as one of the slot's two previous views; otherwise a new view
 * is made and replaces the older of the two (a miss costs what the uncached
 * path costs). Two, because a slot alternates between a few shapes: bulk
 * data segments are padded to one size, but the same slot also carries
 * short packets (ACKs, the last segment of a TCP super-packet), and with one
 * entry each change of shape allocated. Lengths here are plaintext lengths
 * for both seal and open, so a slot that decrypts a packet and later
 * encrypts one of the same size at the same offset hits too.
 */
export class AeadViews {
  readonly bytes: Uint8Array;
  hits = 0;
  misses = 0;
  private readonly views: Uint8Array[];
  /** Per slot: which of its two entries the next miss replaces. */
  private readonly older: Uint8Array;

  /** `bytes` is the memory every packet lives in (PacketRing.bytes); one entry pair per slot. */
  constructor(bytes: Uint8Array, slots: number) {
    if (!Number.isInteger(slots) || slots < 1) misuse(`AeadViews needs a positive slot count, got ${slots}`);
    this.bytes = bytes;
    // Start every entry as an empty view of the same memory, so entries are
    // never undefined for in-range slots and the array stays packed.
    const empty = bytes.subarray(0, 0);
    this.views = Array.from({ length: 2 * slots }, () => empty);
    this.older = new Uint8Array(slots);
  }

  /** A view of bytes[off, off+len), reused when one of the slot's last two views was the same. */
  view(slot: number, off: number, len: number): Uint8Array {
    const at = this.bytes.byteOffset + off;
    const i = 2 * slot;
    const a = this.views[i];
    if (a !== undefined && a.byteOffset === at && a.length === len) {
      this.hits++;
      return a;
    }
    const b = this.views[i + 1];
    if (b !== undefined && b.byteOffset === at && b.length === len) {
      this.hits++;
      return b;
    }
    this.misses++;
    const fresh = this.bytes.subarray(off, off + len);
    if (a !== undefined) {
      const k = this.older[slot]!;
      this.views[i + k] = fresh;
      this.older[slot] = k ^ 1;
    }
    return fresh;
  }
}

function packetView(buf: Uint8Array, off: number, len: number, views: AeadViews | undefined, slot: number): Uint8Array {
  return views !== undefined && views.bytes === buf ? views.view(slot, off, len) : buf.subarray(off, off + len);
}

function sealCore(buf: Uint8Array, off: number, len: number, key: Uint8Array, m: Uint8Array, ad: Uint8Array | undefined): number {
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(m, tag, m, ad, nonce, key);
  buf.set(tag, off + len);
  return len + TAG_LEN;
}

function openCore(buf: Uint8Array, off: number, mlen: number, key: Uint8Array, m: Uint8Array, ad: Uint8Array | undefined): number {
  const t = off + mlen;
  for (let i = 0; i < TAG_LEN; i++) tag[i] = buf[t + i]!;
  // libsodium verifies the tag before it decrypts; on failure it zeroes the
  // output, which here is the ciphertext: a rejected packet is dropped, and
  // no unauthenticated bytes are left looking like plaintext.
  return sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(m, m, tag, ad, nonce, key) === 0 ? mlen : -1;
}

/**
 * Encrypt buf[off, off+len) in place with WireGuard's nonce for the counter
 * (counterLo + counterHi * 2^32, each half taken modulo 2^32) and write the
 * tag at buf[off+len, off+len+16). Returns len + 16. The caller guarantees
 * the tailroom; bad bounds or a key that is not 32 bytes are programming
 * errors and throw CRYPTO_MISUSE. Pass `views` and `slot` to reuse the
 * slot's packet view instead of making one.
 */
export function sealInPlace(
  buf: Uint8Array,
  off: number,
  len: number,
  key: Uint8Array,
  counterLo: number,
  counterHi: number,
  views?: AeadViews,
  slot = 0,
): number {
  return sealChecked('sealInPlace', buf, off, len, key, counterLo, counterHi, views, slot, undefined);
}

/**
 * Authenticate and decrypt buf[off, off+len) (ciphertext then 16-byte tag) in
 * place. Returns the plaintext length (len - 16), or -1 when the packet is
 * too short, out of bounds or fails authentication; wire input never throws.
 * After a failed authentication buf[off, off+len-16) is zeroed (libsodium
 * clears its output); the packet is meant to be dropped.
 * A key that is not 32 bytes is a programming error and throws.
 */
export function openInPlace(
  buf: Uint8Array,
  off: number,
  len: number,
  key: Uint8Array,
  counterLo: number,
  counterHi: number,
  views?: AeadViews,
  slot = 0,
): number {
  return openChecked(buf, off, len, key, counterLo, counterHi, views, slot, undefined);
}

/** sealInPlace with associated data (handshake fields sealed inside a message buffer). */
export function sealInPlaceAd(buf: Uint8Array, off: number, len: number, key: Uint8Array, counterLo: number, counterHi: number, ad: Uint8Array): number {
  return sealChecked('sealInPlaceAd', buf, off, len, key, counterLo, counterHi, undefined, 0, ad);
}

/** openInPlace with associated data; -1 on any failure, never throws on input. */
export function openInPlaceAd(buf: Uint8Array, off: number, len: number, key: Uint8Array, counterLo: number, counterHi: number, ad: Uint8Array): number {
  return openChecked(buf, off, len, key, counterLo, counterHi, undefined, 0, ad);
}

/** Bounds and key checks shared by both seals: a bad call is a programming error. */
function sealChecked(
  what: string,
  buf: Uint8Array,
  off: number,
  len: number,
  key: Uint8Array,
  counterLo: number,
  counterHi: number,
  views: AeadViews | undefined,
  slot: number,
  ad: Uint8Array | undefined,
): number {
  if (!isU32(off) || !isU32(len) || off + len + TAG_LEN > buf.length) {
    misuse(`${what}(off ${off}, len ${len}) needs ${TAG_LEN} bytes of tailroom inside a buffer of ${buf.length}`);
  }
  if (key.length !== KEY_LEN) misuse(`AEAD key must be ${KEY_LEN} bytes, got ${key.length}`);
  const native = backend.native;
  if (native !== undefined && ad === undefined) {
    const sealed = native.aeadSeal(buf, off, len, key, counterLo >>> 0, counterHi >>> 0);
    if (sealed < 0) misuse(`${what}: OpenSSL failed to seal (${sealed})`);
    return sealed;
  }
  setCounter(counterLo, counterHi);
  return sealCore(buf, off, len, key, packetView(buf, off, len, views, slot), ad);
}

/** Checks shared by both opens: bad bounds are input (-1); a bad key is a programming error. */
function openChecked(
  buf: Uint8Array,
  off: number,
  len: number,
  key: Uint8Array,
  counterLo: number,
  counterHi: number,
  views: AeadViews | undefined,
  slot: number,
  ad: Uint8Array | undefined,
): number {
  if (!isU32(off) || !isU32(len) || len < TAG_LEN || off + len > buf.length) return -1;
  if (key.length !== KEY_LEN) misuse(`AEAD key must be ${KEY_LEN} bytes, got ${key.length}`);
  // OpenSSL returns -1 for a forged packet, as libsodium does, and zeroes it.
  const native = backend.native;
  if (native !== undefined && ad === undefined) return native.aeadOpen(buf, off, len, key, counterLo >>> 0, counterHi >>> 0);
  setCounter(counterLo, counterHi);
  const mlen = len - TAG_LEN;
  return openCore(buf, off, mlen, key, packetView(buf, off, mlen, views, slot), ad);
}

/**
 * WireGuard's 12-byte nonce for a counter: 4 zero bytes, then the counter as
 * 64-bit little-endian. Cold path (bigint); throws CRYPTO_MISUSE outside
 * 0 ..= 2^64-1.
 */
export function nonceFromCounter(counter: bigint, out: Uint8Array = new Uint8Array(NONCE_LEN)): Uint8Array {
  if (counter < 0n || counter > MAX_COUNTER) misuse(`AEAD counter must be in 0 ..= 2^64-1, got ${counter}`);
  if (out.length !== NONCE_LEN) misuse(`nonce buffer must be ${NONCE_LEN} bytes, got ${out.length}`);
  const v = new DataView(out.buffer, out.byteOffset, NONCE_LEN);
  v.setUint32(0, 0, true);
  v.setBigUint64(4, counter, true);
  return out;
}

/** The low and high uint32 halves of a counter, for the in-place calls. */
export function counterHalves(counter: bigint): [lo: number, hi: number] {
  if (counter < 0n || counter > MAX_COUNTER) misuse(`AEAD counter must be in 0 ..= 2^64-1, got ${counter}`);
  return [Number(counter & 0xffff_ffffn), Number(counter >> 32n)];
}

/** A bigint counter becomes WireGuard's nonce; a 12-byte array is used as the nonce as is (RFC 8439 vectors). */
function nonceOf(n: bigint | Uint8Array): Uint8Array {
  if (typeof n === 'bigint') return nonceFromCounter(n);
  if (n.length !== NONCE_LEN) misuse(`AEAD nonce must be ${NONCE_LEN} bytes, got ${n.length}`);
  return n;
}

/**
 * Seal into a new array: ciphertext || tag. `nonce` is a counter (WireGuard
 * layout) or a raw 12-byte nonce. Cold path: the handshake.
 */
export function aeadSeal(key: Uint8Array, nonce: bigint | Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array {
  if (key.length !== KEY_LEN) misuse(`AEAD key must be ${KEY_LEN} bytes, got ${key.length}`);
  const npub = nonceOf(nonce);
  const out = new Uint8Array(plaintext.length + TAG_LEN);
  out.set(plaintext);
  const m = out.subarray(0, plaintext.length);
  const mac = out.subarray(plaintext.length);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(m, mac, m, ad, npub, key);
  return out;
}

/** Open into a new array; null when the input is shorter than a tag or fails authentication. */
export function aeadOpen(key: Uint8Array, nonce: bigint | Uint8Array, ciphertext: Uint8Array, ad?: Uint8Array): Uint8Array | null {
  if (key.length !== KEY_LEN) misuse(`AEAD key must be ${KEY_LEN} bytes, got ${key.length}`);
  const npub = nonceOf(nonce);
  if (ciphertext.length < TAG_LEN) return null;
  const mlen = ciphertext.length - TAG_LEN;
  const out = ciphertext.slice(0, mlen);
  const mac = ciphertext.slice(mlen);
  if (sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, out, mac, ad, npub, key) !== 0) return null;
  return out;
}
