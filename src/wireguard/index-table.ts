/**
 * Local session indices (whitepaper 5.4.2): a random 32-bit number names each
 * handshake and keypair we hold, and peers put it in the receiver field of
 * what they send us, so a message finds its session in one map lookup
 * without revealing which peer it is. Random rather than sequential so an
 * observer learns nothing from them; unique among the live ones.
 */
import { randomFillSync } from 'node:crypto';

export class IndexTable<T> {
  private readonly entries = new Map<number, T>();
  private readonly scratch = new Uint32Array(1);

  /** Reserve a fresh random index for `value`. */
  allocate(value: T): number {
    for (;;) {
      randomFillSync(this.scratch);
      const index = this.scratch[0]!;
      if (index !== 0 && !this.entries.has(index)) {
        this.entries.set(index, value);
        return index;
      }
    }
  }

  /** Point an index we hold at a new value (a handshake became a keypair). */
  replace(index: number, value: T): void {
    if (this.entries.has(index)) this.entries.set(index, value);
  }

  get(index: number): T | undefined {
    return this.entries.get(index);
  }

  delete(index: number): void {
    this.entries.delete(index);
  }

  get size(): number {
    return this.entries.size;
  }
}
