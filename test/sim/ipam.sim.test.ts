/**
 * Coordinator-free subnet allocation at 100 nodes: nodes join and claim
 * subnets with partial views, under 5% loss and across a partition, in a
 * dense space (128 subnets for 100 nodes) so that conflicts really happen.
 * In the end every live node owns a distinct subnet and every node agrees.
 */
import { describe, expect, it } from 'vitest';
import { SubnetAllocator } from '../../src/ipam/allocator.ts';
import { formatCidr, parseCidr } from '../../src/wire/addr.ts';
import { SimCluster } from './sim-cluster.ts';
import type { SimNode } from './sim-cluster.ts';

describe('subnet allocation over gossip, 100 nodes', () => {
  it('ends conflict-free and agreed after concurrent joins, loss and a partition', () => {
    const c = new SimCluster({ seed: 21, net: { loss: 0.05 } });
    const cluster = parseCidr('10.244.0.0/17');
    const allocs = new Map<SimNode, SubnetAllocator>();
    const start = (n: SimNode, seeds: SimNode[], group: number): void => {
      c.net.setGroup(n.address, 7946, group);
      const a = new SubnetAllocator({ membership: n.m, now: () => c.now, wallNow: () => 1.7e12 + c.now, cluster });
      allocs.set(n, a);
      n.m.on(() => a.check());
      c.join(n, seeds);
      // Claim after a short, random wait: some views are still partial, as on a busy cluster.
      c.sched.after(100 + c.random() * 300, () => a.allocate());
    };
    const nodes: SimNode[] = [];
    for (let i = 0; i < 60; i++) {
      const n = c.add();
      start(n, nodes.length === 0 ? [] : [nodes[Math.floor(c.random() * nodes.length)]!], 0);
      nodes.push(n);
      c.run(30);
    }
    c.run(3000);
    // Split; 40 more nodes join, 20 on each side, claiming from what their side knows.
    const sideOf = new Map<SimNode, number>(nodes.map((n) => [n, n.index % 2 === 0 ? 1 : 2]));
    c.partition((n) => sideOf.get(n) ?? 0);
    for (let i = 0; i < 40; i++) {
      const side = i % 2 === 0 ? 1 : 2;
      const seeds = nodes.filter((n) => sideOf.get(n) === side);
      const n = c.add();
      sideOf.set(n, side);
      start(n, [seeds[Math.floor(c.random() * seeds.length)]!], side);
      nodes.push(n);
      c.run(50);
    }
    c.run(8000);
    c.heal();
    const agreed = (): boolean => {
      const owned = new Map<string, string>();
      for (const n of nodes) {
        const s = n.m.record.subnets[0];
        if (s === undefined) return false;
        const k = formatCidr(s);
        if (owned.has(k)) return false;
        owned.set(k, n.name);
      }
      return nodes.every((n) => nodes.every((o) => {
        const seen = n.m.get(o.name);
        return seen !== undefined && seen.isLive && seen.record.subnets[0] !== undefined &&
          formatCidr(seen.record.subnets[0]) === formatCidr(o.m.record.subnets[0]!);
      }));
    };
    const took = c.runUntil(agreed, 40_000, 100);
    expect(took).toBeGreaterThanOrEqual(0);
    const lost = [...allocs.values()].reduce((s, a) => s + a.conflictsLost, 0);
    expect(lost).toBeGreaterThan(0); // conflicts did occur, and were resolved
  });
});
