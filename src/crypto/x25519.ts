/**
 * X25519 (RFC 7748) for WireGuard's static and ephemeral keys, on
 * @noble/curves. Handshakes are rare (one per peer every two minutes), so a
 * pure-JS ladder is fast enough; bench/crypto/aead-bench.ts measures it.
 *
 * WireGuard (whitepaper 5.4, DH) rejects a shared secret of all zeros: it is
 * what any low-order public key yields, and accepting it would let a peer
 * force a known secret. noble refuses the known low-order inputs before the
 * ladder (and a zero result after it) by throwing; sharedSecret turns either
 * into null, and also checks the output itself, so the rule holds whatever
 * the library does.
 */
import { randomFillSync } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { WeftError } from '../errors.ts';

export const X25519_KEY_LEN = 32;

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
  return x25519.getPublicKey(priv);
}

/** X25519(priv, pub), or null when the result would be all zeros (a low-order public key). */
export function sharedSecret(priv: Uint8Array, pub: Uint8Array): Uint8Array | null {
  checkLen(priv, 'private key');
  checkLen(pub, 'public key');
  let out: Uint8Array;
  try {
    out = x25519.getSharedSecret(priv, pub);
  } catch {
    // noble throws exactly for low-order input or a zero result; lengths were checked above.
    return null;
  }
  let acc = 0;
  for (let i = 0; i < out.length; i++) acc |= out[i]!;
  return acc === 0 ? null : out;
}
