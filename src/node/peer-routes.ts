/**
 * Routes for peer subnets outside the cluster CIDRs. Each cluster CIDR is
 * routed into the TUN device once; a peer that owns addresses elsewhere (an
 * external WireGuard machine joined with `weft showconf`, say) needs its own
 * route, as wg-quick adds one per AllowedIPs entry. The peer table
 * is the truth: sync() adds what is missing and withdraws what no peer owns
 * any more, so no stale route is left behind, whichever path changed the
 * peers (config reload, wg set, gossip). Syncs run one at a time.
 */
import type { PeerStatus } from '../dataplane/peer.ts';
import type { Link } from '../tun/link.ts';
import { cidrContains, formatCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';

export class PeerRoutes {
  private readonly installed = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly link: Link,
    /** The pod network's CIDRs (one per family), routed into the device as a whole. */
    private readonly clusterCidrs: readonly Cidr[],
    private readonly onError: (message: string) => void,
  ) {}

  /** The routes currently installed for peers. */
  get routes(): string[] {
    return [...this.installed].sort();
  }

  sync(peers: readonly PeerStatus[]): Promise<void> {
    const desired = new Set<string>();
    for (const p of peers) {
      for (const c of p.subnets) {
        const inside = this.clusterCidrs.some((k) => c.family === k.family && c.bits >= k.bits && cidrContains(k, c.addr));
        if (!inside) desired.add(formatCidr(c));
      }
    }
    this.queue = this.queue.then(async () => {
      for (const r of this.installed) {
        if (desired.has(r)) continue;
        await this.link.removeRoute(r).then(
          () => this.installed.delete(r),
          (err: unknown) => this.onError(`withdrawing route ${r}: ${(err as Error).message}`),
        );
      }
      for (const r of desired) {
        if (this.installed.has(r)) continue;
        await this.link.addRoute(r).then(
          () => this.installed.add(r),
          (err: unknown) => this.onError(`adding route ${r}: ${(err as Error).message}`),
        );
      }
    });
    return this.queue;
  }
}
