import { describe, expect, it } from 'vitest';
import { RecentRequests } from '../../../src/gossip/request-dedup.ts';

describe('RecentRequests', () => {
  it('flags the same body from the same source within the window only', () => {
    const r = new RecentRequests({ windowMs: 1000, capacity: 100 });
    const body = Uint8Array.of(8, 1, 0x61, 0, 1, 1, 2, 3, 4, 5, 6);
    expect(r.repeated('a:1', body, 0)).toBe(false);
    expect(r.repeated('a:1', body.slice(), 500)).toBe(true);
    expect(r.repeated('b:1', body, 500)).toBe(false); // another source
    expect(r.repeated('a:1', Uint8Array.of(8, 1, 0x61, 0, 0), 500)).toBe(false); // another request
    expect(r.repeated('a:1', body, 1000)).toBe(false); // the window has passed
    expect(r.repeated('a:1', body, 1999)).toBe(true);
  });

  it('keeps at most capacity entries', () => {
    const r = new RecentRequests({ windowMs: 60_000, capacity: 50 });
    for (let i = 0; i < 500; i++) r.repeated(`s${i}:1`, Uint8Array.of(i & 0xff), i);
    expect(r.size).toBeLessThanOrEqual(50);
  });
});
