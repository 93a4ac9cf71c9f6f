/**
 * Lifeguard's dynamic suspicion timeout (Dadgar et al., "Lifeguard: Local
 * Health Awareness for More Accurate Failure Detection", section 4.2): a
 * suspicion starts with a long timeout and shrinks it, logarithmically, as
 * independent members confirm it. One member's bad link cannot kill a node
 * quickly; many members seeing it gone can.
 */

/**
 * Remaining-free timeout after `c` independent confirmations, out of `k`
 * wanted: max - (max - min) * log(c + 1) / log(k + 1), never below min.
 * With k = 0 (a cluster too small to confirm) the minimum applies at once.
 */
export function suspicionTimeout(c: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const frac = Math.log(c + 1) / Math.log(k + 1);
  const t = Math.floor(maxMs - frac * (maxMs - minMs));
  return Math.max(minMs, t);
}

/**
 * The minimum suspicion time: mult * max(1, log10(n)) * probe interval. It
 * grows with log N because dissemination to N nodes takes O(log N) rounds,
 * and the suspected node must have time to hear of it and refute.
 */
export function suspicionMin(mult: number, n: number, probeIntervalMs: number): number {
  return mult * Math.max(1, Math.log10(Math.max(1, n))) * probeIntervalMs;
}

/** Confirmations wanted: `indirect` (the members asked to probe), but at most n - 2 others exist. */
export function confirmationsWanted(indirect: number, n: number): number {
  return Math.max(0, Math.min(indirect, n - 2));
}

/** One running suspicion; membership checks `deadline` on its tick. */
export class Suspicion {
  private readonly confirmers = new Set<string>();
  deadline: number;

  constructor(
    readonly start: number,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    firstAccuser: string,
  ) {
    this.confirmers.add(firstAccuser);
    this.deadline = start + suspicionTimeout(0, k, minMs, maxMs);
  }

  get confirmations(): number {
    return this.confirmers.size - 1;
  }

  /** Whether a claim from `from` would change nothing: it accused already, or enough have. */
  settled(from: string): boolean {
    return this.confirmations >= this.k || this.confirmers.has(from);
  }

  /** Who accused: the first claimer and its confirmers (to blame when the suspect refutes). */
  accusers(): IterableIterator<string> {
    return this.confirmers.values();
  }

  /** A suspicion from `from`; true when it is a new independent confirmation (worth re-gossiping). */
  confirm(from: string): boolean {
    if (this.confirmations >= this.k || this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    this.deadline = this.start + suspicionTimeout(this.confirmations, this.k, this.minMs, this.maxMs);
    return true;
  }

  /** Push the deadline out (this node stalled and could not hear refutations in the meantime). */
  extend(ms: number): void {
    this.deadline += ms;
  }
}
