import { createCipheriv, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import {
  AeadViews,
  aeadOpen,
  aeadSeal,
  counterHalves,
  nonceFromCounter,
  openInPlace,
  openInPlaceAd,
  sealInPlace,
  TAG_LEN,
  transportAeadBackend,
  useTransportAead,
} from '../../../src/crypto/aead.ts';
import type { AeadBackendName } from '../../../src/crypto/aead-backend.ts';
import { xaeadOpen, xaeadSeal } from '../../../src/crypto/xaead.ts';
import { isWeftError } from '../../../src/errors.ts';
import { thrownBy } from '../../helpers/errors.ts';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/** OpenSSL's ChaCha20-Poly1305 through node:crypto: an implementation independent of libsodium. */
function opensslSeal(key: Uint8Array, counter: bigint, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonceFromCounter(counter), { authTagLength: 16 });
  if (ad !== undefined) c.setAAD(ad, { plaintextLength: plaintext.length });
  return new Uint8Array(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
}

function expectMisuse(fn: () => unknown): void {
  const caught = thrownBy(fn);
  expect(isWeftError(caught, 'CRYPTO_MISUSE'), String(caught)).toBe(true);
}

/** Run a suite with the transport AEAD switched to `name`, and switch back after. */
function withBackend(name: AeadBackendName): void {
  const before = transportAeadBackend();
  beforeAll(() => useTransportAead(name));
  afterAll(() => useTransportAead(before));
}

// Both backends pass the same tests: OpenSSL through the addon (the default
// where it is built, as in CI) and libsodium (the fallback).
describe.each(['openssl', 'libsodium'] as const)('sealInPlace / openInPlace by %s', (name) => {
  withBackend(name);

  it('agrees with OpenSSL on random packets, lengths and 64-bit counters', () => {
    const ring = new PacketRing({ slots: 2, capacity: 1920 });
    const slot = ring.acquire();
    const off = ring.offset[slot]!;
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(32);
      const len = i < 20 ? i : (randomBytes(2).readUInt16LE() % 1900) + 1;
      const counter = randomBytes(8).readBigUInt64LE() >> BigInt(i % 64);
      const pt = randomBytes(len);
      ring.bytes.set(pt, off);
      const [lo, hi] = counterHalves(counter);
      const n = sealInPlace(ring.bytes, off, len, key, lo, hi);
      expect(n).toBe(len + TAG_LEN);
      expect(hex(ring.bytes.subarray(off, off + n)), `len ${len} counter ${counter}`).toBe(hex(opensslSeal(key, counter, pt)));
      expect(openInPlace(ring.bytes, off, n, key, lo, hi)).toBe(len);
      expect(hex(ring.bytes.subarray(off, off + len))).toBe(hex(pt));
    }
  });

  it('round-trips an empty plaintext (a keepalive is a data message with no payload)', () => {
    const buf = new Uint8Array(64);
    const key = randomBytes(32);
    expect(sealInPlace(buf, 16, 0, key, 7, 0)).toBe(16);
    expect(hex(buf.subarray(16, 32))).toBe(hex(opensslSeal(key, 7n, new Uint8Array(0))));
    expect(openInPlace(buf, 16, 16, key, 7, 0)).toBe(0);
  });

  it('touches only [off, off+len+16)', () => {
    const buf = new Uint8Array(256).fill(0xa5);
    const key = randomBytes(32);
    const n = sealInPlace(buf, 64, 100, key, 1, 2);
    expect(buf.subarray(0, 64).every((b) => b === 0xa5)).toBe(true);
    expect(buf.subarray(64 + n).every((b) => b === 0xa5)).toBe(true);
    expect(openInPlace(buf, 64, n, key, 1, 2)).toBe(100);
    expect(buf.subarray(0, 64).every((b) => b === 0xa5)).toBe(true);
    expect(buf.subarray(64, 164).every((b) => b === 0xa5)).toBe(true);
  });

  it('returns -1 without throwing for tampered ciphertext, tag, counter or key, and zeroes the rejected body', () => {
    const key = randomBytes(32);
    const buf = new Uint8Array(2048);
    const off = 80;
    const len = 1400;
    buf.set(randomBytes(len), off);
    const n = sealInPlace(buf, off, len, key, 0xfffffffe, 0x12345678);
    const sealed = buf.slice(off, off + n);
    const attempts: Array<[string, () => number]> = [];
    for (const pos of [0, 1, len - 1, len, len + 15]) {
      attempts.push([
        `bit flip at ${pos}`,
        () => {
          buf[off + pos]! ^= 0x01;
          return openInPlace(buf, off, n, key, 0xfffffffe, 0x12345678);
        },
      ]);
    }
    attempts.push(['counter lo + 1', () => openInPlace(buf, off, n, key, 0xffffffff, 0x12345678)]);
    attempts.push(['counter hi + 1', () => openInPlace(buf, off, n, key, 0xfffffffe, 0x12345679)]);
    attempts.push(['other key', () => openInPlace(buf, off, n, randomBytes(32), 0xfffffffe, 0x12345678)]);
    attempts.push(['truncated', () => openInPlace(buf, off, n - 1, key, 0xfffffffe, 0x12345678)]);
    attempts.push(['AD where none was', () => openInPlaceAd(buf, off, n, key, 0xfffffffe, 0x12345678, new Uint8Array(1))]);
    for (const [what, attempt] of attempts) {
      buf.set(sealed, off);
      let result: number | undefined;
      expect(() => {
        result = attempt();
      }, what).not.toThrow();
      expect(result, what).toBe(-1);
    }
    // A rejected body is cleared, never left half-decrypted.
    buf.set(sealed, off);
    buf[off + len]! ^= 0x01;
    expect(openInPlace(buf, off, n, key, 0xfffffffe, 0x12345678)).toBe(-1);
    expect(buf.subarray(off, off + len).every((b) => b === 0)).toBe(true);
    // The untouched packet still opens.
    buf.set(sealed, off);
    expect(openInPlace(buf, off, n, key, 0xfffffffe, 0x12345678)).toBe(len);
  });

  it('returns -1 for input too short for a tag or outside the buffer', () => {
    const buf = new Uint8Array(64);
    const key = new Uint8Array(32);
    for (const len of [0, 1, 15]) expect(openInPlace(buf, 0, len, key, 0, 0)).toBe(-1);
    expect(openInPlace(buf, 50, 16, key, 0, 0)).toBe(-1);
    expect(openInPlace(buf, -1, 16, key, 0, 0)).toBe(-1);
    expect(openInPlace(buf, 0, 16.5, key, 0, 0)).toBe(-1);
    expect(openInPlace(buf, 0, Number.NaN, key, 0, 0)).toBe(-1);
  });

  it('throws CRYPTO_MISUSE for programming errors: no tailroom, bad bounds, a short key', () => {
    const buf = new Uint8Array(64);
    expectMisuse(() => sealInPlace(buf, 0, 49, new Uint8Array(32), 0, 0));
    expectMisuse(() => sealInPlace(buf, -2, 8, new Uint8Array(32), 0, 0));
    expectMisuse(() => sealInPlace(buf, 0, 8, new Uint8Array(31), 0, 0));
    expectMisuse(() => openInPlace(buf, 0, 32, new Uint8Array(16), 0, 0));
  });

  it('treats counter halves modulo 2^32 (a negative Int32Array value is the same counter)', () => {
    const key = randomBytes(32);
    const a = new Uint8Array(48);
    const b = new Uint8Array(48);
    sealInPlace(a, 0, 32, key, 0xffffffff, 0x80000000);
    sealInPlace(b, 0, 32, key, -1, -0x80000000);
    expect(hex(a)).toBe(hex(b));
  });
});

describe('AeadViews', () => {
  // The views serve libsodium, which takes a whole typed array; the addon takes offsets.
  withBackend('libsodium');

  it('reuses a slot view for the same offset and length, and gives the same bytes as without it', () => {
    const ring = new PacketRing({ slots: 4 });
    const views = new AeadViews(ring.bytes, ring.slotCount);
    const key = randomBytes(32);
    const s = ring.acquire();
    const off = ring.offset[s]!;
    const pt = randomBytes(1400);
    for (let counter = 0; counter < 5; counter++) {
      ring.bytes.set(pt, off);
      const n = sealInPlace(ring.bytes, off, pt.length, key, counter, 0, views, s);
      expect(hex(ring.bytes.subarray(off, off + n))).toBe(hex(opensslSeal(key, BigInt(counter), pt)));
      expect(openInPlace(ring.bytes, off, n, key, counter, 0, views, s)).toBe(pt.length);
      expect(hex(ring.bytes.subarray(off, off + pt.length))).toBe(hex(pt));
    }
    expect(views.misses).toBe(1);
    expect(views.hits).toBe(9);
    // A different length misses, makes a correct view, and is remembered.
    ring.bytes.set(pt.subarray(0, 64), off);
    const n = sealInPlace(ring.bytes, off, 64, key, 9, 0, views, s);
    expect(hex(ring.bytes.subarray(off, off + n))).toBe(hex(opensslSeal(key, 9n, pt.subarray(0, 64))));
    expect(views.misses).toBe(2);
    // Two shapes per slot are remembered: full-size data and short packets alternate without a miss...
    for (const len of [1400, 64, 1400, 64]) views.view(s, off, len);
    expect(views.misses).toBe(2);
    // ...and a third replaces the older of the two (1400, made first).
    expect(views.view(s, off, 200).length).toBe(200);
    expect(views.misses).toBe(3);
    views.view(s, off, 64);
    expect(views.misses).toBe(3);
    views.view(s, off, 1400);
    expect(views.misses).toBe(4);
  });

  it('falls back to a fresh view for another buffer or a slot out of range', () => {
    const ring = new PacketRing({ slots: 2 });
    const views = new AeadViews(ring.bytes, 2);
    const other = new Uint8Array(128);
    const key = randomBytes(32);
    const n = sealInPlace(other, 0, 32, key, 1, 0, views, 0);
    expect(openInPlace(other, 0, n, key, 1, 0)).toBe(32);
    expect(views.hits + views.misses).toBe(0);
    const m = sealInPlace(ring.bytes, 0, 32, key, 1, 0, views, 99);
    expect(openInPlace(ring.bytes, 0, m, key, 1, 0)).toBe(32);
  });
});

describe('aeadSeal / aeadOpen / nonce helpers', () => {
  it('agrees with OpenSSL with associated data, and rejects tampering with null', () => {
    const key = randomBytes(32);
    const pt = randomBytes(77);
    const ad = randomBytes(32);
    const sealed = aeadSeal(key, 42n, pt, ad);
    expect(hex(sealed)).toBe(hex(opensslSeal(key, 42n, pt, ad)));
    expect(hex(aeadOpen(key, 42n, sealed, ad)!)).toBe(hex(pt));
    expect(aeadOpen(key, 43n, sealed, ad)).toBeNull();
    expect(aeadOpen(key, 42n, sealed)).toBeNull();
    expect(aeadOpen(key, 42n, sealed.subarray(0, 15), ad)).toBeNull();
    sealed[0]! ^= 0x80;
    expect(aeadOpen(key, 42n, sealed, ad)).toBeNull();
  });

  it('lays the counter out as 4 zero bytes and 64-bit little-endian', () => {
    expect(hex(nonceFromCounter(0n))).toBe('000000000000000000000000');
    expect(hex(nonceFromCounter(0x0102030405060708n))).toBe('000000000807060504030201');
    expect(hex(nonceFromCounter(2n ** 64n - 1n))).toBe('00000000ffffffffffffffff');
    expect(counterHalves(2n ** 64n - 1n)).toEqual([0xffffffff, 0xffffffff]);
    expect(counterHalves(2n ** 32n)).toEqual([0, 1]);
  });

  it('refuses counters outside 0 ..= 2^64-1, nonces that are not 12 bytes and keys that are not 32', () => {
    expectMisuse(() => nonceFromCounter(-1n));
    expectMisuse(() => nonceFromCounter(2n ** 64n));
    expectMisuse(() => counterHalves(2n ** 64n));
    expectMisuse(() => aeadSeal(new Uint8Array(32), new Uint8Array(8), new Uint8Array(1)));
    expectMisuse(() => aeadSeal(new Uint8Array(16), 0n, new Uint8Array(1)));
  });
});

describe('xaeadSeal / xaeadOpen', () => {
  it('round-trips and returns null for short or forged input', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const cookie = randomBytes(16);
    const mac1 = randomBytes(16);
    const sealed = xaeadSeal(key, nonce, cookie, mac1);
    expect(sealed.length).toBe(32);
    expect(hex(xaeadOpen(key, nonce, sealed, mac1)!)).toBe(hex(cookie));
    expect(xaeadOpen(key, nonce, sealed, randomBytes(16))).toBeNull();
    expect(xaeadOpen(key, nonce, sealed.subarray(0, 15), mac1)).toBeNull();
    const forged = sealed.slice();
    forged[3]! ^= 4;
    expect(xaeadOpen(key, nonce, forged, mac1)).toBeNull();
  });

  it('throws CRYPTO_MISUSE for a wrong key or nonce size', () => {
    expectMisuse(() => xaeadSeal(new Uint8Array(32), new Uint8Array(12), new Uint8Array(1)));
    expectMisuse(() => xaeadOpen(new Uint8Array(31), new Uint8Array(24), new Uint8Array(16)));
  });
});
