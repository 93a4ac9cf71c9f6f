/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha: HChaCha20 turns the key and
 * the first 16 nonce bytes into a subkey, then ChaCha20-Poly1305 runs with
 * the remaining 8 bytes). WireGuard seals the cookie of a cookie reply with
 * it (whitepaper 5.4.7) under a random 24-byte nonce, with the mac1 of the
 * message that provoked the reply as associated data. Cold path: new arrays.
 *
 * Like aead.ts this calls sodium-native's binding rather than its wrappers,
 * so a forged cookie reply returns null instead of throwing; the binding
 * checks sizes only with C asserts, so they are checked here, and the
 * associated data is passed as undefined, never null (null crashes it).
 */
import { WeftError } from '../errors.ts';
import { sodiumBinding } from './sodium.ts';

export const XKEY_LEN = 32;
export const XNONCE_LEN = 24;
export const XTAG_LEN = 16;

interface SodiumXAeadBinding {
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
    c: Uint8Array,
    mac: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | undefined,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
    m: Uint8Array,
    c: Uint8Array,
    mac: Uint8Array,
    ad: Uint8Array | undefined,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
}

const sodium = sodiumBinding<SodiumXAeadBinding>(['crypto_aead_xchacha20poly1305_ietf_encrypt_detached', 'crypto_aead_xchacha20poly1305_ietf_decrypt_detached']);

function checkKeyNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== XKEY_LEN) throw new WeftError('CRYPTO_MISUSE', `XAEAD key must be ${XKEY_LEN} bytes, got ${key.length}`);
  if (nonce.length !== XNONCE_LEN) {
    throw new WeftError('CRYPTO_MISUSE', `XAEAD nonce must be ${XNONCE_LEN} bytes, got ${nonce.length}`);
  }
}

/** ciphertext || 16-byte tag, in a new array. */
export function xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array {
  checkKeyNonce(key, nonce);
  const out = new Uint8Array(plaintext.length + XTAG_LEN);
  out.set(plaintext);
  const m = out.subarray(0, plaintext.length);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt_detached(m, out.subarray(plaintext.length), m, ad, nonce, key);
  return out;
}

/** The plaintext in a new array, or null when the input is shorter than a tag or fails authentication. */
export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad?: Uint8Array): Uint8Array | null {
  checkKeyNonce(key, nonce);
  if (ciphertext.length < XTAG_LEN) return null;
  const mlen = ciphertext.length - XTAG_LEN;
  const out = ciphertext.slice(0, mlen);
  const mac = ciphertext.slice(mlen);
  return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, out, mac, ad, nonce, key) === 0 ? out : null;
}
