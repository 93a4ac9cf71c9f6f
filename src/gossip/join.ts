/**
 * Joining through seeds: announce our signed record to each seed, and pull
 * the map from it one tick later. Seeds are addresses (their names are not
 * known yet), which is why these are the only messages a node sends
 * unaddressed (codec.ts).
 *
 * The pull waits for the announcement to land: until a seed holds our record
 * we are an unverified source to it, and it answers only three times what we
 * sent (reply-budget.ts), a few hundred bytes, not the map.
 *
 * If an announcement is lost the seed keeps seeing an unverified stranger,
 * and worse, joiners that used us as their seed form an island with us that
 * nobody else knows. So each sync round the announcement is repeated while
 * we know no other live member, and while no seed is a known live member for
 * up to `MAX_REJOINS` rounds: a seed given by an address no record names (a
 * load balancer, say) is never "known", and after a minute we stop asking.
 */

export interface Endpoint {
  address: string;
  port: number;
}

export interface JoinHost {
  /** Send our signed record to whoever is at the seed's address. */
  announce(seed: Endpoint): void;
  /** Start an anti-entropy exchange with whoever is at the seed's address. */
  pull(seed: Endpoint): void;
  /** Live members, ourselves included. */
  liveCount(): number;
  /** Whether a live member other than ourselves has this gossip address. */
  knownLive(seed: Endpoint): boolean;
}

/** 60 sync rounds, a minute at the default interval: far longer than any loss streak on a working path. */
export const MAX_REJOINS = 60;

export class Joiner {
  private seeds: readonly Endpoint[] = [];
  private pulls: Endpoint[] = [];
  private rejoins = 0;

  constructor(private readonly host: JoinHost) {}

  join(seeds: readonly Endpoint[]): void {
    this.seeds = seeds;
    for (const s of seeds) {
      this.host.announce(s);
      this.pulls.push(s);
    }
  }

  /** Every tick: the pulls that were waiting for their announcements. */
  tick(): void {
    for (const s of this.pulls.splice(0)) this.host.pull(s);
  }

  /** Every sync round: announce again if no seed has been heard from yet. */
  syncRound(): void {
    if (this.seeds.length === 0) return;
    const again = this.host.liveCount() <= 1 || (this.rejoins < MAX_REJOINS && !this.seeds.some((s) => this.host.knownLive(s)));
    if (!again) return;
    this.rejoins++;
    this.join(this.seeds);
  }
}
