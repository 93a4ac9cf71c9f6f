/**
 * Token buckets per source address, in a bounded table: what gossip's
 * request limit (src/gossip/rate-limit.ts) and WireGuard's handshake limit
 * under load (src/wireguard/handshake-load.ts) both keep. Each source gets
 * `burst` tokens, refilled at `perSec`; a request takes one (or `cost`), and
 * one finding too few is refused. Like counters.ts it imports nothing and
 * may be used from any layer.
 *
 * At `maxSources` the least recently seen source is forgotten. A forgotten
 * source starts again with a full bucket, which only ever errs towards
 * letting a request through: a flood from many spoofed sources is bounded
 * elsewhere (gossip's reply budget, WireGuard's cookie budget per tick), and
 * a real peer is never locked out by a full table.
 */

export interface TokenBucketOptions {
  perSec: number;
  burst: number;
  maxSources: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly opts: TokenBucketOptions) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Take `cost` tokens from `source`'s bucket at time `now` (ms); false when it has too few. */
  take(source: string, now: number, cost = 1): boolean {
    let b = this.buckets.get(source);
    if (b === undefined) {
      if (this.buckets.size >= this.opts.maxSources) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.opts.burst, at: now };
    } else {
      // Re-inserted below, so the map's order is least recently seen first.
      this.buckets.delete(source);
      b.tokens = Math.min(this.opts.burst, b.tokens + (Math.max(0, now - b.at) * this.opts.perSec) / 1000);
      b.at = now;
    }
    this.buckets.set(source, b);
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }
}
