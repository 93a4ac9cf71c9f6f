import { describe, expect, it } from 'vitest';
import { InitiationQueue, MAX_QUEUED, PER_TURN } from '../../../src/wireguard/handshake-queue.ts';
import { INIT_LEN } from '../../../src/wireguard/messages.ts';

const turn = () => new Promise((r) => setImmediate(r));

describe('InitiationQueue', () => {
  it('answers PER_TURN initiations per event-loop turn, in order, from copies', async () => {
    const seen: number[] = [];
    const q = new InitiationQueue((m, address, port) => seen.push(m[0]! + (address === '192.0.2.1' ? 0 : 1000) + port * 0));
    const buf = new Uint8Array(INIT_LEN + 10);
    for (let i = 0; i < 100; i++) {
      buf[5] = i;
      q.push(buf, 5, '192.0.2.1', 51820);
    }
    buf[5] = 255; // the queue holds copies: later writes to the batch buffer change nothing queued
    expect(seen).toEqual([]);
    await turn();
    expect(seen).toHaveLength(PER_TURN);
    await turn();
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(q.length).toBe(0);
  });

  it('is bounded: past MAX_QUEUED the newest is refused and counted; clear() drops the rest', async () => {
    let handled = 0;
    const q = new InitiationQueue(() => handled++);
    const buf = new Uint8Array(INIT_LEN);
    for (let i = 0; i < MAX_QUEUED; i++) expect(q.push(buf, 0, '192.0.2.1', 1)).toBe(true);
    expect(q.push(buf, 0, '192.0.2.1', 1)).toBe(false);
    expect(q.overflowed).toBe(1);
    await turn();
    expect(handled).toBe(PER_TURN);
    q.clear();
    await turn();
    await turn();
    expect(handled).toBe(PER_TURN);
    expect(q.length).toBe(0);
  });
});
