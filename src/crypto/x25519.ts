/**
 * X25519 (RFC 7748) for WireGuard's static and ephemeral keys, on libsodium
 * through sodium-native's binding (crypto_scalarmult, crypto_scalarmult_base).
 *
 * Why libsodium and not @noble/curves (which this file used first): measured
 * with bench/crypto/aead-bench.ts, noble's pure-JS ladder took about 1 ms per
 * shared secret against about 35 us for crypto_scalarmult. A handshake costs
 * each responder four DH operations before it can even tell a genuine
 * initiation from a flood (the static decryption needs two), so the 30x is
 * the difference between a responder that sheds load at a few hundred
 * initiations per second and one that copes with thousands. sodium-native is
 * already loaded for the AEADs; one implementation is kept, not two.
 *
 * WireGuard (whitepaper 5.4, DH) rejects a shared secret of all zeros: it is
 * what any low-order public key yields, and accepting it would let a peer
 * force a known secret. libsodium returns -1 for such input (a small-order
 * point, or an all-zero result); sharedSecret turns that into null and also
 * checks the output itself, so the rule holds whatever the library does.
 *
 * Like aead.ts this calls the binding, not sodium-native's wrappers: the
 * wrapper throws on -1, and hostile input must cost a comparison, not a
 * stack trace. The binding checks sizes only with C asserts (an abort, not
 * an exception), so every length is checked here first.
 */
import { randomFillSync } from 'node:crypto';
import { WeftError } from '../errors.ts';
import { sodiumBinding } from './sodium.ts';

export const X25519_KEY_LEN = 32;

interface SodiumScalarmultBinding {
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): number;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): number;
}

const sodium = sodiumBinding<SodiumScalarmultBinding>(['crypto_scalarmult', 'crypto_scalarmult_base']);

function checkLen(bytes: Uint8Array, what: string): void {
  if (bytes.length !== X25519_KEY_LEN) {
    throw new WeftError('CRYPTO_MISUSE', `X25519 ${what} must be ${X25519_KEY_LEN} bytes, got ${bytes.length}`);
  }
}

/**
 * Clamp a private key in place as RFC 7748 section 5 decodes scalars: clear
 * the low 3 bits (a multiple of the cofactor 8, so small-subgroup components
 * vanish), clear bit 255 and set bit 254 (a fixed-length ladder). X25519
 * clamps anyway; storing the clamped form matches `wg genkey` byte for byte.
 */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  checkLen(key, 'private key');
  key[0] = key[0]! & 248;
  key[31] = (key[31]! & 127) | 64;
  return key;
}

/** 32 bytes from the OS CSPRNG, clamped. */
export function generatePrivateKey(): Uint8Array {
  const key = new Uint8Array(X25519_KEY_LEN);
  randomFillSync(key);
  return clampPrivateKey(key);
}

/** X25519(priv, 9): the public key of a private key (clamped or not; X25519 clamps). */
export function publicKey(priv: Uint8Array): Uint8Array {
  checkLen(priv, 'private key');
  const out = new Uint8Array(X25519_KEY_LEN);
  // Only fails for a scalar that clamps to zero, which clamping makes impossible (bit 254 is set).
  if (sodium.crypto_scalarmult_base(out, priv) !== 0) {
    throw new WeftError('CRYPTO_MISUSE', 'X25519 public key derivation failed');
  }
  return out;
}

/** X25519(priv, pub), or null when the result would be all zeros (a low-order public key). */
export function sharedSecret(priv: Uint8Array, pub: Uint8Array): Uint8Array | null {
  checkLen(priv, 'private key');
  checkLen(pub, 'public key');
  const out = new Uint8Array(X25519_KEY_LEN);
  if (sodium.crypto_scalarmult(out, priv, pub) !== 0) return null;
  let acc = 0;
  for (let i = 0; i < out.length; i++) acc |= out[i]!;
  return acc === 0 ? null : out;
}
