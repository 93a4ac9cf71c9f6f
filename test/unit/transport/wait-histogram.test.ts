import { describe, expect, it } from 'vitest';
import { WAIT_BOUNDS_US, WaitHistogram, waitQuantileUs } from '../../../src/transport/wait-histogram.ts';

describe('WaitHistogram', () => {
  it('puts a wait in the bucket whose bound it does not exceed: (16·2^(i-1), 16·2^i] microseconds', () => {
    const h = new WaitHistogram();
    const bucketOf = (us: number) => {
      const before = Array.from(h.counts);
      h.record(us);
      return Array.from(h.counts).findIndex((c, i) => c !== before[i]);
    };
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(16)).toBe(0);
    expect(bucketOf(17)).toBe(1);
    expect(bucketOf(32)).toBe(1);
    expect(bucketOf(33)).toBe(2);
    expect(bucketOf(1000)).toBe(6); // (512, 1024]
    expect(bucketOf(65_536)).toBe(12);
    expect(bucketOf(65_537)).toBe(13);
    expect(bucketOf(2 ** 31 - 1)).toBe(13);
    for (let i = 0; i < 13; i++) {
      expect(bucketOf(WAIT_BOUNDS_US[i]!)).toBe(i);
      expect(bucketOf(WAIT_BOUNDS_US[i]! + 1)).toBe(i + 1);
    }
    expect(h.count).toBe(9 + 26);
  });

  it('counts nothing for an unstamped message (-1)', () => {
    const h = new WaitHistogram();
    h.record(-1);
    expect(h.count).toBe(0);
    expect(h.sumUs).toBe(0);
    expect(waitQuantileUs(h.snapshot(), 0.5)).toBeUndefined();
  });

  it('answers a quantile with its bucket bound: "q of the waits were at most this"', () => {
    const h = new WaitHistogram();
    for (let i = 0; i < 98; i++) h.record(20);
    h.record(3000);
    h.record(100_000);
    const w = h.snapshot();
    expect(w).toMatchObject({ count: 100, sumUs: 98 * 20 + 3000 + 100_000 });
    expect(waitQuantileUs(w, 0.5)).toBe(32);
    expect(waitQuantileUs(w, 0.98)).toBe(32);
    expect(waitQuantileUs(w, 0.99)).toBe(4096);
    expect(waitQuantileUs(w, 1)).toBe(Infinity);
  });
});
