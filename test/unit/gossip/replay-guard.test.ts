import { describe, expect, it } from 'vitest';
import { ReplayGuard } from '../../../src/gossip/replay-guard.ts';

const T = 1_767_225_600_000;
let n = 0;
/** A distinct 24-byte nonce per call. */
const nonce = (): Uint8Array => {
  const b = new Uint8Array(24);
  new DataView(b.buffer).setUint32(0, ++n);
  return b;
};

describe('ReplayGuard', () => {
  it('accepts a nonce once; a repeat is a replay, from any source and at any later time in the window', () => {
    const g = new ReplayGuard({ windowMs: 30_000, capacity: 100 });
    const x = nonce();
    expect(g.check(x, T, T)).toBe('ok');
    expect(g.check(x.slice(), T, T + 1)).toBe('replay');
    expect(g.check(x, T, T + 29_999)).toBe('replay');
    // Once the stamp is outside the window the time check refuses it, cache or not.
    expect(g.check(x, T, T + 30_001)).toBe('too-old');
  });

  it('tolerates clock skew up to the window either way, and no more', () => {
    const g = new ReplayGuard({ windowMs: 30_000, capacity: 100 });
    expect(g.check(nonce(), T + 29_000, T)).toBe('ok'); // sender 29 s ahead
    expect(g.check(nonce(), T - 29_000, T)).toBe('ok'); // sender 29 s behind
    expect(g.check(nonce(), T + 31_000, T)).toBe('too-new');
    expect(g.check(nonce(), T - 31_000, T)).toBe('too-old');
  });

  it('forgets nonces once their stamps leave the window', () => {
    const g = new ReplayGuard({ windowMs: 1000, capacity: 100 });
    for (let i = 0; i < 50; i++) g.check(nonce(), T + i * 10, T + i * 10);
    expect(g.size).toBe(50);
    g.check(nonce(), T + 5000, T + 5000);
    expect(g.size).toBe(1);
  });

  it('stays within its capacity; an evicted nonce stays refused through the floor', () => {
    const g = new ReplayGuard({ windowMs: 30_000, capacity: 10 });
    const first = nonce();
    expect(g.check(first, T, T)).toBe('ok');
    for (let i = 1; i <= 20; i++) expect(g.check(nonce(), T + i, T + i)).toBe('ok');
    expect(g.size).toBe(10);
    // `first` was evicted, yet is still refused: nothing stamped at or before the floor passes.
    expect(g.check(first, T, T + 21)).toBe('replay-cache-full');
    expect(g.check(nonce(), T + 5, T + 21)).toBe('replay-cache-full');
    expect(g.check(nonce(), T + 22, T + 22)).toBe('ok');
  });
});
