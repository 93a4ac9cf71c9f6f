/**
 * X25519 known answers from RFC 7748.
 *  - Section 5.2: the two scalar/u-coordinate vectors (the second has the top
 *    bit of u set, which X25519 must ignore), and the iterated test after 1
 *    and 1,000 iterations (the 1,000,000-iteration value takes about 35 s
 *    even with libsodium, too long for every CI run, and is left out).
 *  - Section 6.1: the Diffie-Hellman example, Alice's and Bob's key pairs
 *    and their shared secret, through publicKey() and sharedSecret().
 */
import { describe, expect, it } from 'vitest';
import { publicKey, sharedSecret } from '../../src/crypto/x25519.ts';
import { fromHex, toHex } from './hex.ts';

describe('X25519 (RFC 7748 section 5.2)', () => {
  it('computes the two published scalar multiplications', () => {
    const v: Array<[string, string, string]> = [
      [
        'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
        'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
        'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
      ],
      [
        '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
        'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
        '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
      ],
    ];
    for (const [k, u, out] of v) {
      const got = sharedSecret(fromHex(k), fromHex(u));
      expect(got && toHex(got)).toBe(out);
    }
  });

  it('reaches the published values after 1 and 1,000 iterations', () => {
    // k = u = 9; each round: k, u = X25519(k, u), k
    let k: Uint8Array = new Uint8Array(32);
    k[0] = 9;
    let u: Uint8Array = k.slice();
    const seen: Record<number, string> = {};
    for (let i = 1; i <= 1000; i++) {
      const r = sharedSecret(k, u);
      if (r === null) throw new Error(`iteration ${i} produced zero`);
      u = k;
      k = r;
      if (i === 1 || i === 1000) seen[i] = toHex(k);
    }
    expect(seen[1]).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    expect(seen[1000]).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });
});

describe('X25519 Diffie-Hellman (RFC 7748 section 6.1)', () => {
  const alicePriv = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePub = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const bobPriv = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPub = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

  it("derives Alice's and Bob's public keys", () => {
    expect(toHex(publicKey(alicePriv))).toBe(alicePub);
    expect(toHex(publicKey(bobPriv))).toBe(bobPub);
  });

  it('gives both sides the same shared secret K', () => {
    const a = sharedSecret(alicePriv, fromHex(bobPub));
    const b = sharedSecret(bobPriv, fromHex(alicePub));
    expect(a && toHex(a)).toBe(shared);
    expect(b && toHex(b)).toBe(shared);
  });
});
