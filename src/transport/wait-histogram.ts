/**
 * How long received datagrams waited in a socket's queue before weft read
 * them, from the kernel's arrival stamps (SO_TIMESTAMPNS): the part of a
 * packet's latency that is weft not yet running, whether behind its own
 * work or behind other processes for a CPU (docs/ARCHITECTURE.md, "Waiting
 * for a CPU"). Counted per message (a GRO run, or one datagram) in
 * power-of-two buckets, so recording is a shift and an increment: nothing
 * allocated, cheap enough for every message.
 */

/** Bucket i holds waits up to BOUNDS_US[i] microseconds: 16 us to 65.5 ms, then the rest. */
export const WAIT_BOUNDS_US: readonly number[] = [...Array.from({ length: 13 }, (_, i) => 16 * 2 ** i), Infinity];

/** A histogram's counts as status carries them: per bucket (not cumulative), their number and sum. */
export interface WaitCounts {
  buckets: number[];
  count: number;
  sumUs: number;
}

export class WaitHistogram {
  readonly counts = new Float64Array(WAIT_BOUNDS_US.length);
  count = 0;
  sumUs = 0;

  /** One message's wait, in whole microseconds (a negative one, never stamped, is not counted). */
  record(us: number): void {
    if (us < 0) return;
    // (16·2^(i-1), 16·2^i] -> i: the bit length of ceil(us / 16) - 1.
    const i = us <= 16 ? 0 : 32 - Math.clz32((us - 1) >> 4);
    this.counts[i < WAIT_BOUNDS_US.length ? i : WAIT_BOUNDS_US.length - 1]!++;
    this.count++;
    this.sumUs += us;
  }

  snapshot(): WaitCounts {
    return { buckets: Array.from(this.counts), count: this.count, sumUs: this.sumUs };
  }
}

/** The bound of the bucket holding quantile q (0 < q <= 1) of `w`: "q of the waits were at most this"; undefined when empty. */
export function waitQuantileUs(w: WaitCounts, q: number): number | undefined {
  if (w.count === 0) return undefined;
  const want = q * w.count;
  let seen = 0;
  for (let i = 0; i < w.buckets.length; i++) {
    seen += w.buckets[i]!;
    if (seen >= want) return WAIT_BOUNDS_US[i]!;
  }
  return Infinity;
}
