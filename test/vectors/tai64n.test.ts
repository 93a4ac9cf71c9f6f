/**
 * TAI64N known answers. The encoding is TAI64 (cr.yp.to/libtai/tai64.html):
 * an 8-byte big-endian label, 2^62 + TAI seconds, then 4 big-endian bytes of
 * nanoseconds; WireGuard implementations (Linux noise.c, wireguard-go
 * tai64n.go) write the label as 0x400000000000000a + Unix seconds and round
 * the nanoseconds down to a multiple of 2^24. The expected bytes below are
 * worked out by hand from that definition.
 */
import { describe, expect, it } from 'vitest';
import { compareTai64n, tai64nNow, whitenNanos, writeTai64n } from '../../src/crypto/tai64n.ts';
import { fromHex, toHex } from './hex.ts';

describe('TAI64N encoding', () => {
  it('encodes the Unix epoch as label 2^62 + 10 and zero nanoseconds', () => {
    const out = new Uint8Array(12);
    writeTai64n(out, 0, 0, 0);
    expect(toHex(out)).toBe(toHex(fromHex('40 00 00 00 00 00 00 0a 00 00 00 00')));
  });

  it('encodes 2023-11-14T22:13:20.123456789Z (Unix 1700000000)', () => {
    // 1700000000 + 10 = 0x6553F10A; 123456789 = 0x075BCD15.
    const out = new Uint8Array(16).fill(0xee);
    writeTai64n(out, 2, 1_700_000_000, 123_456_789);
    expect(toHex(out)).toBe(toHex(fromHex('ee ee 40 00 00 00 65 53 f1 0a 07 5b cd 15 ee ee')));
  });

  it('carries seconds past 2^32 into the label high word', () => {
    const out = new Uint8Array(12);
    writeTai64n(out, 0, 2 ** 32 - 10 + 5, 999_999_999); // label low word wraps to 5
    expect(toHex(out)).toBe(toHex(fromHex('40 00 00 01 00 00 00 05 3b 9a c9 ff')));
  });

  it('whitens nanoseconds down to a multiple of 2^24 (16777216 ns)', () => {
    expect(whitenNanos(0)).toBe(0);
    expect(whitenNanos(16_777_215)).toBe(0);
    expect(whitenNanos(16_777_216)).toBe(16_777_216);
    expect(whitenNanos(123_456_789)).toBe(0x0700_0000);
    expect(whitenNanos(999_999_999)).toBe(59 * 16_777_216); // 989855744
  });

  it('writes the whitened wall-clock time', () => {
    const out = new Uint8Array(12);
    tai64nNow(out, 0, 1_700_000_000_123); // .123 s -> 123000000 ns -> 117440512 (7 * 2^24)
    expect(toHex(out)).toBe(toHex(fromHex('40 00 00 00 65 53 f1 0a 07 00 00 00')));
  });
});

describe('TAI64N ordering', () => {
  it('orders by seconds, then nanoseconds, byte by byte', () => {
    const a = new Uint8Array(24);
    writeTai64n(a, 0, 1_700_000_000, 0x0700_0000);
    writeTai64n(a, 12, 1_700_000_000, 0x0800_0000);
    expect(compareTai64n(a, 0, a, 12)).toBe(-1);
    expect(compareTai64n(a, 12, a, 0)).toBe(1);
    expect(compareTai64n(a, 0, a, 0)).toBe(0);
    const b = new Uint8Array(12);
    writeTai64n(b, 0, 1_700_000_001, 0);
    expect(compareTai64n(a, 12, b, 0)).toBe(-1);
  });

  it('gives initiations 20 ms apart (the initiation rate limit) strictly increasing timestamps', () => {
    const x = new Uint8Array(12);
    const y = new Uint8Array(12);
    for (let ms = 1_700_000_000_000; ms < 1_700_000_002_000; ms += 7) {
      tai64nNow(x, 0, ms);
      tai64nNow(y, 0, ms + 20);
      expect(compareTai64n(x, 0, y, 0), `at ${ms}`).toBe(-1);
    }
  });
});
