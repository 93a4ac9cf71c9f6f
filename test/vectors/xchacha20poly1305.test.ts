/**
 * XChaCha20-Poly1305 known answer from draft-irtf-cfrg-xchacha-03, appendix
 * A.3.1 (AEAD_XChaCha20_Poly1305): the RFC 8439 "sunscreen" plaintext and
 * AAD, key 80..9f, 24-byte nonce 40..57.
 */
import { describe, expect, it } from 'vitest';
import { xaeadOpen, xaeadSeal } from '../../src/crypto/xaead.ts';
import { ascii, fromHex, range, toHex } from './hex.ts';

describe('XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha A.3.1)', () => {
  const plaintext = ascii(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const aad = fromHex('50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7');
  const key = range(0x80, 0x9f);
  const nonce = range(0x40, 0x57);
  const ciphertext = fromHex(`
    bd 6d 17 9d 3e 83 d4 3b 95 76 57 94 93 c0 e9 39
    57 2a 17 00 25 2b fa cc be d2 90 2c 21 39 6c bb
    73 1c 7f 1b 0b 4a a6 44 0b f3 a8 2f 4e da 7e 39
    ae 64 c6 70 8c 54 c2 16 cb 96 b7 2e 12 13 b4 52
    2f 8c 9b a4 0d b5 d9 45 b1 1b 69 b9 82 c1 bb 9e
    3f 3f ac 2b c3 69 48 8f 76 b2 38 35 65 d3 ff f9
    21 f9 66 4c 97 63 7d a9 76 88 12 f6 15 c6 8b 13
    b5 2e`);
  const tag = fromHex('c0 87 59 24 c1 c7 98 79 47 de af d8 78 0a cf 49');

  it('seals to the published ciphertext and tag', () => {
    expect(nonce.length).toBe(24);
    expect(toHex(xaeadSeal(key, nonce, plaintext, aad))).toBe(toHex(ciphertext) + toHex(tag));
  });

  it('opens the published ciphertext, and returns null for a wrong AAD or a flipped tag bit', () => {
    const sealed = new Uint8Array([...ciphertext, ...tag]);
    const opened = xaeadOpen(key, nonce, sealed, aad);
    expect(opened && toHex(opened)).toBe(toHex(plaintext));
    expect(xaeadOpen(key, nonce, sealed)).toBeNull();
    sealed[sealed.length - 1]! ^= 1;
    expect(xaeadOpen(key, nonce, sealed, aad)).toBeNull();
  });
});
