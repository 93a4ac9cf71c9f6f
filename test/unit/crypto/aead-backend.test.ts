// The transport AEAD's two backends: how one is chosen, and that OpenSSL
// through the addon and libsodium are the same function, byte for byte.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { chooseAeadBackend, describeAeadBackend } from '../../../src/crypto/aead-backend.ts';
import { isWeftError } from '../../../src/errors.ts';
import { loadAddon } from '../../../src/native/addon.ts';
import { thrownBy } from '../../helpers/errors.ts';

const require = createRequire(import.meta.url);
require('sodium-native');
const sodium = require('sodium-native/binding') as {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: undefined, npub: Uint8Array, k: Uint8Array): number;
};

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/** libsodium's seal of `pt` under WireGuard's nonce for (lo, hi): ciphertext || tag. */
function sodiumSeal(key: Uint8Array, lo: number, hi: number, pt: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(12);
  const v = new DataView(nonce.buffer);
  v.setUint32(4, lo, true);
  v.setUint32(8, hi, true);
  const out = new Uint8Array(pt.length + 16);
  out.set(pt);
  const m = out.subarray(0, pt.length);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(m, out.subarray(pt.length), m, undefined, nonce, key);
  return out;
}

describe('chooseAeadBackend', () => {
  it('takes OpenSSL by default where the addon is built (as in CI), and libsodium when asked', () => {
    const auto = chooseAeadBackend(undefined);
    expect(auto.name).toBe('openssl');
    expect(auto.native).toBeDefined();
    expect(chooseAeadBackend('').name).toBe('openssl');
    expect(chooseAeadBackend('openssl').name).toBe('openssl');
    const sodiumChoice = chooseAeadBackend('libsodium');
    expect(sodiumChoice).toEqual({ native: undefined, name: 'libsodium', why: 'WEFT_AEAD=libsodium' });
  });

  it('names WEFT_AEAD and its values for anything else', () => {
    const err = thrownBy(() => chooseAeadBackend('sodium'));
    expect(isWeftError(err, 'CONFIG_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toBe('WEFT_AEAD=sodium is not a transport AEAD: use openssl or libsodium, or unset it to pick openssl when it is there');
  });

  it('describes the choice for status', () => {
    expect(describeAeadBackend(chooseAeadBackend(undefined))).toBe(`ChaCha20-Poly1305 by OpenSSL ${process.versions.openssl}`);
    expect(describeAeadBackend(chooseAeadBackend('libsodium'))).toBe('ChaCha20-Poly1305 by libsodium (WEFT_AEAD=libsodium)');
    expect(describeAeadBackend({ native: undefined, name: 'libsodium', why: 'no cipher' })).toBe('ChaCha20-Poly1305 by libsodium (no cipher)');
  });
});

describe('the addon AEAD (native/aead.c)', () => {
  const addon = loadAddon();

  it('is available, and seals exactly what libsodium seals, for every length up to a jumbo frame and counters across 2^32', () => {
    expect(addon.aeadAvailable()).toBe(true);
    const bytes = new Uint8Array(10_000);
    const counters: Array<[number, number]> = [[0, 0], [1, 0], [0xffffffff, 0], [0, 1], [0xfffffffe, 0xffffffff], [0x04030201, 0x08070605]];
    for (let i = 0; i < 400; i++) {
      const len = i < 80 ? i : i < 120 ? 1400 + (i % 20) : 1 + (randomBytes(2).readUInt16LE() % 9000);
      const [lo, hi] = i < counters.length ? counters[i]! : [randomBytes(4).readUInt32LE(), randomBytes(4).readUInt32LE()];
      const key = randomBytes(32);
      const pt = randomBytes(len);
      const off = 7 + (i % 64); // any alignment
      bytes.set(pt, off);
      expect(addon.aeadSeal(bytes, off, len, key, lo, hi)).toBe(len + 16);
      expect(hex(bytes.subarray(off, off + len + 16)), `len ${len} counter ${hi}:${lo}`).toBe(hex(sodiumSeal(key, lo, hi, pt)));
      expect(addon.aeadOpen(bytes, off, len + 16, key, lo, hi)).toBe(len);
      expect(hex(bytes.subarray(off, off + len))).toBe(hex(pt));
    }
  });

  it('opens what libsodium sealed, and rejects a forged packet with -1, its bytes zeroed, the bytes around untouched', () => {
    const key = randomBytes(32);
    const pt = randomBytes(1420);
    const sealed = sodiumSeal(key, 5, 6, pt);
    const bytes = new Uint8Array(2000).fill(0xa5);
    bytes.set(sealed, 100);
    expect(addon.aeadOpen(bytes, 100, sealed.length, key, 5, 6)).toBe(1420);
    expect(hex(bytes.subarray(100, 1520))).toBe(hex(pt));
    bytes.set(sealed, 100);
    bytes[100 + 1420 + 15]! ^= 0x40; // the tag's last byte
    expect(addon.aeadOpen(bytes, 100, sealed.length, key, 5, 6)).toBe(-1);
    expect(bytes.subarray(100, 1520).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(0, 100).every((b) => b === 0xa5)).toBe(true);
    expect(bytes.subarray(1536).every((b) => b === 0xa5)).toBe(true);
    // The right packet under the wrong counter is forged too.
    bytes.set(sealed, 100);
    expect(addon.aeadOpen(bytes, 100, sealed.length, key, 5, 7)).toBe(-1);
  });

  it('returns -1 for wire input too short for a tag or outside the buffer, and throws for programming errors', () => {
    const bytes = new Uint8Array(64);
    const key = new Uint8Array(32);
    for (const len of [0, 1, 15]) expect(addon.aeadOpen(bytes, 0, len, key, 0, 0)).toBe(-1);
    expect(addon.aeadOpen(bytes, 50, 16, key, 0, 0)).toBe(-1);
    expect(addon.aeadOpen(bytes, 0xffffffff, 16, key, 0, 0)).toBe(-1);
    expect(() => addon.aeadSeal(bytes, 0, 49, key, 0, 0)).toThrow(RangeError);
    expect(() => addon.aeadSeal(bytes, 0xfffffff0, 8, key, 0, 0)).toThrow(RangeError);
    expect(() => addon.aeadSeal(bytes, 0, 8, new Uint8Array(31), 0, 0)).toThrow(/32 bytes/);
    expect(() => addon.aeadOpen(bytes, 0, 32, new Uint8Array(33), 0, 0)).toThrow(/32 bytes/);
    expect(() => addon.aeadSeal(new Uint16Array(32) as unknown as Uint8Array, 0, 8, key, 0, 0)).toThrow(/bytes must be a Uint8Array/);
    expect(() => addon.aeadSeal(bytes, '0' as unknown as number, 8, key, 0, 0)).toThrow(/off must be a number/);
    // Nothing above wrote a byte.
    expect(bytes.every((b) => b === 0)).toBe(true);
  });
});
