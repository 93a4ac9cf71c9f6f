/** src/bytes/copy.ts copyBytes against TypedArray.set on random lengths, offsets and alignments. */
import { describe, expect, it } from 'vitest';
import { copyBytes, wordsOf } from '../../../src/bytes/copy.ts';
import { mulberry32 } from '../../helpers/random.ts';

/** Byte equality without vitest's deep compare (slow on thousands of typed arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

describe('copyBytes (seed 0xc0b7)', () => {
  it('copies what set() copies between buffers and within one, touching nothing else', () => {
    const next = mulberry32(0xc0b7);
    const srcWhole = new Uint8Array(4096);
    const dstWhole = new Uint8Array(4096);
    for (let r = 0; r < 3000; r++) {
      for (let i = 0; i < srcWhole.length; i++) srcWhole[i] = next() & 0xff;
      dstWhole.fill(next() & 0xff);
      // Views at odd starts, so word alignment depends on byteOffset as well as the offsets.
      const src = srcWhole.subarray(next() % 8);
      const dst = dstWhole.subarray(next() % 8);
      const len = next() % 3 === 0 ? next() % 40 : next() % 1500;
      const so = next() % (src.length - len);
      const d = next() % (dst.length - len);
      const expected = dst.slice();
      expected.set(src.subarray(so, so + len), d);
      copyBytes(src, so, dst, d, len);
      expect(same(dst, expected), `round ${r}`).toBe(true);
    }
  });

  it('moves within one buffer like copyWithin: overlapping from 32 bytes (memmove), apart at any length', () => {
    const next = mulberry32(0xc0b8);
    const whole = new Uint8Array(4096);
    for (let r = 0; r < 2000; r++) {
      for (let i = 0; i < whole.length; i++) whole[i] = next() & 0xff;
      const a = whole.subarray(next() % 16);
      const len = next() % 1500;
      const from = next() % (a.length - len);
      let to = next() % (a.length - len);
      if (len < 32 && Math.abs(to - from) < len) to = from + len; // short copies must not overlap
      const expected = a.slice();
      expected.copyWithin(to, from, from + len);
      copyBytes(a, from, a, to, len);
      expect(same(a, expected), `round ${r}`).toBe(true);
    }
  });

  it('copies between two views of one buffer when the source lies outside the destination view', () => {
    const next = mulberry32(0xc0b9);
    const whole = new Uint8Array(8192);
    for (let r = 0; r < 500; r++) {
      for (let i = 0; i < whole.length; i++) whole[i] = next() & 0xff;
      const src = whole.subarray(next() % 8, 4096);
      const dst = whole.subarray(4096 + (next() % 8));
      const len = next() % 1500;
      const so = next() % (src.length - len);
      const d = next() % (dst.length - len);
      const expected = whole.slice();
      expected.set(whole.slice(src.byteOffset + so, src.byteOffset + so + len), dst.byteOffset + d);
      copyBytes(src, so, dst, d, len);
      expect(same(whole, expected), `round ${r}`).toBe(true);
    }
  });

  it('makes one word view per buffer', () => {
    const b = new Uint8Array(100);
    expect(wordsOf(b.buffer)).toBe(wordsOf(b.buffer));
    expect(wordsOf(b.buffer).length).toBe(25);
  });
});
