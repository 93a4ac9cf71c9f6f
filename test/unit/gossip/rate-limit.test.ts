import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMIT, TokenBuckets } from '../../../src/gossip/rate-limit.ts';

describe('TokenBuckets', () => {
  it('allows a burst, then the refill rate, per source', () => {
    const b = new TokenBuckets({ perSec: 10, burst: 5, maxSources: 100 });
    for (let i = 0; i < 5; i++) expect(b.take('a:1', 0)).toBe(true);
    expect(b.take('a:1', 0)).toBe(false);
    expect(b.take('b:1', 0)).toBe(true); // another source has its own bucket
    expect(b.take('a:1', 100)).toBe(true); // 100 ms at 10/s: one token
    expect(b.take('a:1', 100)).toBe(false);
    expect(b.take('a:1', 10_000)).toBe(true); // refilled, but never above the burst
    for (let i = 0; i < 4; i++) expect(b.take('a:1', 10_000)).toBe(true);
    expect(b.take('a:1', 10_000)).toBe(false);
  });

  it('keeps at most maxSources, forgetting the least recently seen', () => {
    const b = new TokenBuckets({ perSec: 1, burst: 1, maxSources: 3 });
    for (const s of ['a', 'b', 'c']) b.take(s, 0);
    b.take('a', 0); // a is recent again; b is now the oldest
    b.take('d', 0);
    expect(b.size).toBe(3);
    expect(b.take('a', 0)).toBe(false); // remembered: still empty
    expect(b.take('b', 0)).toBe(true); // forgotten: a fresh bucket
  });

  it('honest peak (a full-map exchange at 1000 nodes plus probing, ~30 requests a second, 40 here) fits the defaults with margin', () => {
    const b = new TokenBuckets(DEFAULT_RATE_LIMIT);
    let refused = 0;
    for (let s = 0; s < 10; s++) for (let i = 0; i < 40; i++) if (!b.take('peer:7946', s * 1000 + i * 25)) refused++;
    expect(refused).toBe(0);
  });
});
