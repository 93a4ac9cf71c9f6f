/**
 * Where gossip's bytes go under churn: the bench's lossy run (10% loss, 5% of
 * nodes pausing 500 ms at random each second) with every datagram opened at
 * the simulated network's tap and its bytes charged to its message type, and
 * the piggybacked facts' bytes to their kind. A question-answering tool for
 * "what grows with N" (issue 16), not a figure of record: opening every
 * datagram doubles the run's CPU.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/gossip/traffic-breakdown.js 100 1000 [--seconds=10] [--seed=43]
 */
import { FactKind, MsgType, decodeMessage, factCost } from '../../src/gossip/codec.ts';
import { SimCluster } from '../../test/sim/sim-cluster.ts';

const typeName = Object.fromEntries(Object.entries(MsgType).map(([k, v]) => [v, k])) as Record<number, string>;
const kindName = Object.fromEntries(Object.entries(FactKind).map(([k, v]) => [v, k])) as Record<number, string>;

interface Tally {
  bytes: Map<string, number>;
  datagrams: Map<string, number>;
}

function add(m: Map<string, number>, k: string, v: number): void {
  m.set(k, (m.get(k) ?? 0) + v);
}

function breakdown(n: number, seconds: number, seed: number): void {
  const c = new SimCluster({ seed, net: { loss: 0.1 } });
  const nodes = c.preloaded(n);
  c.run(2000);
  const t: Tally = { bytes: new Map(), datagrams: new Map() };
  // Suspicion episodes: distinct (suspect, incarnation) claims; refutations: alive facts above incarnation 0 (all start at 0).
  const episodes = new Set<string>();
  // --trace: the probe traffic of the last 3 s, printed for each new suspicion.
  const byAddr = new Map(nodes.map((x) => [x.address, x.name]));
  if (trace) {
    for (const x of nodes) {
      const orig = x.m.receive.bind(x.m);
      x.m.receive = (bytes, address, port) => {
        const d0 = [...x.m.drops.counts];
        orig(bytes, address, port);
        const dropped = x.m.drops.names.filter((_, i) => x.m.drops.counts[i] !== d0[i]).join(',');
        const v = decodeMessage(bytes, c.keyring);
        if (v.ok) recent.push({ at: c.now, from: byAddr.get(address) ?? address, to: x.name, type: `recv ${typeName[v.msg.type]}${dropped === '' ? '' : ` DROPPED ${dropped}`}`, target: 'target' in v.msg ? v.msg.target : '', seq: 'seq' in v.msg ? v.msg.seq : -1 });
      };
    }
  }
  const recent: { at: number; from: string; to: string; type: string; target: string; seq: number }[] = [];
  let measuring = true;
  c.net.tap = (_fa, _fp, _to, bytes) => {
    if (!measuring) return;
    const v = decodeMessage(bytes, c.keyring);
    if (!v.ok) return add(t.bytes, 'undecodable', bytes.length);
    const type = typeName[v.msg.type] ?? String(v.msg.type);
    if (trace) {
      const from = byAddr.get(_fa) ?? _fa;
      const to = byAddr.get(_to.split(':')[0]!) ?? _to;
      const target = 'target' in v.msg ? v.msg.target : '';
      const seq = 'seq' in v.msg ? v.msg.seq : -1;
      recent.push({ at: c.now, from, to, type, target, seq });
      while (recent.length > 0 && recent[0]!.at < c.now - 3000) recent.shift();
    }
    add(t.datagrams, type, 1);
    let factBytes = 0;
    if ('facts' in v.msg) {
      for (const f of v.msg.facts) {
        const kind = kindName[f[0]!] ?? String(f[0]);
        factBytes += factCost(f);
        add(t.bytes, `fact:${kind}${v.msg.type === MsgType.SyncRecords ? '(sync)' : ''}`, factCost(f));
        add(t.datagrams, `fact:${kind}`, 1);
        if (f[0] === FactKind.Suspect) {
          const nameLen = f[5]!;
          const name = Buffer.from(f.subarray(6, 6 + nameLen)).toString();
          const inc = new DataView(f.buffer, f.byteOffset).getUint32(1);
          const key = `${name}@${inc}`;
          if (!episodes.has(key)) {
            episodes.add(key);
            const fromAt = 6 + nameLen;
            const from = Buffer.from(f.subarray(fromAt + 1, fromAt + 1 + f[fromAt]!)).toString();
            log.push({ at: c.now, name, from });
            if (trace) {
              console.log(`-- suspicion of ${name} by ${from} at ${c.now.toFixed(1)}; accuser awareness ${nodes.find((x) => x.name === from)?.m.awareness.score}`);
              for (const r of recent) {
                if (r.target === name || (r.from === name && /Ack|Nack/.test(r.type)) || ((r.to === from || r.from === from) && /Ack|Nack/.test(r.type))) {
                  console.log(`   ${(r.at - c.now).toFixed(1).padStart(8)} ${r.from} -> ${r.to} ${r.type} seq ${r.seq} ${r.target}`);
                }
              }
            }
          }
        }
      }
    }
    add(t.bytes, `msg:${type} (less facts)`, bytes.length - factBytes);
  };
  const pausedAt: number[] = [];
  const log: { at: number; name: string; from: string }[] = [];
  // Each node's pauses [start, end), to tell what each suspicion caught.
  const pauses = new Map<string, [number, number][]>();
  const pause = (x: (typeof nodes)[number]): void => {
    const list = pauses.get(x.name) ?? [];
    list.push([c.now, c.now + 500]);
    pauses.set(x.name, list);
    c.pause(x, 500);
  };
  const sent = (): number => nodes.reduce((s, x) => s + x.m.stats.sentBytes, 0);
  const b0 = sent();
  const p0 = nodes.reduce((s, x) => s + x.m.prober.stats.failedProbes, 0);
  for (let s = 0; s < seconds; s++) {
    for (const x of nodes) {
      if (c.random() < 0.05) {
        pausedAt.push(x.index);
        c.sched.after(c.random() * 1000, () => pause(x));
      }
    }
    c.run(1000);
  }
  measuring = false;
  const total = sent() - b0;
  const sum = (f: (x: (typeof nodes)[number]) => number): number => nodes.reduce((s, x) => s + f(x), 0);
  console.log(`\n== ${n} nodes, ${seconds} s: ${(total / n / seconds).toFixed(0)} B/node/s`);
  const rows = [...t.bytes.entries()].sort((a, b) => b[1] - a[1]);
  for (const [k, v] of rows) {
    console.log(`  ${k.padEnd(34)} ${(v / n / seconds).toFixed(1).padStart(9)} B/node/s  ${((100 * v) / total).toFixed(1).padStart(5)}%`);
  }
  const per = (x: number): string => `${x} (${(x / seconds).toFixed(2)}/s)`;
  console.log(`  pauses ${per(pausedAt.length)}, failed probes ${per(sum((x) => x.m.prober.stats.failedProbes) - p0)}, second chances ${per(sum((x) => x.m.prober.stats.secondChances))}, saved ${per(sum((x) => x.m.prober.stats.savedBySecondChance))}`);
  console.log(`  suspicion episodes ${per(episodes.size)}, refutations ${per(sum((x) => x.m.stats.refutations))}, suspicions adopted (node-events) ${sum((x) => x.m.stats.suspicions)}`);
  const near = (name: string, at: number): string =>
    (pauses.get(name) ?? []).filter(([a, b]) => b > at - 3000 && a < at + 500).map(([a, b]) => `${(a - at).toFixed(0)}..${(b - at).toFixed(0)}`).join(' ') || '-';
  for (const e of log) console.log(`  suspicion at ${(e.at / 1000).toFixed(3)} s of ${e.name} by ${e.from}: suspect paused ${near(e.name, e.at)}; accuser paused ${near(e.from, e.at)}`);
  const dg = [...t.datagrams.entries()].filter(([k]) => !k.startsWith('fact:')).map(([k, v]) => `${k} ${(v / n / seconds).toFixed(2)}`).join(', ');
  console.log(`  datagrams/node/s: ${dg}`);
  const fc = [...t.datagrams.entries()].filter(([k]) => k.startsWith('fact:')).map(([k, v]) => `${k} ${(v / n / seconds).toFixed(2)}`).join(', ');
  console.log(`  fact copies/node/s: ${fc}`);
}

const args = process.argv.slice(2);
const secondsArg = args.find((a) => a.startsWith('--seconds='));
const seconds = secondsArg === undefined ? 10 : Number(secondsArg.slice(10));
const trace = args.includes('--trace');
const seedArg = args.find((a) => a.startsWith('--seed='));
const seed = seedArg === undefined ? 43 : Number(seedArg.slice(7));
const sizes = args.filter((a) => !a.startsWith('--')).map(Number).filter((x) => x > 0);
for (const n of sizes.length > 0 ? sizes : [100, 1000]) breakdown(n, seconds, seed);
