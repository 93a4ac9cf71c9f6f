/**
 * De-duplication of identical requests: a sync digest, entries list, want or
 * ping-req that one source sent us, byte for byte (after the stamp), within
 * the last `windowMs` asks for work already done, and is dropped (counted as
 * 'duplicate'). Each copy is a fresh datagram, so the replay guard lets it
 * through: this catches a member, or an insider, asking for the same answer
 * over and over.
 *
 * Pings are not de-duplicated: the prober's second direct ping repeats the
 * first one's sequence number on purpose, so that one lost ack does not cost
 * a suspicion; pings are only rate-limited.
 *
 * Requests are remembered by a 132-bit digest of source and body, in a table
 * bounded by `capacity` (oldest forgotten first: a forgotten request is at
 * worst served twice).
 */
import { createHash } from 'node:crypto';

export interface DedupOptions {
  /**
   * 1 s, one anti-entropy interval. An honest node repeats a sync request
   * only on its next round, a second later (a lost answer is asked for
   * again then); copies inside a second come from two exchanges that
   * overlapped, and the first copy's answer serves both.
   */
  windowMs: number;
  /** 4096 requests: a node receives a few sync requests a second from each exchange, a few hundred a second at most. */
  capacity: number;
}

export const DEFAULT_DEDUP: DedupOptions = { windowMs: 1000, capacity: 4096 };

export class RecentRequests {
  /** Digest of source + body -> when first seen, in arrival order. */
  private readonly seen = new Map<string, number>();

  constructor(readonly opts: DedupOptions = DEFAULT_DEDUP) {}

  get size(): number {
    return this.seen.size;
  }

  /** Whether the same request from the same source arrived within the window; remembers it if not. */
  repeated(source: string, body: Uint8Array, now: number): boolean {
    const key = createHash('sha256').update(source).update(body).digest('base64').slice(0, 22);
    const at = this.seen.get(key);
    if (at !== undefined && now - at < this.opts.windowMs) return true;
    for (const [k, t] of this.seen) {
      if (now - t < this.opts.windowMs && this.seen.size < this.opts.capacity) break;
      this.seen.delete(k);
    }
    // Deleted first so that a re-inserted key moves to the end: the map stays in arrival order.
    this.seen.delete(key);
    this.seen.set(key, now);
    return false;
  }
}
