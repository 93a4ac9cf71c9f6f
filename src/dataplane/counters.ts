/**
 * Drop counters by reason: one Float64Array indexed by a small integer, so
 * counting a drop on the packet path is one increment with no allocation,
 * and the names are fixed once for status output and metrics.
 * (Float64 rather than Uint32: a busy node passes 2^32 packets in hours.)
 */
export class ReasonCounters<Name extends string> {
  readonly names: readonly Name[];
  readonly counts: Float64Array;

  constructor(names: readonly Name[]) {
    this.names = names;
    this.counts = new Float64Array(names.length);
  }

  /** Count one event of the reason with this index. */
  add(index: number): void {
    this.counts[index]!++;
  }

  get(name: Name): number {
    return this.counts[this.names.indexOf(name)] ?? 0;
  }

  total(): number {
    let sum = 0;
    for (let i = 0; i < this.counts.length; i++) sum += this.counts[i]!;
    return sum;
  }

  /** name -> count, for status output, metrics and tests (allocates: cold path). */
  toObject(): Record<Name, number> {
    const out = {} as Record<Name, number>;
    for (let i = 0; i < this.names.length; i++) out[this.names[i]!] = this.counts[i]!;
    return out;
  }
}

/** Traffic counters kept per peer, read by status and metrics. */
export interface PeerTraffic {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
}

export function newPeerTraffic(): PeerTraffic {
  return { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 };
}
