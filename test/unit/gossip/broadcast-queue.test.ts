import { describe, expect, it } from 'vitest';
import { BroadcastQueue, retransmitLimit } from '../../../src/gossip/broadcast-queue.ts';

const fact = (tag: number, len = 10): Uint8Array => new Uint8Array(len).fill(tag);

describe('retransmitLimit', () => {
  it('is mult * ceil(log10(n + 1))', () => {
    expect(retransmitLimit(4, 1)).toBe(4);
    expect(retransmitLimit(4, 9)).toBe(4);
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(retransmitLimit(4, 100)).toBe(12);
    expect(retransmitLimit(4, 1000)).toBe(16);
    expect(retransmitLimit(4, 0)).toBe(4);
  });
});

describe('BroadcastQueue', () => {
  it('a newer fact about a node replaces the queued older one', () => {
    const q = new BroadcastQueue();
    q.push('a', fact(1));
    q.push('b', fact(2));
    q.push('a', fact(3));
    expect(q.size).toBe(2);
    const out = q.take(1000, 10);
    expect(out.map((f) => f[0])).toEqual([3, 2]);
  });

  it('drops a fact after `limit` transmissions', () => {
    const q = new BroadcastQueue();
    q.push('a', fact(1));
    for (let i = 0; i < 3; i++) expect(q.take(1000, 3)).toHaveLength(1);
    expect(q.take(1000, 3)).toHaveLength(0);
    expect(q.size).toBe(0);
  });

  it('sends the least transmitted facts first and respects the byte budget', () => {
    const q = new BroadcastQueue();
    q.push('old', fact(1, 100));
    q.take(1000, 10);
    q.push('new', fact(2, 100));
    // Room for one fact (100 bytes + 3 of framing): the fresh one wins.
    expect(q.take(110, 10).map((f) => f[0])).toEqual([2]);
    // A fact too big for the budget is skipped, a smaller one still fits.
    q.push('small', fact(3, 5));
    expect(q.take(50, 10).map((f) => f[0])).toEqual([3]);
    expect(q.take(0, 10)).toEqual([]);
  });

  it('a re-pushed fact starts its retransmit budget again', () => {
    const q = new BroadcastQueue();
    q.push('a', fact(1));
    q.take(100, 2);
    q.push('a', fact(2));
    expect(q.take(100, 2)).toHaveLength(1);
    expect(q.take(100, 2)).toHaveLength(1);
    expect(q.take(100, 2)).toHaveLength(0);
  });
});
