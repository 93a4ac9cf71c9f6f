/**
 * The receive-side replay window for transport data (whitepaper 5.4.6;
 * the bitmap-of-blocks scheme of RFC 6479).
 *
 * A counter is accepted once, and only while it is no more than WINDOW
 * behind the highest counter accepted so far. The bitmap is a ring of
 * 32-bit blocks; moving the window forward clears whole blocks instead of
 * shifting bits, so an update costs O(1) however far the counter jumps.
 *
 * Two steps, because the counter is only trustworthy after the packet
 * authenticated: `check` (read only) lets the receive path skip the AEAD for
 * an obvious replay, and `update` (after authentication) records it. A
 * forged packet therefore never moves the window.
 *
 * Counters are JS numbers. Exact up to 2^53, which at ten million packets a
 * second is 28 years: REJECT_AFTER_TIME retires a keypair after 180 s, long
 * before. A counter at or above REJECT_AFTER_MESSAGES is refused outright.
 */

const BLOCK_BITS = 32;
/** 256 blocks: 8192 bits of bitmap, of which one block is always being recycled. */
const BLOCKS = 256;
/** Counters this far behind the highest accepted one are still accepted once. */
export const REPLAY_WINDOW = (BLOCKS - 1) * BLOCK_BITS;
/** 2^64 - 2^13 - 1 (whitepaper 6.1), stated in float: above 2^53 only the comparison matters. */
export const REJECT_AFTER_MESSAGES = 2 ** 64 - 2 ** 13 - 1;

export class ReplayWindow {
  private readonly bitmap = new Uint32Array(BLOCKS);
  /** Highest counter accepted so far; -1 before the first. */
  private greatest = -1;

  /** Could `counter` be fresh? Read only: call before authenticating. */
  check(counter: number): boolean {
    if (counter >= REJECT_AFTER_MESSAGES || counter < 0) return false;
    if (counter > this.greatest) return true;
    if (this.greatest - counter >= REPLAY_WINDOW) return false;
    const block = Math.floor(counter / BLOCK_BITS) % BLOCKS;
    return (this.bitmap[block]! & (1 << counter % BLOCK_BITS)) === 0;
  }

  /** Record an authenticated counter; false if it was a replay or too old after all. */
  update(counter: number): boolean {
    if (!this.check(counter)) return false;
    const index = Math.floor(counter / BLOCK_BITS);
    if (counter > this.greatest) {
      const current = this.greatest < 0 ? -1 : Math.floor(this.greatest / BLOCK_BITS);
      const advance = Math.min(index - current, BLOCKS);
      for (let i = 1; i <= advance; i++) this.bitmap[(current + i) % BLOCKS] = 0;
      this.greatest = counter;
    }
    this.bitmap[index % BLOCKS]! |= 1 << counter % BLOCK_BITS;
    return true;
  }

  /** The highest counter accepted so far, or -1. */
  get highest(): number {
    return this.greatest;
  }

  reset(): void {
    this.bitmap.fill(0);
    this.greatest = -1;
  }
}
