import { describe, expect, it } from 'vitest';
import { copyBytes, wordsOf } from '../../../src/bytes/copy.ts';
import { copyWithSum, fold, onesSum, pseudoHeaderSum } from '../../../src/offload/checksum.ts';
import { internetChecksum } from '../../../src/wire/ip.ts';
import { mulberry32 } from '../../helpers/random.ts';
import { pseudoHeader, tcpPacket } from '../../helpers/tcp-packets.ts';

/** The reference: src/wire's byte-by-byte checksum, uncomplemented. */
function ref(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  return ~internetChecksum(bytes, off, len, initial) & 0xffff;
}

/**
 * An exact reference for any length: end-around carry after every word.
 * (internetChecksum folds with `>>> 16`, which is exact only while the sum
 * stays below 2^32: any packet, but not 9 MiB or a huge initial value.)
 */
function exact(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  let s = Number(BigInt(initial) % 0xffffn);
  if (s === 0 && initial !== 0) s = 0xffff;
  for (let i = 0; i < len; i += 2) {
    s += (bytes[off + i]! << 8) | (i + 1 < len ? bytes[off + i + 1]! : 0);
    if (s > 0xffff) s -= 0xffff;
  }
  return s;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

describe('onesSum', () => {
  it('gives RFC 1071 §3\'s example sum, at every alignment and inside longer runs', () => {
    const vector = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    expect(onesSum(Uint8Array.from(vector), 0, 8, 0)).toBe(0xddf2);
    // Long enough for the word loop: the vector then zeros (which add nothing), at offsets 0..7.
    for (let at = 0; at < 8; at++) {
      const buf = new Uint8Array(200);
      buf.set(vector, at);
      expect(onesSum(buf, at, 100, 0)).toBe(0xddf2);
      expect(~onesSum(buf, at, 100, 0) & 0xffff).toBe(internetChecksum(buf, at, 100));
    }
  });

  it('matches the reference on random data for every length to 300 and every start alignment', () => {
    const data = randomBytes(400, 1);
    for (let off = 0; off < 8; off++) {
      for (let len = 0; len <= 300; len++) {
        expect(onesSum(data, off, len, 0)).toBe(ref(data, off, len));
      }
    }
  });

  it('matches the reference on views with odd and even byteOffsets, with initial sums', () => {
    const backing = randomBytes(70_000, 2).buffer;
    const next = mulberry32(3);
    for (let k = 0; k < 400; k++) {
      const viewOff = next() % 16;
      const view = new Uint8Array(backing, viewOff, 70_000 - viewOff);
      const off = next() % 64;
      const len = next() % (70_000 - 64 - 16);
      const initial = k % 3 === 0 ? 0 : next() % 0x40000;
      expect(onesSum(view, off, len, initial)).toBe(ref(view, off, len, initial));
    }
  });

  it('folds 0xffff runs without turning them into 0, and keeps all-zero at 0', () => {
    const ones = new Uint8Array(65536).fill(0xff);
    expect(onesSum(ones, 0, 65536, 0)).toBe(0xffff);
    expect(onesSum(ones, 1, 65533, 0)).toBe(ref(ones, 1, 65533));
    expect(onesSum(new Uint8Array(4096), 0, 4096, 0)).toBe(0);
    expect(onesSum(new Uint8Array(4096), 3, 4000, 0x1234)).toBe(0x1234);
  });

  it('stays exact past the per-chunk fold (9 MiB)', () => {
    const big = randomBytes(9 * 1024 * 1024 + 3, 4);
    expect(onesSum(big, 1, big.length - 1, 0)).toBe(exact(big, 1, big.length - 1));
    big.fill(0xff);
    expect(onesSum(big, 0, big.length, 0)).toBe(exact(big, 0, big.length));
    expect(onesSum(big, 0, 70_000, 0)).toBe(ref(big, 0, 70_000));
  });

  it('stays right when calls alternate among more buffers than its view cache holds', () => {
    const bufs = [randomBytes(1000, 5), randomBytes(1001, 6), randomBytes(1002, 7), randomBytes(999, 8)];
    for (let round = 0; round < 3; round++) {
      for (const b of bufs) expect(onesSum(b, 2, 900, 0)).toBe(ref(b, 2, 900));
    }
    expect(wordsOf(bufs[0]!.buffer)).toBe(wordsOf(bufs[0]!.buffer));
  });
});

describe('fold', () => {
  it('folds with end-around carry', () => {
    expect(fold(0)).toBe(0);
    expect(fold(0xffff)).toBe(0xffff);
    expect(fold(0x10000)).toBe(1);
    expect(fold(0x1fffe)).toBe(0xffff);
    // 2^16 = 1 (mod 0xffff), so 2^52 + 5 = 2^4 + 5.
    expect(fold(2 ** 52 + 5)).toBe(21);
    expect(fold(2 ** 52 + 5)).toBe(exact(new Uint8Array(0), 0, 0, 2 ** 52 + 5));
    expect(fold(0xffff * 0x10001)).toBe(0xffff);
  });
});

describe('copyWithSum and copyBytes', () => {
  it('copy exactly the bytes and return their sum, across buffers at every relative alignment', () => {
    const src = randomBytes(5000, 9);
    for (let so = 0; so < 4; so++) {
      for (let d = 0; d < 4; d++) {
        for (const len of [0, 1, 31, 32, 33, 1399, 1400, 4000]) {
          const dst = new Uint8Array(5000).fill(0xaa);
          expect(copyWithSum(src, so, dst, d, len)).toBe(ref(src, so, len));
          expect(Array.from(dst.subarray(d, d + len))).toEqual(Array.from(src.subarray(so, so + len)));
          expect(dst[d + len]).toBe(0xaa);
          if (d > 0) expect(dst[d - 1]).toBe(0xaa);
          const dst2 = new Uint8Array(5000).fill(0x55);
          copyBytes(src, so, dst2, d, len);
          expect(Array.from(dst2.subarray(d, d + len))).toEqual(Array.from(src.subarray(so, so + len)));
          expect(dst2[d + len]).toBe(0x55);
        }
      }
    }
  });

  it('copyBytes moves within one buffer (a different view of it) without a view per call', () => {
    const whole = randomBytes(4096, 10);
    const expected = whole.slice(100, 1100);
    const a = new Uint8Array(whole.buffer, 64, 2000);
    copyBytes(a, 36, whole, 2500, 1000); // a[36] is whole[100]
    expect(Array.from(whole.subarray(2500, 3500))).toEqual(Array.from(expected));
  });
});

describe('pseudoHeaderSum', () => {
  it('equals the sum of the RFC pseudo-header laid out as bytes, IPv4 and IPv6', () => {
    for (const version of [4, 6] as const) {
      const pkt = tcpPacket({ version, payload: [1, 2, 3] });
      for (const l4 of [0, 23, 1480, 65535, 70000]) {
        const ph = pseudoHeader(pkt, 6, l4);
        if (version === 4 && l4 > 65535) continue; // IPv4's pseudo-header length is 16 bits
        expect(pseudoHeaderSum(pkt, 0, version, 6, l4)).toBe(ref(ph, 0, ph.length));
      }
      // Reads the addresses at an offset.
      const buf = new Uint8Array(pkt.length + 7);
      buf.set(pkt, 7);
      const ph = pseudoHeader(pkt, 17, 99);
      expect(pseudoHeaderSum(buf, 7, version, 17, 99)).toBe(ref(ph, 0, ph.length));
    }
  });
});
