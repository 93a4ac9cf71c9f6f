/**
 * What a node may send back to a source it has not verified. UDP source
 * addresses are not authenticated, so a reply to an unknown address may be
 * aimed at a victim; the rule that keeps gossip useless as a reflector is
 * that such replies never exceed `ratio` times the bytes that source sent us
 * (the same rule QUIC applies to unvalidated addresses, RFC 9000 section 8).
 *
 * "Verified" is decided by membership: a source is verified when a member we
 * hold a signed record of (alive, suspect or tombstoned) has that address
 * and gossip port. Members are served without this ledger: they are who
 * gossip exists to answer, and a tombstoned member must get full answers for
 * a healed partition to find itself.
 *
 * The ledger is bounded: at `maxSources` the least recently seen source is
 * forgotten, bytes in and bytes out together, so the bound holds across
 * forgetting (every reply is still paid for by bytes received since).
 */

export interface ReplyBudgetOptions {
  /**
   * 3 bytes out per byte in. A joiner is unverified until its announcement
   * reaches us, and its first message (a 300-byte digest) should still get
   * the 300-byte reply digest and a chunk of entries back; 3 allows that, and
   * caps a reflector at a factor too small to be worth anyone's while.
   */
  ratio: number;
  /** 4096 sources: as many as the rate limiter keeps (rate-limit.ts). */
  maxSources: number;
}

export const DEFAULT_REPLY_BUDGET: ReplyBudgetOptions = { ratio: 3, maxSources: 4096 };

interface Ledger {
  in: number;
  out: number;
}

export class ReplyBudget {
  private readonly ledgers = new Map<string, Ledger>();

  constructor(readonly opts: ReplyBudgetOptions = DEFAULT_REPLY_BUDGET) {}

  get size(): number {
    return this.ledgers.size;
  }

  /** `bytes` arrived from `source` (an accepted datagram). */
  received(source: string, bytes: number): void {
    const l = this.touch(source);
    l.in += bytes;
  }

  /** May `bytes` go to `source` now? If so they are charged to it. */
  spend(source: string, bytes: number): boolean {
    const l = this.ledgers.get(source);
    if (l === undefined || l.out + bytes > l.in * this.opts.ratio) return false;
    l.out += bytes;
    return true;
  }

  private touch(source: string): Ledger {
    let l = this.ledgers.get(source);
    if (l !== undefined) this.ledgers.delete(source);
    else {
      if (this.ledgers.size >= this.opts.maxSources) this.ledgers.delete(this.ledgers.keys().next().value as string);
      l = { in: 0, out: 0 };
    }
    // Re-inserted, so the map's order is least recently seen first.
    this.ledgers.set(source, l);
    return l;
  }
}
