import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clampPrivateKey, generatePrivateKey, publicKey, sharedSecret } from '../../../src/crypto/x25519.ts';
import { isWeftError } from '../../../src/errors.ts';
import { thrownBy } from '../../helpers/errors.ts';

const P = 2n ** 255n - 19n;
const le32 = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
};

/** OpenSSL's X25519 through node:crypto, from raw 32-byte keys (PKCS#8 / SPKI DER prefixes for OID 1.3.101.110). */
function opensslShared(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  const privateKey = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), pub]),
    format: 'der',
    type: 'spki',
  });
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

describe('x25519', () => {
  it('agrees with OpenSSL on random key pairs', () => {
    for (let i = 0; i < 20; i++) {
      const a = generatePrivateKey();
      const b = generatePrivateKey();
      const ab = sharedSecret(a, publicKey(b));
      expect(ab).not.toBeNull();
      expect(Buffer.from(ab!).equals(Buffer.from(sharedSecret(b, publicKey(a))!))).toBe(true);
      expect(Buffer.from(ab!).equals(Buffer.from(opensslShared(a, publicKey(b))))).toBe(true);
    }
  });

  it('returns null for low-order public keys (an all-zero shared secret), never throwing', () => {
    // Points of order 1, 2, 4 and 8 on Curve25519 and its twist (cr.yp.to/ecdh.html#validate),
    // and non-canonical encodings of the same u (u + p).
    const lowOrder = [
      0n,
      1n,
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
      39382357235489614581723060781553021112529911719440698176882885853963445705823n,
      P - 1n,
      P,
      P + 1n,
    ];
    const priv = generatePrivateKey();
    for (const u of lowOrder) {
      expect(sharedSecret(priv, le32(u)), `u = ${u}`).toBeNull();
    }
    // OpenSSL refuses them too (it also checks for an all-zero result).
    expect(() => opensslShared(priv, le32(0n))).toThrow();
  });

  it('clamps private keys per RFC 7748 and generates clamped keys', () => {
    const k = clampPrivateKey(new Uint8Array(32).fill(0xff));
    expect(k[0]).toBe(0xf8);
    expect(k[31]).toBe(0x7f);
    const z = clampPrivateKey(new Uint8Array(32));
    expect(z[31]).toBe(0x40);
    const g = generatePrivateKey();
    expect(g[0]! & 7).toBe(0);
    expect(g[31]! & 0xc0).toBe(0x40);
    // X25519 clamps internally: an unclamped key has the public key of its clamped form.
    const raw = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 255) & 0xff);
    expect(Buffer.from(publicKey(raw)).equals(Buffer.from(publicKey(clampPrivateKey(raw.slice()))))).toBe(true);
  });

  it('throws CRYPTO_MISUSE for keys that are not 32 bytes', () => {
    for (const fn of [
      () => publicKey(new Uint8Array(31)),
      () => sharedSecret(new Uint8Array(32), new Uint8Array(33)),
      () => clampPrivateKey(new Uint8Array(0)),
    ]) {
      const caught = thrownBy(fn);
      expect(isWeftError(caught, 'CRYPTO_MISUSE')).toBe(true);
    }
  });
});
