/**
 * Where gossip's bytes go under churn: the bench's lossy run (10% loss, 5% of
 * nodes pausing 500 ms at random each second) with every datagram opened at
 * the simulated network's tap and its bytes charged to its message type, and
 * the piggybacked facts' bytes to their kind. It also counts suspicion
 * episodes (distinct suspect, incarnation pairs claimed) and, with --trace,
 * prints the probe traffic of the 3 s before each one (datagrams sent, and
 * received with any drop reason), to tell whether a pause, loss or the
 * accuser's own stall made it. A question-answering tool for "what grows with
 * N" (issue 16), not a figure of record: opening every datagram doubles the
 * run's CPU.
 *
 *   npx tsc -p tsconfig.build.json
 *   node dist/bench/gossip/traffic-breakdown.js 100 1000 [--seconds=10] [--seed=43] [--trace]
 */
import { FactKind, MsgType, decodeMessage, factCost } from '../../src/gossip/codec.ts';
import type { Message } from '../../src/gossip/codec.ts';
import { SimCluster } from '../../test/sim/sim-cluster.ts';
import type { SimNode } from '../../test/sim/sim-cluster.ts';

const typeName = Object.fromEntries(Object.entries(MsgType).map(([k, v]) => [v, k])) as Record<number, string>;
const kindName = Object.fromEntries(Object.entries(FactKind).map(([k, v]) => [v, k])) as Record<number, string>;

function add(m: Map<string, number>, k: string, v: number): void {
  m.set(k, (m.get(k) ?? 0) + v);
}

/** A suspect claim's suspect, incarnation and claimer (claim layout: codec.ts claimBody). */
function claimOf(f: Uint8Array): { name: string; incarnation: number; from: string } {
  const nameLen = f[5]!;
  const fromAt = 6 + nameLen;
  return {
    name: Buffer.from(f.subarray(6, fromAt)).toString(),
    incarnation: new DataView(f.buffer, f.byteOffset).getUint32(1),
    from: Buffer.from(f.subarray(fromAt + 1, fromAt + 1 + f[fromAt]!)).toString(),
  };
}

interface Line { at: number; from: string; to: string; what: string; target: string; seq: number }

/** --trace: the last 3 s of datagrams, sent and received, to print the probes behind a suspicion. */
class Trace {
  private readonly recent: Line[] = [];
  readonly byAddr: Map<string, string>;

  constructor(private readonly c: SimCluster, nodes: SimNode[]) {
    this.byAddr = new Map(nodes.map((x) => [x.address, x.name]));
    for (const x of nodes) {
      const receive = x.m.receive.bind(x.m);
      x.m.receive = (bytes, address, port) => {
        const before = [...x.m.drops.counts];
        receive(bytes, address, port);
        const dropped = x.m.drops.names.filter((_, i) => x.m.drops.counts[i] !== before[i]).join(',');
        const v = decodeMessage(bytes, c.keyring);
        if (v.ok) this.note(address, x.name, v.msg, `recv ${typeName[v.msg.type]}${dropped === '' ? '' : ` DROPPED ${dropped}`}`);
      };
    }
  }

  note(fromAddr: string, to: string, msg: Message, what: string): void {
    const r = this.recent;
    r.push({
      at: this.c.now, from: this.byAddr.get(fromAddr) ?? fromAddr, to, what,
      target: 'target' in msg ? msg.target : '', seq: 'seq' in msg ? msg.seq : -1,
    });
    while (r.length > 0 && r[0]!.at < this.c.now - 3000) r.shift();
  }

  /** The probes of `suspect` and the acks and nacks to and from `accuser` in the last 3 s. */
  print(suspect: string, accuser: string, awareness: number): void {
    console.log(`-- suspicion of ${suspect} by ${accuser} at ${this.c.now.toFixed(1)} ms; accuser's health score ${awareness}`);
    for (const r of this.recent) {
      const reply = /Ack|Nack/.test(r.what);
      if (r.target === suspect || (reply && (r.from === suspect || r.from === accuser || r.to === accuser))) {
        console.log(`   ${(r.at - this.c.now).toFixed(1).padStart(8)} ${r.from} -> ${r.to} ${r.what} seq ${r.seq} ${r.target}`);
      }
    }
  }
}

function breakdown(n: number, seconds: number, seed: number, trace: boolean): void {
  const c = new SimCluster({ seed, net: { loss: 0.1 } });
  const nodes = c.preloaded(n);
  const byName = new Map(nodes.map((x) => [x.name, x]));
  c.run(2000);
  const bytes = new Map<string, number>();
  const copies = new Map<string, number>();
  const episodes: { at: number; name: string; from: string }[] = [];
  const seen = new Set<string>();
  const tracer = trace ? new Trace(c, nodes) : null;
  c.net.tap = (fromAddr, _fromPort, to, datagram) => {
    const v = decodeMessage(datagram, c.keyring);
    if (!v.ok) return add(bytes, 'undecodable', datagram.length);
    const type = typeName[v.msg.type] ?? String(v.msg.type);
    tracer?.note(fromAddr, tracer.byAddr.get(to.split(':')[0]!) ?? to, v.msg, type);
    add(copies, type, 1);
    let factBytes = 0;
    for (const f of 'facts' in v.msg ? v.msg.facts : []) {
      const kind = `fact:${kindName[f[0]!] ?? String(f[0])}`;
      factBytes += factCost(f);
      add(bytes, `${kind}${v.msg.type === MsgType.SyncRecords ? ' (sync)' : ''}`, factCost(f));
      add(copies, kind, 1);
      if (f[0] !== FactKind.Suspect) continue;
      const claim = claimOf(f);
      const key = `${claim.name}@${claim.incarnation}`;
      if (seen.has(key)) continue;
      seen.add(key);
      episodes.push({ at: c.now, name: claim.name, from: claim.from });
      tracer?.print(claim.name, claim.from, byName.get(claim.from)?.m.awareness.score ?? -1);
    }
    add(bytes, `msg:${type} (less facts)`, datagram.length - factBytes);
  };
  // Each node's pauses [start, end), to tell what each suspicion caught.
  const pauses = new Map<string, [number, number][]>();
  let pauseCount = 0;
  const sum = (f: (x: SimNode) => number): number => nodes.reduce((s, x) => s + f(x), 0);
  const b0 = sum((x) => x.m.stats.sentBytes);
  const f0 = sum((x) => x.m.prober.stats.failedProbes);
  const s0 = sum((x) => x.m.prober.stats.secondChances);
  const v0 = sum((x) => x.m.prober.stats.savedBySecondChance);
  for (let s = 0; s < seconds; s++) {
    for (const x of nodes) {
      if (c.random() >= 0.05) continue;
      pauseCount++;
      c.sched.after(c.random() * 1000, () => {
        pauses.set(x.name, [...(pauses.get(x.name) ?? []), [c.now, c.now + 500]]);
        c.pause(x, 500);
      });
    }
    c.run(1000);
  }
  c.net.tap = null;
  const total = sum((x) => x.m.stats.sentBytes) - b0;
  console.log(`\n== ${n} nodes, ${seconds} s: ${(total / n / seconds).toFixed(0)} B/node/s`);
  for (const [k, v] of [...bytes.entries()].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${k.padEnd(34)} ${(v / n / seconds).toFixed(1).padStart(9)} B/node/s  ${((100 * v) / total).toFixed(1).padStart(5)}%`);
  }
  const per = (x: number): string => `${x} (${(x / seconds).toFixed(2)}/s)`;
  console.log(`  pauses ${per(pauseCount)}, failed probes ${per(sum((x) => x.m.prober.stats.failedProbes) - f0)}, ` +
    `second chances ${per(sum((x) => x.m.prober.stats.secondChances) - s0)}, saved ${per(sum((x) => x.m.prober.stats.savedBySecondChance) - v0)}`);
  console.log(`  suspicion episodes ${per(episodes.length)}, refutations ${per(sum((x) => x.m.stats.refutations))}, suspicions adopted (summed over nodes) ${sum((x) => x.m.stats.suspicions)}`);
  const near = (name: string, at: number): string =>
    (pauses.get(name) ?? []).filter(([a, b]) => b > at - 3000 && a < at + 500).map(([a, b]) => `${(a - at).toFixed(0)}..${(b - at).toFixed(0)}`).join(' ') || '-';
  for (const e of episodes) console.log(`  suspicion at ${(e.at / 1000).toFixed(3)} s of ${e.name} by ${e.from}: suspect paused ${near(e.name, e.at)} ms; accuser paused ${near(e.from, e.at)}`);
  const rate = (facts: boolean): string => [...copies.entries()].filter(([k]) => k.startsWith('fact:') === facts).map(([k, v]) => `${k} ${(v / n / seconds).toFixed(2)}`).join(', ');
  console.log(`  datagrams/node/s: ${rate(false)}`);
  console.log(`  fact copies/node/s: ${rate(true)}`);
}

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const sizes = args.filter((a) => !a.startsWith('--')).map(Number).filter((x) => x > 0);
for (const n of sizes.length > 0 ? sizes : [100, 1000]) breakdown(n, opt('seconds', 10), opt('seed', 43), args.includes('--trace'));
