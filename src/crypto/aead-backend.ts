/**
 * Which implementation seals and opens WireGuard's transport data: OpenSSL
 * (through the addon, native/aead.c) or libsodium (sodium-native).
 *
 * Why two: OpenSSL's assembly seals a full-size packet in about half the
 * time libsodium takes on the machines weft is measured on (AVX-512: 1.1
 * against 2.1 us for 1440 bytes, `npm run bench:crypto`), and the AEAD was
 * 45% of a WireGuard node's time. But OpenSSL may lack the cipher (a FIPS
 * configuration), and the addon may not be built where only pure code runs
 * (unit tests of codecs on a machine without a C compiler), so libsodium
 * stays as the fallback, and as the handshake's AEAD in every case. The two
 * are the same function of (key, nonce, bytes): tests check them against
 * each other and against RFC 8439's vectors.
 *
 * `WEFT_AEAD` picks one when `weft up` starts: `openssl`, `libsodium`, or
 * unset for OpenSSL when it is there. Asking for OpenSSL where it is not is
 * an error at startup, not a silent fallback, so a benchmark measures what
 * it names; status says which one seals, and why it is libsodium.
 */
import { WeftError } from '../errors.ts';
import { loadAddon } from '../native/addon.ts';
import type { WeftNative } from '../native/addon.ts';

export type AeadBackendName = 'openssl' | 'libsodium';

/** The addon's two in-place calls. */
export type NativeAead = Pick<WeftNative, 'aeadSeal' | 'aeadOpen'>;

export interface AeadBackendChoice {
  /** The OpenSSL calls, or undefined for libsodium. */
  native: NativeAead | undefined;
  name: AeadBackendName;
  /** Why OpenSSL is not used, when it is not. */
  why?: string;
}

/** The addon's AEAD when it is built and its OpenSSL has the cipher; otherwise why not. */
function openssl(): { native: NativeAead } | { why: string } {
  let addon: WeftNative;
  try {
    addon = loadAddon();
  } catch (err) {
    return { why: (err as Error).message };
  }
  if (typeof addon.aeadAvailable !== 'function') return { why: 'the native addon predates its AEAD: rebuild it with npm install' };
  if (!addon.aeadAvailable()) return { why: "Node's OpenSSL has no ChaCha20-Poly1305 (a FIPS configuration?)" };
  return { native: addon };
}

/**
 * The backend for `wanted` (WEFT_AEAD's value): undefined or '' takes
 * OpenSSL when it is there, else libsodium, saying why.
 */
export function chooseAeadBackend(wanted: string | undefined): AeadBackendChoice {
  if (wanted === 'libsodium') return { native: undefined, name: 'libsodium', why: 'WEFT_AEAD=libsodium' };
  if (wanted !== undefined && wanted !== '' && wanted !== 'openssl') {
    throw new WeftError('CONFIG_INVALID', `WEFT_AEAD=${wanted} is not a transport AEAD: use openssl or libsodium, or unset it to pick openssl when it is there`);
  }
  const o = openssl();
  if ('native' in o) return { native: o.native, name: 'openssl' };
  if (wanted === 'openssl') {
    throw new WeftError('CRYPTO_UNAVAILABLE', `WEFT_AEAD=openssl, but OpenSSL's AEAD cannot be used: ${o.why}; unset WEFT_AEAD to fall back to libsodium`);
  }
  return { native: undefined, name: 'libsodium', why: o.why };
}

/** "ChaCha20-Poly1305 by OpenSSL 3.0.19", or by libsodium with why: for status. */
export function describeAeadBackend(choice: AeadBackendChoice): string {
  return choice.name === 'openssl'
    ? `ChaCha20-Poly1305 by OpenSSL ${process.versions.openssl ?? ''}`.trimEnd()
    : `ChaCha20-Poly1305 by libsodium${choice.why !== undefined ? ` (${choice.why})` : ''}`;
}
