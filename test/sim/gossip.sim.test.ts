/**
 * Whole-cluster behaviour at 100 nodes on the simulated network (virtual
 * clock): convergence, detection, no false positives under loss and pauses,
 * partition healing, graceful leave. Each test is a few protocol-minutes at
 * most and runs in about a second.
 */
import { describe, expect, it } from 'vitest';
import { MemberState } from '../../src/gossip/membership.ts';
import { SimCluster } from './sim-cluster.ts';
import type { SimNode } from './sim-cluster.ts';

const N = 100;

describe('gossip simulation, 100 nodes', () => {
  it('a joining node reaches everyone within 1 s, and pulls the whole map within seconds', () => {
    const c = new SimCluster({ seed: 11 });
    const nodes = c.preloaded(N);
    c.run(2000);
    const j = c.add('joiner');
    c.join(j, [nodes[0]!]);
    const spread = c.runUntil(() => c.allSee('joiner', true, nodes), 5000);
    expect(spread).toBeGreaterThanOrEqual(0);
    expect(spread).toBeLessThanOrEqual(1000);
    const pulled = c.runUntil(() => j.m.liveCount === N + 1, 5000);
    expect(pulled).toBeGreaterThanOrEqual(0);
    expect(pulled).toBeLessThanOrEqual(3000);
  });

  it('a dead node is removed everywhere within 4 s; routes stay while it is only suspected', () => {
    const c = new SimCluster({ seed: 12, keepEvents: true });
    const nodes = c.preloaded(N);
    c.run(3000);
    const victim = nodes[17]!;
    const t0 = c.now;
    c.kill(victim);
    let suspectedAt = -1;
    const took = c.runUntil(() => {
      if (suspectedAt < 0 && c.up().some((n) => n.m.get(victim.name)?.state === MemberState.Suspect)) suspectedAt = c.now;
      return c.allSee(victim.name, false);
    }, 10_000);
    expect(took).toBeGreaterThan(0);
    expect(took).toBeLessThanOrEqual(4000);
    expect(suspectedAt).toBeGreaterThan(t0);
    for (const n of c.up()) {
      const removed = n.events.filter((e) => e.type === 'peer-removed');
      expect(removed.map((e) => [e.name, e.reason])).toEqual([[victim.name, 'dead']]);
      // Removed only after the suspicion period, never on first doubt.
      expect(removed[0]!.t - suspectedAt).toBeGreaterThan(500);
    }
  });

  it('no false positives at 10% loss while 5% of nodes pause 500 ms at random; a real death is still found', () => {
    const c = new SimCluster({ seed: 13, net: { loss: 0.1 }, keepEvents: true });
    const nodes = c.preloaded(N);
    const pauses = (): void => {
      for (const n of nodes) if (c.random() < 0.05) c.sched.after(c.random() * 1000, () => c.pause(n, 500));
    };
    for (let s = 0; s < 15; s++) {
      pauses();
      c.run(1000);
    }
    const removals = nodes.flatMap((n) => n.events.filter((e) => e.type === 'peer-removed'));
    expect(removals).toEqual([]);
    // The pauses did make probes fail: second chances (prober.ts) are what kept them from becoming suspicions.
    expect(nodes.reduce((s, n) => s + n.m.prober.stats.secondChances, 0)).toBeGreaterThan(0);
    const victim = nodes[3]!;
    c.kill(victim);
    const took = c.runUntil(() => c.allSee(victim.name, false), 10_000);
    expect(took).toBeGreaterThan(0);
    expect(took).toBeLessThanOrEqual(6000);
  });

  it('a partition heals: both sides declare each other dead, then converge back to one cluster', () => {
    const c = new SimCluster({ seed: 14 });
    const nodes = c.preloaded(N);
    c.run(2000);
    const side = (n: SimNode): number => (n.index < N / 2 ? 1 : 2);
    c.partition(side);
    const split = c.runUntil(() => nodes.every((n) => nodes.every((o) => side(o) === side(n) || o.m.get(o.name) === undefined || n.m.get(o.name)?.isLive === false)), 30_000, 100);
    expect(split).toBeGreaterThan(0);
    c.heal();
    const healed = c.runUntil(() => nodes.every((n) => n.m.liveCount === N), 30_000, 100);
    expect(healed).toBeGreaterThan(0);
    expect(healed).toBeLessThanOrEqual(15_000);
  });

  it('a graceful leave is seen everywhere quickly, as a removal marked left', () => {
    const c = new SimCluster({ seed: 15, keepEvents: true });
    const nodes = c.preloaded(N);
    c.run(2000);
    const leaver = nodes[40]!;
    leaver.m.leave();
    const took = c.runUntil(() => c.allSee(leaver.name, false, nodes.filter((n) => n !== leaver)), 5000);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThanOrEqual(1500);
    for (const n of nodes) if (n !== leaver) expect(n.events.filter((e) => e.type === 'peer-removed').map((e) => e.reason)).toEqual(['left']);
  });

  it('clocks up to 20 s apart, 10% loss and pauses: no honest datagram fails admission; a death is found as fast', () => {
    // Each wall clock off by up to 10 s either way: two nodes differ by up to 20 s, inside the 30 s window.
    const c = new SimCluster({ seed: 17, net: { loss: 0.1 }, skewMs: 10_000, keepEvents: true });
    const nodes = c.preloaded(N);
    for (let s = 0; s < 10; s++) {
      for (const n of nodes) if (c.random() < 0.05) c.sched.after(c.random() * 1000, () => c.pause(n, 500));
      c.run(1000);
    }
    expect(nodes.flatMap((n) => n.events.filter((e) => e.type === 'peer-removed'))).toEqual([]);
    const victim = nodes[9]!;
    c.kill(victim);
    const took = c.runUntil(() => c.allSee(victim.name, false), 10_000);
    expect(took).toBeGreaterThan(0);
    expect(took).toBeLessThanOrEqual(6000);
    for (const reason of ['wrong-recipient', 'replay', 'too-old', 'too-new', 'replay-cache-full', 'unverified', 'rate-limited', 'reply-budget'] as const) {
      expect([reason, nodes.reduce((s, n) => s + n.m.drops.get(reason), 0)]).toEqual([reason, 0]);
    }
  });

  it('a restarted node that was declared dead refutes its tombstone and comes back', () => {
    const c = new SimCluster({ seed: 16 });
    const nodes = c.preloaded(20);
    c.run(2000);
    const v = nodes[5]!;
    c.kill(v);
    expect(c.runUntil(() => c.allSee(v.name, false), 10_000)).toBeGreaterThan(0);
    // Same key and name, a fresh process at incarnation 0: the cluster holds it dead at a higher one.
    const back = c.restart(v);
    c.join(back, [nodes[0]!]);
    expect(c.runUntil(() => c.allSee(v.name, true), 10_000)).toBeGreaterThanOrEqual(0);
    expect(back.m.incarnation).toBeGreaterThan(0);
  });
});
