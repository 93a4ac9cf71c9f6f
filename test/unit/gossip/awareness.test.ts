import { describe, expect, it } from 'vitest';
import { Awareness, lagPenalty, scaleByHealth } from '../../../src/gossip/awareness.ts';

describe('awareness (Lifeguard local health)', () => {
  it('scales timeouts by score + 1', () => {
    expect(scaleByHealth(400, 0)).toBe(400);
    expect(scaleByHealth(400, 3)).toBe(1600);
    const a = new Awareness(8);
    expect(a.scale(150)).toBe(150);
    a.apply(2);
    expect(a.scale(150)).toBe(450);
  });

  it('stays within 0 .. max - 1', () => {
    const a = new Awareness(8);
    a.apply(-5);
    expect(a.score).toBe(0);
    a.apply(100);
    expect(a.score).toBe(7);
    a.apply(-1);
    expect(a.score).toBe(6);
  });

  it('penalises event-loop lag by probe intervals, ignoring small delays', () => {
    expect(lagPenalty(50, 100, 400)).toBe(0);
    expect(lagPenalty(100, 100, 400)).toBe(0);
    expect(lagPenalty(150, 100, 400)).toBe(1);
    expect(lagPenalty(500, 100, 400)).toBe(2);
    expect(lagPenalty(4000, 100, 400)).toBe(10);
  });
});
