/**
 * What an unauthenticated sender can make a responder do, bounded.
 *
 * A valid MAC1 needs only the responder's public key, so anyone who knows
 * it can send initiations that cost the responder an X25519 each before
 * they fail. The whitepaper's answer (5.3) is the cookie: under load, an
 * initiation without a valid MAC2 earns only a cookie reply, and the
 * sender must prove it receives at its source address before any curve
 * operation is spent on it.
 *
 * "Under load" is therefore measured as handshake work *arriving* (messages
 * whose MAC1 checked out), not handshakes that succeed: forged initiations
 * never succeed, so counting successes never sees a flood. Once the arrival
 * rate passes the threshold the responder stays under load for a hold time,
 * so a steady flood pays for DH only in the tick where it was detected.
 *
 * The replies themselves are bounded too: a per-source token bucket (as
 * wireguard-go keeps per IP) for everything answered while under load, and
 * a global budget of cookie replies per tick, so a flood from many spoofed
 * sources costs a fixed amount of sealing per second and reflects no more
 * bytes than it sent (a cookie reply, 64 bytes, is smaller than the 148-byte
 * initiation that provoked it).
 */

import type { TokenBucketOptions } from '../dataplane/token-buckets.ts';

/** More handshake messages with a valid MAC1 than this in one 100 ms tick means load: 640 per second is far above any honest rate. */
export const HANDSHAKES_PER_TICK_BEFORE_LOAD = 64;
/** Once under load, stay so this long after the last tick that exceeded the threshold (wireguard-go holds 1 s). */
export const UNDER_LOAD_HOLD_MS = 1000;
/**
 * Per source address while under load: a handshake message every 50 ms on
 * average, bursts of 5 (wireguard-go's limits); 4096 sources tracked, the
 * least recently seen forgotten past that (src/dataplane/token-buckets.ts).
 */
export const PER_SOURCE_LIMIT: TokenBucketOptions = { perSec: 20, burst: 5, maxSources: 4096 };
/** Cookie replies per tick, whatever the number of sources: 1000 per second costs about 2% of a core. */
export const COOKIE_REPLIES_PER_TICK = 100;

export class HandshakeLoad {
  /** Handshake messages with a valid MAC1 that arrived in this tick. */
  arrivedThisTick = 0;
  private underLoadUntil = -Infinity;
  private readonly holdMs: number;

  constructor(scale = 1) {
    this.holdMs = UNDER_LOAD_HOLD_MS * scale;
  }

  /** One handshake message with a valid MAC1 arrived at `now`; returns whether we are under load. */
  arrive(now: number): boolean {
    if (++this.arrivedThisTick > HANDSHAKES_PER_TICK_BEFORE_LOAD) this.underLoadUntil = Math.max(this.underLoadUntil, now + this.holdMs);
    return now < this.underLoadUntil;
  }

  underLoad(now: number): boolean {
    return now < this.underLoadUntil;
  }

  newTick(): void {
    this.arrivedThisTick = 0;
  }

  /** Force load on for `ms` (tests, and an operator's future "always require cookies"). */
  holdFor(now: number, ms: number): void {
    this.underLoadUntil = Math.max(this.underLoadUntil, now + ms);
  }
}
