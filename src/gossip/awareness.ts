/**
 * Lifeguard's local health multiplier (paper section 4.1): a node that is
 * itself slow (overloaded, paused, its event loop stalled) sees others'
 * replies late and would wrongly accuse them. So it keeps a score of its own
 * health and stretches its probe interval and timeouts by (score + 1), and
 * a stalled node doubts itself before it accuses others.
 *
 * The score rises when a probe fails without even the relays' nacks (we may
 * be the one cut off), when we have to refute a suspicion about ourselves,
 * and when our own tick runs late (event-loop lag); it falls with each
 * successful probe.
 */

/** Timeout scaled by health: base * (score + 1). */
export function scaleByHealth(baseMs: number, score: number): number {
  return baseMs * (score + 1);
}

/**
 * Score penalty for a late tick: one point per probe interval of lag, at
 * least one once the lag passes `thresholdMs`. A 500 ms stall at a 400 ms
 * interval costs 2 points: the next probes wait 3x longer, giving queued
 * replies time to be read before anyone is accused.
 */
export function lagPenalty(lagMs: number, thresholdMs: number, probeIntervalMs: number): number {
  if (lagMs <= thresholdMs) return 0;
  return Math.max(1, Math.ceil(lagMs / probeIntervalMs));
}

export class Awareness {
  private value = 0;

  /** Lifeguard uses 8: at most a 9x slowdown, enough to ride out a long stall without going deaf. */
  constructor(readonly max = 8) {}

  get score(): number {
    return this.value;
  }

  apply(delta: number): void {
    this.value = Math.min(this.max - 1, Math.max(0, this.value + delta));
  }

  scale(baseMs: number): number {
    return scaleByHealth(baseMs, this.value);
  }
}
