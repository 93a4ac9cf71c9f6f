import { describe, expect, it } from 'vitest';
import { InitiationQueue, MAX_QUEUED, PER_TURN, Submitted } from '../../../src/wireguard/handshake-queue.ts';

const turn = () => new Promise((r) => setImmediate(r));

describe('InitiationQueue', () => {
  it('answers PER_TURN initiations at once in a turn, queues the rest in order for later turns', async () => {
    const seen: number[] = [];
    const q = new InitiationQueue((m) => {
      seen.push(m[0]!);
      return m[0]! % 2 === 0;
    });
    const verdicts = Array.from({ length: 30 }, (_, i) => q.submit(Uint8Array.of(i), '192.0.2.1', 51820));
    // The first PER_TURN ran inside the call (accepted or dropped by the handler); the rest wait.
    expect(verdicts.slice(0, PER_TURN)).toEqual(Array.from({ length: PER_TURN }, (_, i) => (i % 2 === 0 ? Submitted.Done : Submitted.Failed)));
    expect(verdicts.slice(PER_TURN).every((v) => v === Submitted.Queued)).toBe(true);
    expect(seen).toHaveLength(PER_TURN);
    await turn();
    expect(seen).toHaveLength(2 * PER_TURN);
    for (let i = 0; i < 5; i++) await turn();
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // Nothing waits: the next one runs at once again.
    await turn();
    expect(q.submit(Uint8Array.of(40), '192.0.2.1', 1)).toBe(Submitted.Done);
  });

  it('is bounded: past MAX_QUEUED the newest is shed and counted; clear() drops what waits', async () => {
    let handled = 0;
    const q = new InitiationQueue(() => {
      handled++;
      return true;
    });
    for (let i = 0; i < PER_TURN + MAX_QUEUED; i++) expect(q.submit(new Uint8Array(1), '192.0.2.1', 1)).not.toBe(Submitted.Full);
    expect(q.submit(new Uint8Array(1), '192.0.2.1', 1)).toBe(Submitted.Full);
    expect(q.overflowed).toBe(1);
    expect(q.length).toBe(MAX_QUEUED);
    q.clear();
    await turn();
    await turn();
    expect(handled).toBe(PER_TURN);
    expect(q.length).toBe(0);
  });
});
