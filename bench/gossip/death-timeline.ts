/**
 * Where a death's detection time goes: N preloaded nodes run 2 s, one is
 * killed, and the run prints when its first probe failed, when the first
 * suspicion and the first dead claim went out, and when 50% / 99.9% / 100%
 * of the others had removed it, over several victims (a question-answering
 * tool for the 4 s target of issue 16, beside the bench's figures).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/gossip/death-timeline.js 1000 [--victims=5] [--seed=7]
 */
import { FactKind, decodeMessage } from '../../src/gossip/codec.ts';
import { SimCluster } from '../../test/sim/sim-cluster.ts';

function timeline(n: number, seed: number): number[] {
  const c = new SimCluster({ seed });
  const nodes = c.preloaded(n);
  c.run(2000);
  const victim = nodes[Math.floor(n / 2)]!;
  let firstSuspect = -1;
  let firstDead = -1;
  let t0 = 0;
  c.net.tap = (_fa, _fp, _to, bytes) => {
    if (firstDead >= 0) return;
    const v = decodeMessage(bytes, c.keyring);
    if (!v.ok || !('facts' in v.msg)) return;
    for (const f of v.msg.facts) {
      if (f[0] === FactKind.Suspect && firstSuspect < 0) firstSuspect = c.now - t0;
      if (f[0] === FactKind.Dead && firstDead < 0) firstDead = c.now - t0;
    }
  };
  c.kill(victim);
  t0 = c.now;
  const others = c.up();
  const fails0 = others.map((x) => x.m.prober.stats.secondChances);
  let firstFailure = -1;
  const marks = [0.5, 0.999, 1];
  const at: number[] = [];
  c.runUntil(() => {
    if (firstFailure < 0 && others.some((x, i) => x.m.prober.stats.secondChances > fails0[i]!)) firstFailure = c.now - t0;
    let k = 0;
    for (const x of others) if (x.m.get(victim.name)?.isLive !== true) k++;
    while (at.length < marks.length && k >= Math.ceil(marks[at.length]! * others.length)) at.push(c.now - t0);
    return k === others.length;
  }, 20_000, 10);
  c.net.tap = null;
  return [firstFailure, firstSuspect, firstDead, ...at];
}

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const victims = opt('victims', 5);
const seed = opt('seed', 7);
for (const n of args.filter((a) => !a.startsWith('--')).map(Number)) {
  console.log(`${n} nodes: first second chance (±10 ms), first suspicion sent, first dead claim sent, removed at 50% / 99.9% / 100% (s)`);
  const sums = [0, 0, 0, 0, 0, 0];
  for (let v = 0; v < victims; v++) {
    const t = timeline(n, seed + v);
    t.forEach((x, i) => (sums[i]! += x));
    console.log(`  ${t.map((x) => (x / 1000).toFixed(2)).join('  ')}`);
  }
  console.log(`  mean ${sums.map((x) => (x / victims / 1000).toFixed(2)).join('  ')}`);
}
