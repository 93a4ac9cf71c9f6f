/**
 * How far this node believes each claimer (claim.ts): a token bucket per
 * claimer, and a score of its claims that were refuted.
 *
 * A claim is refuted when the member it accused shows a newer signed record
 * of its own (the SWIM refutation) while the claim stands: every claimer of
 * that suspicion, or the claimer of that death if the member comes back
 * within `blameWindowMs` (later, it was more likely a restart than a lie),
 * scores a point. The score halves every `halfLifeMs`; at `distrustAt` this
 * node ignores the claimer's claims (counted as 'distrusted-claimer') and
 * so no longer passes them on, until the score has decayed to half of that
 * (hysteresis: a liar does not get one lie through each time its score
 * dips under the threshold). A liar is cut off after a handful of lies, on
 * every node that saw them refuted, and is heard again only once it has
 * stopped for several minutes; an honest member on a bad link, whose
 * suspicions are now and then refuted, stays far below the threshold. Each
 * node judges from what it saw itself: there is no vote to forge.
 *
 * Both tables are bounded (`maxClaimers`, least recently seen forgotten
 * first): a forgotten claimer starts again trusted, with a full bucket,
 * which errs towards believing members, never towards locking one out.
 */
import { TokenBuckets } from '../dataplane/token-buckets.ts';

export interface ClaimTrustOptions {
  /**
   * 2 claims a second per claimer, 32 at once. An honest member claims at most one suspicion per
   * probe (2.5 a second, one in two failing probes being rare), and declares deaths in bursts
   * only when a partition takes many members at once: 32 covers a rack.
   */
  perSec: number;
  burst: number;
  /**
   * 4 refuted claims (after decay) and a claimer is ignored. An honest member's suspicion is
   * refuted only when its target stalled through two full probes (prober.ts): a few times an hour
   * on a bad day, spread over all members.
   */
  distrustAt: number;
  /** A refutation counts half after 5 min: a liar cut off at 4 to 6 points is heard again after 5 to 8 min. */
  halfLifeMs: number;
  /** A dead member back within 10 s refutes its death; later it restarted, and its claimer was right. */
  blameWindowMs: number;
  /** 4096 claimers: the members of a large cluster, with room. */
  maxClaimers: number;
}

export const DEFAULT_CLAIM_TRUST: ClaimTrustOptions = {
  perSec: 2, burst: 32, distrustAt: 4, halfLifeMs: 300_000, blameWindowMs: 10_000, maxClaimers: 4096,
};

interface Score {
  value: number;
  at: number;
  /** Reached distrustAt, and not yet decayed to half of it. */
  distrusted: boolean;
}

export class ClaimTrust {
  readonly opts: ClaimTrustOptions;
  private readonly buckets: TokenBuckets;
  private readonly scores = new Map<string, Score>();

  constructor(opts: Partial<ClaimTrustOptions> = {}) {
    this.opts = { ...DEFAULT_CLAIM_TRUST, ...opts };
    this.buckets = new TokenBuckets({ perSec: this.opts.perSec, burst: this.opts.burst, maxSources: this.opts.maxClaimers });
  }

  /** The claimer's refuted claims, decayed to `now`. */
  score(claimer: string, now: number): number {
    const s = this.scores.get(claimer);
    if (s === undefined) return 0;
    return s.value * 2 ** (-Math.max(0, now - s.at) / this.opts.halfLifeMs);
  }

  distrusted(claimer: string, now: number): boolean {
    const s = this.scores.get(claimer);
    if (s === undefined || !s.distrusted) return false;
    if (this.score(claimer, now) >= this.opts.distrustAt / 2) return true;
    s.distrusted = false;
    return false;
  }

  /** Take one claim's token from the claimer's bucket; false when it is over its rate. */
  take(claimer: string, now: number): boolean {
    return this.buckets.take(claimer, now);
  }

  /** One of the claimer's claims was refuted. */
  blame(claimer: string, now: number): void {
    const value = this.score(claimer, now) + 1;
    const distrusted = this.distrusted(claimer, now) || value >= this.opts.distrustAt;
    this.scores.delete(claimer);
    if (this.scores.size >= this.opts.maxClaimers) this.scores.delete(this.scores.keys().next().value!);
    this.scores.set(claimer, { value, at: now, distrusted });
  }
}
