import { describe, expect, it } from 'vitest';
import { ReplyBudget } from '../../../src/gossip/reply-budget.ts';

describe('ReplyBudget', () => {
  it('lets out at most ratio times the bytes received, cumulatively', () => {
    const b = new ReplyBudget({ ratio: 3, maxSources: 10 });
    expect(b.spend('x:1', 1)).toBe(false); // nothing received, nothing owed
    b.received('x:1', 100);
    expect(b.spend('x:1', 250)).toBe(true);
    expect(b.spend('x:1', 51)).toBe(false);
    expect(b.spend('x:1', 50)).toBe(true);
    b.received('x:1', 100);
    expect(b.spend('x:1', 300)).toBe(true);
    expect(b.spend('x:1', 1)).toBe(false);
  });

  it('forgets in and out together, so the bound holds across eviction', () => {
    const b = new ReplyBudget({ ratio: 3, maxSources: 2 });
    b.received('a', 100);
    expect(b.spend('a', 300)).toBe(true);
    b.received('b', 1);
    b.received('c', 1); // evicts a
    expect(b.size).toBe(2);
    expect(b.spend('a', 1)).toBe(false);
    b.received('a', 10);
    expect(b.spend('a', 31)).toBe(false);
    expect(b.spend('a', 30)).toBe(true);
  });
});
