/**
 * Gossip simulator benchmark: the real membership code (codec, AEAD, signed
 * records, SWIM + Lifeguard, anti-entropy) for N simulated nodes on the
 * virtual clock. For N = 100, 500 and 1000 it prints:
 *   - convergence: time for a joining node's record to reach 99.9% / 100% of nodes
 *   - detection: time from a node's death to its removal at 99.9% / 100% of nodes
 *   - false positives: live nodes declared dead, under 10% loss while 5% of
 *     nodes pause for 500 ms at random (and detection under those conditions)
 *   - bytes sent per node per second in steady state
 * next to memberlist's LAN figures (99.9% of 1000 nodes in ~2.0 s; ~14 s to
 * declare a dead node at 1000 nodes).
 *
 *   npx tsc -p tsconfig.build.json && node --expose-gc dist/bench/gossip/gossip-bench.js [sizes...]
 */
import { SimCluster } from '../../test/sim/sim-cluster.ts';
import type { SimNode } from '../../test/sim/sim-cluster.ts';

interface Figures {
  n: number;
  conv999: number;
  conv100: number;
  det999: number;
  det100: number;
  bytesPerNodeSec: number;
  fpRemovals: number;
  fpNodes: number;
  refutations: number;
  lossyBytesPerNodeSec: number;
  lossyDet100: number;
  wallMs: number;
}

const quantileCount = (n: number, q: number): number => Math.ceil(n * q);

/** Time until `count` of `among` satisfy `pred`, and until all do (ms, or -1). */
function timeToReach(c: SimCluster, among: SimNode[], pred: (x: SimNode) => boolean, maxMs: number): [number, number] {
  const need = quantileCount(among.length, 0.999);
  let t999 = -1;
  const start = c.now;
  const tAll = c.runUntil(() => {
    let k = 0;
    for (const x of among) if (pred(x)) k++;
    if (t999 < 0 && k >= need) t999 = c.now - start;
    return k === among.length;
  }, maxMs, 10);
  return [t999, tAll];
}

function measure(n: number, seed: number): Figures {
  const t0 = performance.now();
  const c = new SimCluster({ seed });
  const nodes = c.preloaded(n);
  c.run(2000);
  // Steady state bytes: 5 s with nothing happening.
  const b0 = nodes.reduce((s, x) => s + x.m.stats.sentBytes, 0);
  c.run(5000);
  const b1 = nodes.reduce((s, x) => s + x.m.stats.sentBytes, 0);
  const bytesPerNodeSec = (b1 - b0) / n / 5;

  const j = c.add('newcomer');
  c.join(j, [nodes[0]!]);
  const [conv999, conv100] = timeToReach(c, nodes, (x) => x.m.get('newcomer')?.isLive === true, 30_000);
  c.run(3000);

  const victim = nodes[Math.floor(n / 2)]!;
  c.kill(victim);
  const others = c.up();
  const [det999, det100] = timeToReach(c, others, (x) => x.m.get(victim.name)?.isLive !== true, 60_000);
  return { n, conv999, conv100, det999, det100, bytesPerNodeSec, ...lossy(n, seed + 1), wallMs: performance.now() - t0 };
}

type LossyFigures = Pick<Figures, 'fpRemovals' | 'fpNodes' | 'refutations' | 'lossyBytesPerNodeSec' | 'lossyDet100'>;

/** A separate cluster (the first is garbage by now): 10% loss, 5% of nodes pausing 500 ms at random each second. */
function lossy(n: number, seed: number): LossyFigures {
  // Lossy run: 10% loss, 5% of nodes pause 500 ms at random times each second.
  const l = new SimCluster({ seed, net: { loss: 0.1 } });
  const ln = l.preloaded(n);
  let fpRemovals = 0;
  const accused = new Set<string>();
  let killed = '';
  for (const x of ln) {
    x.m.on((e) => {
      if (e.type === 'peer-removed' && e.name !== killed) {
        fpRemovals++;
        accused.add(e.name);
      }
    });
  }
  const pauses = (): void => {
    for (const x of ln) {
      if (l.random() < 0.05) {
        const at = l.random() * 1000;
        l.sched.after(at, () => l.pause(x, 500));
      }
    }
  };
  const b0 = ln.reduce((s, x) => s + x.m.stats.sentBytes, 0);
  for (let s = 0; s < 20; s++) {
    pauses();
    l.run(1000);
  }
  const lossyBytesPerNodeSec = (ln.reduce((s, x) => s + x.m.stats.sentBytes, 0) - b0) / n / 20;
  const refutations = ln.reduce((s, x) => s + x.m.stats.refutations, 0);
  const lv = ln[Math.floor(n / 3)]!;
  killed = lv.name;
  l.kill(lv);
  const lossyStart = l.now;
  let lossyDet100 = -1;
  for (let s = 0; s < 15 && lossyDet100 < 0; s++) {
    pauses();
    const t = l.runUntil(() => l.up().every((x) => x.m.get(lv.name)?.isLive !== true), 1000, 10);
    if (t >= 0) lossyDet100 = l.now - lossyStart;
  }
  return { fpRemovals, fpNodes: accused.size, refutations, lossyBytesPerNodeSec, lossyDet100 };
}

const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
const run = sizes.length > 0 ? sizes : [100, 500, 1000];
console.log('weft gossip simulator (virtual clock, LAN latency 0.5-1.5 ms); memberlist LAN: 99.9% of 1000 in ~2.0 s, dead declared in ~14 s');
console.log('nodes | converge 99.9% / 100% | detect 99.9% / 100% | bytes/node/s | 10% loss + 5% pausing: false positives, refutations, bytes/node/s, detect 100% | wall');
for (const n of run) {
  const f = measure(n, 42);
  const s = (ms: number): string => (ms < 0 ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
  console.log(
    `${String(n).padStart(5)} | ${s(f.conv999)} / ${s(f.conv100)} | ${s(f.det999)} / ${s(f.det100)} | ${f.bytesPerNodeSec.toFixed(0)} | ` +
      `${f.fpRemovals} removals of ${f.fpNodes} live nodes, ${f.refutations} refuted, ${f.lossyBytesPerNodeSec.toFixed(0)} B/s, ${s(f.lossyDet100)} | ` +
      `${(f.wallMs / 1000).toFixed(1)} s`,
  );
}
