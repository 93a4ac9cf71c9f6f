import { describe, expect, it } from 'vitest';
import { Joiner, MAX_REJOINS } from '../../../src/gossip/join.ts';
import type { Endpoint } from '../../../src/gossip/join.ts';

function setup() {
  const log: string[] = [];
  const state = { live: 1, known: new Set<string>() };
  const j = new Joiner({
    announce: (s: Endpoint) => log.push(`announce ${s.address}`),
    pull: (s: Endpoint) => log.push(`pull ${s.address}`),
    liveCount: () => state.live,
    knownLive: (s: Endpoint) => state.known.has(s.address),
  });
  return { j, log, state };
}

const seeds = [{ address: '192.0.2.1', port: 7946 }, { address: '192.0.2.2', port: 7946 }];

describe('Joiner', () => {
  it('announces at once and pulls on the next tick, after the announcement', () => {
    const s = setup();
    s.j.join(seeds);
    expect(s.log).toEqual(['announce 192.0.2.1', 'announce 192.0.2.2']);
    s.j.tick();
    expect(s.log.slice(2)).toEqual(['pull 192.0.2.1', 'pull 192.0.2.2']);
    s.j.tick();
    expect(s.log).toHaveLength(4);
  });

  it('announces again each sync round until a seed is a known live member', () => {
    const s = setup();
    s.j.join(seeds);
    s.j.tick();
    s.log.length = 0;
    s.j.syncRound();
    expect(s.log).toEqual(['announce 192.0.2.1', 'announce 192.0.2.2']);
    // Knowing some members (an island of joiners) is not enough; knowing a seed is.
    s.state.live = 3;
    s.j.syncRound();
    expect(s.log).toHaveLength(4);
    s.state.known.add('192.0.2.2');
    s.j.syncRound();
    expect(s.log).toHaveLength(4);
  });

  it('stops after MAX_REJOINS rounds for seeds no record names, but never while it knows nobody', () => {
    const s = setup();
    s.j.join(seeds);
    s.state.live = 5;
    for (let i = 0; i < MAX_REJOINS + 10; i++) s.j.syncRound();
    expect(s.log.filter((l) => l.startsWith('announce'))).toHaveLength(2 * (1 + MAX_REJOINS));
    s.state.live = 1;
    s.j.syncRound();
    expect(s.log.filter((l) => l.startsWith('announce'))).toHaveLength(2 * (2 + MAX_REJOINS));
  });

  it('does nothing without seeds (the first node)', () => {
    const s = setup();
    s.j.syncRound();
    s.j.tick();
    expect(s.log).toEqual([]);
  });
});
