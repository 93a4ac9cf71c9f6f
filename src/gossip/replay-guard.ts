/**
 * Replay protection for sealed gossip datagrams. The cluster key proves a
 * datagram came from some member, not that it is new: anyone on the path can
 * capture one and send it again, from any source address, and without a
 * guard every copy was answered (issue 11: 28 bytes out per byte in).
 *
 * Two checks, both on authenticated data (the guard runs after the AEAD has
 * opened the datagram, so it cannot be filled by forgeries):
 *
 *  - a time window: the sender's wall-clock stamp must be within
 *    `windowMs` of ours, either way. Anything older is refused outright.
 *  - a nonce cache: every accepted datagram's 24-byte random nonce is kept
 *    until its stamp leaves the window, and a repeat is refused. Inside the
 *    window this is exact; outside it the time check takes over, so the
 *    cache never needs to remember longer than the window.
 *
 * Memory is bounded by `capacity`. When the cache is full the oldest entry
 * is evicted and the guard raises a floor to that entry's stamp: anything
 * stamped at or before the floor is refused from then on, since the guard
 * can no longer vouch for it. Eviction therefore never opens a hole; under
 * overload it tightens the window instead (counted as 'replay-cache-full').
 *
 * The cache is per receiving node rather than per sender: the sender's name
 * is whatever a key holder writes into the plaintext, so a per-sender table
 * would need its own bound and an eviction policy that an insider could
 * steer. A datagram sent to another node is refused by the stamp's recipient
 * (codec.ts), not here.
 */

export interface ReplayGuardOptions {
  /**
   * 30 s either way. Nodes run NTP and normally agree to milliseconds, but a
   * VM resumed from suspend or a host without NTP can be seconds off, and a
   * receiver that stalled reads datagrams that waited in its socket; 30 s
   * tolerates all of that with margin. Shorter would not make a replay any
   * less useless (inside the window the nonce cache refuses it), it would
   * only shrink the cache.
   */
  windowMs: number;
  /**
   * 32768 nonces, about 3 MB at most. The cache holds what arrived in the
   * last 2 * windowMs at worst (a sender ahead by the whole window): a node
   * of a 1000-member cluster receives about 50 datagrams a second (2.5 pings
   * and 2.5 acks, up to 30 gossip messages while news spreads, a few for
   * anti-entropy), 3000 in 60 s; the capacity leaves ten times that.
   */
  capacity: number;
}

export const DEFAULT_REPLAY_GUARD: ReplayGuardOptions = { windowMs: 30_000, capacity: 32_768 };

/** 'ok', or why a datagram is refused (each is a drop reason of membership). */
export type ReplayVerdict = 'ok' | 'replay' | 'too-old' | 'too-new' | 'replay-cache-full';

export class ReplayGuard {
  /** Nonce (as a latin1 string) -> stamp, in arrival order. */
  private readonly seen = new Map<string, number>();
  /** Stamps at or below this were evicted early: the guard cannot tell a replay of them. */
  private floor = -Infinity;

  constructor(readonly opts: ReplayGuardOptions = DEFAULT_REPLAY_GUARD) {}

  get size(): number {
    return this.seen.size;
  }

  /** Check a datagram stamped `sentAt` with this nonce, at our wall-clock time `now`; remember it if accepted. */
  check(nonce: Uint8Array, sentAt: number, now: number): ReplayVerdict {
    const w = this.opts.windowMs;
    if (sentAt > now + w) return 'too-new';
    if (sentAt < now - w) return 'too-old';
    const key = Buffer.from(nonce.buffer, nonce.byteOffset, nonce.length).toString('latin1');
    if (this.seen.has(key)) return 'replay';
    if (sentAt <= this.floor) return 'replay-cache-full';
    this.expire(now - w);
    if (this.seen.size >= this.opts.capacity) {
      const [oldKey, oldAt] = this.seen.entries().next().value as [string, number];
      this.seen.delete(oldKey);
      if (oldAt > this.floor) this.floor = oldAt;
      if (sentAt <= this.floor) return 'replay-cache-full';
    }
    this.seen.set(key, sentAt);
    return 'ok';
  }

  /**
   * Forget nonces stamped before `before`: the time check refuses them now. Arrival order is
   * nearly stamp order, so this stops at the first younger entry; an entry held behind it is
   * only forgotten a little later, and the capacity bounds the cache regardless.
   */
  private expire(before: number): void {
    for (const [k, at] of this.seen) {
      if (at >= before) return;
      this.seen.delete(k);
    }
  }
}
