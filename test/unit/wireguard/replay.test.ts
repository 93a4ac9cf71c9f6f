import { describe, expect, it } from 'vitest';
import { REJECT_AFTER_MESSAGES, REPLAY_WINDOW, ReplayWindow } from '../../../src/wireguard/replay.ts';

/** The obviously correct reference: a set of seen counters and the highest one. */
class NaiveWindow {
  seen = new Set<number>();
  greatest = -1;
  update(c: number): boolean {
    if (c < 0 || c >= REJECT_AFTER_MESSAGES || this.seen.has(c)) return false;
    if (this.greatest - c >= REPLAY_WINDOW) return false;
    this.seen.add(c);
    this.greatest = Math.max(this.greatest, c);
    return true;
  }
}

describe('ReplayWindow', () => {
  it('is at least 2048 packets wide, as the issue asks', () => {
    expect(REPLAY_WINDOW).toBeGreaterThanOrEqual(2048);
  });

  it('accepts each counter once, in any order inside the window', () => {
    const w = new ReplayWindow();
    for (const c of [0, 2, 1, 5, 3, 4]) expect(w.update(c)).toBe(true);
    for (const c of [0, 1, 2, 3, 4, 5]) expect(w.update(c)).toBe(false);
    expect(w.highest).toBe(5);
  });

  it('check() does not record: a packet that failed authentication leaves no trace', () => {
    const w = new ReplayWindow();
    expect(w.check(7)).toBe(true);
    expect(w.check(7)).toBe(true);
    expect(w.highest).toBe(-1);
    expect(w.update(7)).toBe(true);
    expect(w.check(7)).toBe(false);
  });

  it('refuses counters that fell out of the window, and accepts the oldest one still inside', () => {
    const w = new ReplayWindow();
    expect(w.update(10_000)).toBe(true);
    expect(w.update(10_000 - REPLAY_WINDOW)).toBe(false);
    expect(w.update(10_000 - REPLAY_WINDOW + 1)).toBe(true);
  });

  it('forgets old bits when the window jumps far ahead', () => {
    const w = new ReplayWindow();
    expect(w.update(3)).toBe(true);
    // One full lap of the bitmap later, block 0 is reused for new counters.
    const lap = 256 * 32;
    expect(w.update(lap + 3)).toBe(true);
    expect(w.update(lap + 2)).toBe(true);
    expect(w.update(3)).toBe(false); // too old now
    expect(w.update(2 ** 40)).toBe(true);
    expect(w.update(2 ** 40 - 1)).toBe(true);
    expect(w.update(lap + 4)).toBe(false);
  });

  it('refuses negative counters and counters at REJECT_AFTER_MESSAGES', () => {
    const w = new ReplayWindow();
    expect(w.update(-1)).toBe(false);
    expect(w.update(REJECT_AFTER_MESSAGES)).toBe(false);
  });

  it('agrees with a naive reference on 200,000 random counters (seeded)', () => {
    let x = 0x12345678;
    const rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const w = new ReplayWindow();
    const ref = new NaiveWindow();
    let base = 0;
    for (let i = 0; i < 200_000; i++) {
      // Mostly near the front, sometimes replays, sometimes far behind, sometimes a jump.
      const r = rand();
      let c: number;
      if (r < 0.6) c = base + Math.floor(rand() * 64);
      else if (r < 0.8) c = Math.max(0, base - Math.floor(rand() * (REPLAY_WINDOW + 100)));
      else if (r < 0.99) c = Math.max(0, base - Math.floor(rand() * 64));
      else c = base + Math.floor(rand() * 20_000);
      base = Math.max(base, c);
      expect(w.update(c), `counter ${c} at step ${i}`).toBe(ref.update(c));
    }
  });
});
