/**
 * Facts waiting to be piggybacked on outgoing messages. SWIM disseminates by
 * infection: each fact rides on a bounded number of messages, and since every
 * receiver passes it on too, lambda * log(N) transmissions per node reach all
 * N nodes with high probability (SWIM paper, section 4.1).
 *
 * One entry per node name: a newer fact about a node replaces any queued
 * older one (an alive after a suspect, a refutation after a record), so a
 * flapping node never fills the queue and stale facts are never sent.
 * Fresh facts go first: the fewest transmissions so far wins the space.
 */
import { factCost } from './codec.ts';

/**
 * Transmissions per fact: mult * ceil(log10(n + 1)). log10 rather than ln
 * because the constant is tuned with it (memberlist's RetransmitMult 4 uses
 * the same form); n + 1 so that a lone pair still sends each fact `mult` times.
 */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(Math.max(1, n) + 1));
}

interface Item {
  key: string;
  fact: Uint8Array;
  transmits: number;
  /** Insertion order: among equals, newer facts go first. */
  id: number;
}

export class BroadcastQueue {
  private readonly items = new Map<string, Item>();
  private nextId = 0;

  get size(): number {
    return this.items.size;
  }

  /** Queue a fact about node `key`, replacing whatever older fact about it was waiting. */
  push(key: string, fact: Uint8Array): void {
    this.items.set(key, { key, fact, transmits: 0, id: this.nextId++ });
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  /**
   * Take facts that fit `budget` plaintext bytes for one message; each taken
   * fact counts one transmission and leaves the queue at `limit`.
   */
  take(budget: number, limit: number, max = 255): Uint8Array[] {
    if (this.items.size === 0) return [];
    const order = [...this.items.values()].sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: Uint8Array[] = [];
    let left = budget;
    for (const it of order) {
      if (out.length >= max) break;
      const cost = factCost(it.fact);
      if (cost > left) continue;
      left -= cost;
      out.push(it.fact);
      if (++it.transmits >= limit) this.items.delete(it.key);
    }
    return out;
  }

  clear(): void {
    this.items.clear();
  }
}
