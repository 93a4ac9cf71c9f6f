/**
 * Traffic under churn stays flat as the cluster grows (issue 16): under 10%
 * loss with 5% of nodes pausing 500 ms each second, a node sends about as
 * many bytes a second in a cluster of 200 as in one of 50. Before, each
 * pause cost a cluster-wide suspicion and refutation (every node sending
 * both about 4 log10 N times) and anti-entropy exchanged whole bucket lists,
 * so each node's traffic grew with N: 5.9 kB/s at 100 nodes, 47.7 kB/s at
 * 1000 (the bench has the figures at 100 / 1,000 / 10,000).
 */
import { describe, expect, it } from 'vitest';
import { SimCluster } from './sim-cluster.ts';

/** Bytes per node per second over `seconds` of loss and pauses, and the live nodes declared dead meanwhile. */
function lossyTraffic(n: number, seed: number, seconds: number): { perNode: number; removals: number; secondChances: number } {
  const c = new SimCluster({ seed, net: { loss: 0.1 } });
  const nodes = c.preloaded(n);
  let removals = 0;
  for (const x of nodes) x.m.on((e) => (removals += e.type === 'peer-removed' ? 1 : 0));
  c.run(2000);
  const sent = (): number => nodes.reduce((s, x) => s + x.m.stats.sentBytes, 0);
  const b0 = sent();
  for (let s = 0; s < seconds; s++) {
    for (const x of nodes) if (c.random() < 0.05) c.sched.after(c.random() * 1000, () => c.pause(x, 500));
    c.run(1000);
  }
  const secondChances = nodes.reduce((s, x) => s + x.m.prober.stats.secondChances, 0);
  return { perNode: (sent() - b0) / n / seconds, removals, secondChances };
}

describe('gossip traffic under loss and pauses', () => {
  it('per-node bytes a second do not grow from 50 to 200 nodes, and stay under 5 kB/s', () => {
    const small = lossyTraffic(50, 61, 10);
    const large = lossyTraffic(200, 62, 10);
    console.log(`10% loss, 5% pausing: ${small.perNode.toFixed(0)} B/node/s at 50 nodes, ${large.perNode.toFixed(0)} at 200`);
    expect(small.removals).toBe(0);
    expect(large.removals).toBe(0);
    // Pauses did make probes fail: the second chances are what kept them quiet.
    expect(large.secondChances).toBeGreaterThan(0);
    expect(large.perNode).toBeLessThanOrEqual(small.perNode * 1.25);
    expect(large.perNode).toBeLessThanOrEqual(5000);
  });
});
