/**
 * BLAKE2s known answers.
 *  - RFC 7693 Appendix B: BLAKE2s-256("abc").
 *  - RFC 7693 Appendix E: the self-test "grand hash" over unkeyed and keyed
 *    hashes of every output length in {16, 20, 28, 32} and input length in
 *    {0, 3, 64, 65, 255, 1024}, with inputs and keys from the appendix's
 *    selftest_seq generator (re-implemented below from the appendix text).
 *  - BLAKE2 reference keyed test vectors (blake2s-kat.txt: key 00..1f,
 *    input 00..n-1, 32-byte output), entries n = 0, 1, 64, 255; also checked
 *    against CPython's hashlib.blake2s (libb2 reference code).
 *  - WireGuard's handshake constants (whitepaper 5.4): Ci = HASH(Construction)
 *    and Hi = HASH(Ci || Identifier), the values wireguard-rs hardcodes as
 *    INITIAL_CK / INITIAL_HS; reproduced with CPython's hashlib as well.
 *  - MAC (keyed BLAKE2s, 16-byte output): values computed with CPython
 *    hashlib.blake2s(data, key=k, digest_size=16), an implementation
 *    independent of @noble/hashes.
 */
import { blake2s } from '@noble/hashes/blake2.js';
import { describe, expect, it } from 'vitest';
import { hash, mac } from '../../src/crypto/hash.ts';
import { ascii, fromHex, range, toHex } from './hex.ts';

describe('BLAKE2s-256 (RFC 7693)', () => {
  it('hashes "abc" as Appendix B prints', () => {
    expect(toHex(hash(ascii('abc')))).toBe(
      toHex(fromHex('50 8C 5E 8C 32 7C 14 E2 E1 A7 2B A3 4E EB 45 2F 37 45 8B 20 9E D6 3A 29 4D 99 9B 4C 86 67 59 82')),
    );
  });

  it('passes the Appendix E self-test (grand hash over keyed and unkeyed lengths)', () => {
    // selftest_seq: a = 0xDEAD4BAD * seed, b = 1; each byte is the top byte of a Fibonacci-like sum (mod 2^32).
    const seq = (len: number, seed: number): Uint8Array => {
      const out = new Uint8Array(len);
      let a = Math.imul(0xdead4bad, seed) >>> 0;
      let b = 1;
      for (let i = 0; i < len; i++) {
        const t = (a + b) >>> 0;
        a = b;
        b = t;
        out[i] = t >>> 24;
      }
      return out;
    };
    const grand = blake2s.create({ dkLen: 32 });
    for (const outlen of [16, 20, 28, 32]) {
      for (const inlen of [0, 3, 64, 65, 255, 1024]) {
        const input = seq(inlen, inlen);
        grand.update(blake2s(input, { dkLen: outlen }));
        grand.update(blake2s(input, { dkLen: outlen, key: seq(outlen, outlen) }));
      }
    }
    expect(toHex(grand.digest())).toBe(
      toHex(
        fromHex(`6A 41 1F 08 CE 25 AD CD FB 02 AB A6 41 45 1C EC
                 53 C5 98 B2 4F 4F C7 87 FB DC 88 79 7F 4C 1D FE`),
      ),
    );
  });

  it('matches the reference keyed vectors (key 00..1f, input 00..n-1)', () => {
    const key = range(0, 31);
    const kat: Array<[number, string]> = [
      [0, '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49'],
      [1, '40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1'],
      [64, '8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4'],
      [255, '3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd'],
    ];
    for (const [n, want] of kat) {
      const input = n === 0 ? new Uint8Array(0) : range(0, n - 1);
      expect(toHex(blake2s(input, { key, dkLen: 32 })), `n=${n}`).toBe(want);
    }
  });
});

describe('WireGuard HASH and MAC', () => {
  it('derives the handshake constants Ci and Hi of whitepaper 5.4', () => {
    const ci = hash(ascii('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s'));
    expect(toHex(ci)).toBe('60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
    // hash(a, b) hashes the concatenation without building it.
    const hi = hash(ci, ascii('WireGuard v1 zx2c4 Jason@zx2c4.com'));
    expect(toHex(hi)).toBe('2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
  });

  it('computes the 16-byte keyed MAC with 32- and 16-byte keys', () => {
    expect(toHex(mac(range(0x40, 0x5f), ascii('weft mac1 input')))).toBe('2ec17b4edbc8830c6b8da29db250d7e0');
    // Split input must give the same MAC as the whole.
    expect(toHex(mac(range(0x60, 0x6f), ascii('weft mac2'), ascii(' input')))).toBe('25059234067d83cef351f852e80a5795');
  });
});
