import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { InitiationQueue, MAX_QUEUED, Submitted, TURN_BUDGET_MS } from '../../../src/wireguard/handshake-queue.ts';

const turn = () => new Promise((r) => setImmediate(r));

/** A handler that costs more than a whole turn's budget, and records what it saw. */
function costly(seen: number[]) {
  return (m: Uint8Array) => {
    const until = performance.now() + TURN_BUDGET_MS * 1.2;
    while (performance.now() < until) {
      // spend the time an X25519 burst would
    }
    seen.push(m[0]!);
    return m[0]! % 2 === 0;
  };
}

describe('InitiationQueue', () => {
  it('answers at once while the turn has time, then queues in order and answers a turn\'s worth per turn', async () => {
    const seen: number[] = [];
    const q = new InitiationQueue(costly(seen));
    const verdicts = Array.from({ length: 5 }, (_, i) => q.submit(Uint8Array.of(i), '192.0.2.1', 51820));
    // The first one spent the turn's budget: the rest wait, untouched, for later turns.
    expect(verdicts).toEqual([Submitted.Done, Submitted.Queued, Submitted.Queued, Submitted.Queued, Submitted.Queued]);
    expect(seen).toEqual([0]);
    await turn();
    expect(seen).toEqual([0, 1]);
    for (let i = 0; i < 6; i++) await turn();
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(q.length).toBe(0);
  });

  it('cheap work never waits: a handler that drops at once is answered inside the batch', () => {
    const q = new InitiationQueue(() => false);
    for (let i = 0; i < 100; i++) expect(q.submit(new Uint8Array(1), '192.0.2.1', 1)).toBe(Submitted.Failed);
    q.clear();
  });

  it('is bounded: past MAX_QUEUED the newest is shed and counted; clear() drops what waits', async () => {
    const seen: number[] = [];
    const q = new InitiationQueue(costly(seen));
    for (let i = 0; i < 1 + MAX_QUEUED; i++) expect(q.submit(new Uint8Array(1), '192.0.2.1', 1)).not.toBe(Submitted.Full);
    expect(q.submit(new Uint8Array(1), '192.0.2.1', 1)).toBe(Submitted.Full);
    expect(q.overflowed).toBe(1);
    expect(q.length).toBe(MAX_QUEUED);
    q.clear();
    await turn();
    await turn();
    expect(seen).toHaveLength(1);
    expect(q.length).toBe(0);
  });
});
