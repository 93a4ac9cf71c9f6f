/**
 * Coordinator-free subnet allocation at 100 nodes: nodes join and claim
 * subnets with partial views, under 5% loss and across a partition, in a
 * dense space (128 subnets for 100 nodes) so that conflicts really happen.
 * In the end every live node owns a distinct subnet and every node agrees.
 * The dual-stack case runs one allocator per family on each node, as
 * GossipControl does, and restarts nodes from their lease files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SubnetAllocator, subnetOf } from '../../src/ipam/allocator.ts';
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

describe('dual-stack subnet allocation over gossip, 28 nodes', () => {
  it('gives every node distinct IPv4 and IPv6 subnets, settles conflicts per family, and restarts keep both leases', () => {
    const c = new SimCluster({ seed: 22, net: { loss: 0.05 } });
    // 32 subnets of each family for 28 nodes: dense enough that concurrent claims collide.
    const cluster4 = parseCidr('10.244.0.0/19');
    const cluster6 = parseCidr('fd00:10:244::/59');
    const dir = mkdtempSync(join(tmpdir(), 'weft-ipam-sim-'));
    const allocs = new Map<string, SubnetAllocator[]>();
    const start = (n: SimNode, seeds: SimNode[], group: number, wait: number): void => {
      c.net.setGroup(n.address, 7946, group);
      const base = { membership: n.m, now: () => c.now, wallNow: () => 1.7e12 + c.now };
      const pair = [
        new SubnetAllocator({ ...base, cluster: cluster4, leaseFile: join(dir, `${n.name}.v4.json`) }),
        new SubnetAllocator({ ...base, cluster: cluster6, leaseFile: join(dir, `${n.name}.v6.json`) }),
      ];
      allocs.set(n.name, pair);
      n.m.on(() => pair.forEach((a) => a.check()));
      c.join(n, seeds);
      c.sched.after(wait, () => pair.forEach((a) => a.allocate()));
    };
    const of = (n: SimNode, family: 4 | 6): string | undefined => {
      const s = subnetOf(n.m.record, family);
      return s === undefined ? undefined : formatCidr(s);
    };
    const agreed = (nodes: SimNode[]): boolean => {
      for (const family of [4, 6] as const) {
        const owned = new Set<string>();
        for (const n of nodes) {
          const k = of(n, family);
          if (k === undefined || owned.has(k)) return false;
          owned.add(k);
        }
      }
      return nodes.every((n) => nodes.every((o) => {
        const seen = n.m.get(o.name);
        return seen !== undefined && seen.isLive && seen.record.subnets.map(formatCidr).join() === o.m.record.subnets.map(formatCidr).join();
      }));
    };
    try {
      const nodes: SimNode[] = [];
      for (let i = 0; i < 12; i++) {
        const n = c.add();
        start(n, nodes.length === 0 ? [] : [nodes[Math.floor(c.random() * nodes.length)]!], 0, 100 + c.random() * 300);
        nodes.push(n);
        c.run(20);
      }
      c.run(3000);
      const sideOf = new Map<SimNode, number>(nodes.map((n) => [n, n.index % 2 === 0 ? 1 : 2]));
      c.partition((n) => sideOf.get(n) ?? 0);
      for (let i = 0; i < 16; i++) {
        const side = i % 2 === 0 ? 1 : 2;
        const seeds = nodes.filter((n) => sideOf.get(n) === side);
        const n = c.add();
        sideOf.set(n, side);
        start(n, [seeds[Math.floor(c.random() * seeds.length)]!], side, 100 + c.random() * 300);
        nodes.push(n);
        c.run(50);
      }
      c.run(8000);
      c.heal();
      expect(c.runUntil(() => agreed(nodes), 40_000, 100)).toBeGreaterThanOrEqual(0);
      const lost = (family: 0 | 1): number => [...allocs.values()].reduce((s, pair) => s + pair[family]!.conflictsLost, 0);
      expect(lost(0)).toBeGreaterThan(0);
      expect(lost(1)).toBeGreaterThan(0); // IPv6 conflicts did occur, and were resolved
      for (const n of nodes) expect(n.m.record.subnets.map((s) => s.family)).toEqual([4, 6]);

      // Five nodes crash and come back within the grace period: each takes both its subnets back from its leases.
      const before = new Map(nodes.map((n) => [n.name, n.m.record.subnets.map(formatCidr).join()]));
      const crashed = nodes.slice(3, 8);
      for (const n of crashed) c.kill(n);
      c.run(20_000);
      for (const old of crashed) {
        const n = c.restart(old);
        nodes[nodes.indexOf(old)] = n;
        start(n, [nodes[0]!], 0, 1000);
      }
      expect(c.runUntil(() => agreed(nodes), 40_000, 100)).toBeGreaterThanOrEqual(0);
      for (const n of nodes) expect(n.m.record.subnets.map(formatCidr).join()).toBe(before.get(n.name));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
