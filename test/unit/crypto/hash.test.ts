import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { hash, hkdfExpand, mac, MAC_LEN } from '../../../src/crypto/hash.ts';
import { isWeftError } from '../../../src/errors.ts';
import { thrownBy } from '../../helpers/errors.ts';

describe('hash.ts edges', () => {
  it('hashes an empty input list as BLAKE2s of nothing', () => {
    expect(Buffer.from(hash()).equals(Buffer.from(hash(new Uint8Array(0))))).toBe(true);
  });

  it('gives 16-byte MACs and treats an empty key as unkeyed BLAKE2s-128', () => {
    const m = mac(new Uint8Array(0), Uint8Array.of(1, 2, 3));
    expect(m.length).toBe(MAC_LEN);
    expect(Buffer.from(m).equals(Buffer.from(mac(new Uint8Array(16), Uint8Array.of(1, 2, 3))))).toBe(false);
  });

  it('refuses MAC keys longer than 32 bytes and HKDF outputs beyond 255 blocks', () => {
    for (const fn of [() => mac(new Uint8Array(33), new Uint8Array(1)), () => hkdfExpand(sha256, new Uint8Array(32), new Uint8Array(0), 255 * 32 + 1)]) {
      const caught = thrownBy(fn);
      expect(isWeftError(caught, 'CRYPTO_MISUSE')).toBe(true);
    }
    expect(hkdfExpand(sha256, new Uint8Array(32), new Uint8Array(0), 255 * 32).length).toBe(255 * 32);
    expect(hkdfExpand(sha256, new Uint8Array(32), new Uint8Array(0), 0).length).toBe(0);
  });
});
