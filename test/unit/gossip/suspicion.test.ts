import { describe, expect, it } from 'vitest';
import { Suspicion, confirmationsWanted, suspicionMin, suspicionTimeout } from '../../../src/gossip/suspicion.ts';

describe('suspicionTimeout (Lifeguard)', () => {
  it('starts at the maximum and reaches the minimum at k confirmations', () => {
    expect(suspicionTimeout(0, 3, 1000, 6000)).toBe(6000);
    expect(suspicionTimeout(3, 3, 1000, 6000)).toBe(1000);
    expect(suspicionTimeout(7, 3, 1000, 6000)).toBe(1000);
  });

  it('shrinks logarithmically: the first confirmation counts most', () => {
    const t = [0, 1, 2, 3].map((c) => suspicionTimeout(c, 3, 1000, 6000));
    // max - (max - min) * log(c + 1) / log(k + 1)
    expect(t[1]).toBe(Math.floor(6000 - (5000 * Math.log(2)) / Math.log(4)));
    expect(t[1]).toBe(3500);
    expect(t[0]! - t[1]!).toBeGreaterThan(t[1]! - t[2]!);
    expect(t[1]! - t[2]!).toBeGreaterThan(t[2]! - t[3]!);
  });

  it('uses the minimum when no confirmation is possible', () => {
    expect(suspicionTimeout(0, 0, 1000, 6000)).toBe(1000);
    expect(confirmationsWanted(3, 2)).toBe(0);
    expect(confirmationsWanted(3, 4)).toBe(2);
    expect(confirmationsWanted(3, 1000)).toBe(3);
  });

  it('scales the minimum with log10 of the cluster size', () => {
    expect(suspicionMin(2, 1, 400)).toBe(800);
    expect(suspicionMin(2, 10, 400)).toBe(800);
    expect(suspicionMin(2, 1000, 400)).toBeCloseTo(2400);
  });
});

describe('Suspicion', () => {
  it('counts each independent accuser once, and not the first one', () => {
    const s = new Suspicion(10_000, 3, 1000, 6000, 'a');
    expect(s.deadline).toBe(16_000);
    expect(s.confirm('a')).toBe(false);
    expect(s.confirm('b')).toBe(true);
    expect(s.confirm('b')).toBe(false);
    expect(s.deadline).toBe(13_500);
    expect(s.confirm('c')).toBe(true);
    expect(s.confirm('d')).toBe(true);
    expect(s.confirm('e')).toBe(false); // k reached: nothing new to gossip
    expect(s.deadline).toBe(11_000);
    s.extend(500);
    expect(s.deadline).toBe(11_500);
  });
});
