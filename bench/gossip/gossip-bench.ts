/**
 * Gossip simulator benchmark: the real membership code (codec, AEAD, signed
 * records, SWIM + Lifeguard, anti-entropy) for N simulated nodes on the
 * virtual clock. For N = 100, 1,000 and 10,000 (or the sizes given) it prints:
 *   - convergence: time for a joining node's record to reach 99.9% / 100% of nodes
 *   - detection: time from a node's death to its removal at 99.9% / 100% of nodes
 *   - false positives: live nodes declared dead, under 10% loss while 5% of
 *     nodes pause for 500 ms at random (and detection under those conditions)
 *   - bytes sent per node per second in steady state
 * next to memberlist's LAN figures (99.9% of 1000 nodes in ~2.0 s; ~14 s to
 * declare a dead node at 1000 nodes).
 *
 *   npx tsc -p tsconfig.build.json && node --expose-gc dist/bench/gossip/gossip-bench.js [--quick | sizes...]
 *
 * --quick runs 100 nodes only (CI); sizes, e.g. `100 1000`, choose others. At 10,000 nodes
 * each node knows 10,000 members: the nodes share one map (Membership.adopt), but each still
 * has its own probe list (10^8 references in all), and the run peaks near 2.2 GB. The bench
 * runs each size in a child process with a heap to match, so that one size's garbage never
 * weighs on the next.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
  /** CPU time (user + system) of the run: wall time on a shared machine says little. */
  cpuMs: number;
}

const quantileCount = (n: number, q: number): number => Math.ceil(n * q);

const started = performance.now();
/** Progress on stderr: a 10,000-node run takes minutes, and its row prints only at the end. */
function phase(n: number, what: string): void {
  process.stderr.write(`[${n} nodes, ${((performance.now() - started) / 1000).toFixed(1)} s] ${what}\n`);
}

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
  const c0 = process.cpuUsage();
  const ideal = idle(n, seed);
  global.gc?.();
  const lossyFigures = lossy(n, seed + 1);
  const cpu = process.cpuUsage(c0);
  return { ...ideal, ...lossyFigures, wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

type IdleFigures = Pick<Figures, 'n' | 'conv999' | 'conv100' | 'det999' | 'det100' | 'bytesPerNodeSec'>;

function idle(n: number, seed: number): IdleFigures {
  const c = new SimCluster({ seed });
  const nodes = c.preloaded(n);
  phase(n, 'preloaded; idle run');
  c.run(2000);
  // Steady state bytes: 5 s with nothing happening.
  const b0 = nodes.reduce((s, x) => s + x.m.stats.sentBytes, 0);
  c.run(5000);
  const b1 = nodes.reduce((s, x) => s + x.m.stats.sentBytes, 0);
  const bytesPerNodeSec = (b1 - b0) / n / 5;

  phase(n, 'a node joins');
  const j = c.add('newcomer');
  c.join(j, [nodes[0]!]);
  const [conv999, conv100] = timeToReach(c, nodes, (x) => x.m.get('newcomer')?.isLive === true, 30_000);
  c.run(3000);

  phase(n, 'a node dies');
  const victim = nodes[Math.floor(n / 2)]!;
  c.kill(victim);
  const others = c.up();
  const [det999, det100] = timeToReach(c, others, (x) => x.m.get(victim.name)?.isLive !== true, 60_000);
  return { n, conv999, conv100, det999, det100, bytesPerNodeSec };
}

type LossyFigures = Pick<Figures, 'fpRemovals' | 'fpNodes' | 'refutations' | 'lossyBytesPerNodeSec' | 'lossyDet100'>;

/** A separate cluster (the first is garbage by now): 10% loss, 5% of nodes pausing 500 ms at random each second. */
function lossy(n: number, seed: number): LossyFigures {
  // Lossy run: 10% loss, 5% of nodes pause 500 ms at random times each second.
  const l = new SimCluster({ seed, net: { loss: 0.1 } });
  const ln = l.preloaded(n);
  phase(n, 'lossy cluster preloaded; 20 s of 10% loss and pauses');
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
  phase(n, 'a node dies under loss');
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

const s = (ms: number): string => (ms < 0 ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
const int = (x: number): string => Math.round(x).toLocaleString('en-US');

function row(f: Figures): string {
  return `| ${int(f.n)} | ${s(f.conv999)} / ${s(f.conv100)} | ${s(f.det999)} / ${s(f.det100)} | ${int(f.bytesPerNodeSec)} | ` +
    `${f.fpRemovals} (${f.fpNodes} nodes), ${int(f.lossyBytesPerNodeSec)} | ${f.refutations} | ${s(f.lossyDet100)} | ${(f.wallMs / 1000).toFixed(1)} s (CPU ${(f.cpuMs / 1000).toFixed(1)} s) |`;
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  const f = measure(Number(args[1]), 42);
  process.send?.(f);
} else {
  const sizes = args.includes('--quick') ? [100] : args.map(Number).filter((x) => x > 0);
  const run = sizes.length > 0 ? sizes : [100, 1000, 10_000];
  console.log('weft gossip simulator (virtual clock, LAN latency 0.5-1.5 ms); memberlist LAN: 99.9% of 1000 in ~2.0 s, dead declared in ~14 s');
  console.log('| nodes | converged 99.9% / 100% | dead removed 99.9% / 100% | idle bytes/node/s | 10% loss + 5% pausing 500 ms: false removals (live nodes), bytes/node/s | refutations in 20 s | lossy: dead removed 100% | wall |');
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const n of run) {
    // 40 bytes per (node, member) pair, over twice what the probe lists and copied members take, plus room.
    const heapMb = Math.max(2048, Math.ceil((n * n * 40) / 1e6) + 1024);
    const child = fork(fileURLToPath(import.meta.url), ['--child', String(n)], { execArgv: ['--expose-gc', `--max-old-space-size=${heapMb}`] });
    const f = await new Promise<Figures>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Figures));
      child.once('exit', (code) => reject(new Error(`the ${n}-node run exited with ${code}`)));
    });
    console.log(row(f));
  }
}
