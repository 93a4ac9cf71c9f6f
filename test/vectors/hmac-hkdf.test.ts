/**
 * HMAC and HKDF known answers.
 *  - RFC 4231 test cases 1-4, 6, 7 (and 5, truncated to 128 bits) for
 *    HMAC-SHA-256 through the generic hmacWith(): proves the RFC 2104
 *    construction that hmac() then runs over BLAKE2s, including the
 *    "hash the key first" path for keys longer than the 64-byte block.
 *  - HMAC-BLAKE2s: checked against a from-scratch RFC 2104 construction in
 *    this file (ipad/opad over BLAKE2s as a black box), and against values
 *    computed with CPython's hmac.new(key, msg, 'blake2s') (an implementation
 *    independent of @noble/hashes; its block_size for blake2s is 64).
 *  - RFC 5869 Appendix A test cases 1-3 (HKDF-SHA-256, PRK and OKM) through
 *    the generic hkdf(), the same code WireGuard's KDFn runs over BLAKE2s.
 *  - KDF1/KDF2/KDF3 as whitepaper 5.4 defines them, against CPython values
 *    (T0 = HMAC(key, input), Ti = HMAC(T0, T(i-1) || i)), keyed with the
 *    construction hash Ci as a handshake's first step is.
 */
import { blake2s } from '@noble/hashes/blake2.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { hash, hkdf, hkdfExpand, hkdfExtract, hmac, hmacWith, kdf1, kdf2, kdf3 } from '../../src/crypto/hash.ts';
import { ascii, fromHex, range, toHex } from './hex.ts';

const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);

describe('HMAC-SHA-256 through the generic construction (RFC 4231)', () => {
  const cases: Array<[string, Uint8Array, Uint8Array, string]> = [
    ['1', fill(20, 0x0b), ascii('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    ['2', ascii('Jefe'), ascii('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    ['3', fill(20, 0xaa), fill(50, 0xdd), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
    ['4', range(0x01, 0x19), fill(50, 0xcd), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'],
    [
      '6',
      fill(131, 0xaa),
      ascii('Test Using Larger Than Block-Size Key - Hash Key First'),
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    ],
    [
      '7',
      fill(131, 0xaa),
      ascii(
        'This is a test using a larger than block-size key and a larger than block-size data. ' +
          'The key needs to be hashed before being used by the HMAC algorithm.',
      ),
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    ],
  ];
  for (const [name, key, data, want] of cases) {
    it(`test case ${name}`, () => {
      expect(toHex(hmacWith(sha256, key, data))).toBe(want);
    });
  }

  it('test case 5 (truncated to 128 bits)', () => {
    expect(toHex(hmacWith(sha256, fill(20, 0x0c), ascii('Test With Truncation')).subarray(0, 16))).toBe(
      'a3b6167473100ee06e0c796c2955552b',
    );
  });
});

describe('HMAC-BLAKE2s (WireGuard HMAC)', () => {
  // RFC 2104 written out: H((K' ^ opad) || H((K' ^ ipad) || m)), K' = K padded
  // to the 64-byte block, or H(K) padded when K is longer than the block.
  const reference = (key: Uint8Array, msg: Uint8Array): Uint8Array => {
    const k = new Uint8Array(64);
    k.set(key.length > 64 ? blake2s(key) : key);
    const inner = new Uint8Array(64 + msg.length);
    const outer = new Uint8Array(64 + 32);
    for (let i = 0; i < 64; i++) {
      inner[i] = k[i]! ^ 0x36;
      outer[i] = k[i]! ^ 0x5c;
    }
    inner.set(msg, 64);
    outer.set(blake2s(inner), 64);
    return blake2s(outer);
  };
  const msg = ascii('weft: HMAC-BLAKE2s known answer');
  const longKey = Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + 3) & 0xff);

  it('matches independently computed values for short, block-sized and long keys', () => {
    expect(toHex(hmac(range(0, 31), msg))).toBe('f2a85f70e445788fb09315fcd36b64b5609a687a3afef015818461064f2e36a0');
    expect(toHex(hmac(range(0, 63), new Uint8Array(0)))).toBe('4a4f8f181c931253202b2d7a77e2a612f65580f4b0d56108f7f275f22b63ae00');
    expect(toHex(hmac(longKey, msg))).toBe('58f36c1a9af0d4f97c4124bdc355497458d1c6fd2583e4a900d83d6fbe29c852');
  });

  it('agrees with the RFC 2104 construction written out, for keys around the block size', () => {
    for (const klen of [0, 1, 16, 32, 63, 64, 65, 100, 200]) {
      const key = Uint8Array.from({ length: klen }, (_, i) => (i * 31 + klen) & 0xff);
      for (const mlen of [0, 1, 55, 64, 65, 300]) {
        const m = Uint8Array.from({ length: mlen }, (_, i) => (i * 13 + 7) & 0xff);
        expect(toHex(hmac(key, m)), `key ${klen} msg ${mlen}`).toBe(toHex(reference(key, m)));
      }
    }
  });

  it('treats message parts as their concatenation', () => {
    expect(toHex(hmac(range(0, 31), msg.subarray(0, 5), msg.subarray(5)))).toBe(toHex(hmac(range(0, 31), msg)));
  });
});

describe('HKDF-SHA-256 through the generic code (RFC 5869 Appendix A)', () => {
  const cases: Array<[string, Uint8Array, Uint8Array, Uint8Array, number, string, string]> = [
    [
      '1 (basic)',
      fill(22, 0x0b),
      range(0x00, 0x0c),
      range(0xf0, 0xf9),
      42,
      '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5',
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    ],
    [
      '2 (longer inputs and outputs)',
      range(0x00, 0x4f),
      range(0x60, 0xaf),
      range(0xb0, 0xff),
      82,
      '06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244',
      `b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c
       59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71
       cc30c58179ec3e87c14c01d5c1f3434f1d87`,
    ],
    [
      '3 (zero-length salt and info)',
      fill(22, 0x0b),
      new Uint8Array(0),
      new Uint8Array(0),
      42,
      '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    ],
  ];
  for (const [name, ikm, salt, info, len, prk, okm] of cases) {
    it(`test case ${name}`, () => {
      expect(toHex(hkdfExtract(sha256, salt, ikm))).toBe(prk);
      expect(toHex(hkdfExpand(sha256, fromHex(prk), info, len))).toBe(toHex(fromHex(okm)));
      expect(toHex(hkdf(sha256, ikm, salt, info, len))).toBe(toHex(fromHex(okm)));
    });
  }
});

describe('WireGuard KDF1/KDF2/KDF3 (whitepaper 5.4)', () => {
  const ci = hash(ascii('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s'));
  const t = [
    '6ff66e10ab4a55ac8144a867fcd9f8ee64d4bd6239223338cb3437cf085ab031',
    '203b22d63d63e35cebb9e40210cf8c1d7f90879428a4c766cda9ef34bb299398',
    '35a7b2fc3e4f59db341dbe588e3b75897980c463d5bbb855f8ed8134ff40133a',
  ];

  it('derives T1..T3 from a 32-byte input, each KDFn a prefix of the next', () => {
    const input = range(0, 31);
    expect(toHex(kdf1(ci, input))).toBe(t[0]);
    expect(kdf2(ci, input).map(toHex)).toEqual(t.slice(0, 2));
    expect(kdf3(ci, input).map(toHex)).toEqual(t);
  });

  it('derives transport keys from an empty input, as KDF2(C, empty) does at the end of a handshake', () => {
    expect(kdf2(ci, new Uint8Array(0)).map(toHex)).toEqual([
      'bd968725a9177942a8c2e4253d1dde31cf7b19ec001b4a3a3d141cd9d998d3ba',
      'aab5462b323780fa615bf80ffe469510239ff361575a663968e686a7ae41d693',
    ]);
  });

  it('is the whitepaper formula spelled out with hmac()', () => {
    const input = ascii('any input');
    const t0 = hmac(ci, input);
    const t1 = hmac(t0, Uint8Array.of(1));
    const t2 = hmac(t0, t1, Uint8Array.of(2));
    const t3 = hmac(t0, t2, Uint8Array.of(3));
    expect(kdf3(ci, input).map(toHex)).toEqual([t1, t2, t3].map(toHex));
  });
});
