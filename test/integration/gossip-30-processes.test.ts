/**
 * Thirty real gossip processes on loopback (127.0.0.1 only), each the
 * compiled membership on its own UDP socket and the real clock
 * (test/helpers/gossip-node.mjs), measured the way the simulator measures
 * (bench/gossip): a newcomer joins a converged cluster, and the time until
 * every node holds its record alive is its convergence; a node is killed
 * (SIGKILL, no goodbye), and the time until every node has declared it dead
 * is detection. The figures are printed beside the simulator's for the same
 * size (`node dist/bench/gossip/gossip-bench.js 30`); what is asserted is
 * behaviour: every node converges, the dead node is removed everywhere, no
 * live node is ever declared dead. Deadlines are bounds, not speed targets.
 *
 * CPU: 31 idle gossip nodes cost little (a 50 ms tick, a probe every
 * 400 ms); starting them is the expensive part, so they start in waves of
 * five, each through two members already in (spreading the full syncs).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const helper = fileURLToPath(new URL('../helpers/gossip-node.mjs', import.meta.url));
const built = fileURLToPath(new URL('../../dist/src/gossip/membership.js', import.meta.url));
const KEY = '3c'.repeat(32);
const N = 30;

interface Line {
  ev: string;
  t: number;
  name?: string;
  reason?: string | null;
  port?: number;
  peers?: string[];
  lagMs?: number;
  refutations?: number;
  awareness?: number;
}

interface Proc {
  name: string;
  child: ChildProcess;
  lines: Line[];
  port: number;
  /** The last "live" line's peers. */
  peers: string[];
  /** Each "live" line's time and how late its timer fired (the process starved of CPU). */
  lags: Array<{ t: number; lagMs: number }>;
  refutations: number;
  /** Lifeguard's health score at the last live line (0: probing at full speed). */
  awareness: number;
}

const procs: Proc[] = [];
const root = mkdtempSync(join(tmpdir(), 'weft-gossip-30-'));

afterAll(async () => {
  await Promise.all(procs.map((p) => stop(p, 'SIGKILL')));
  rmSync(root, { recursive: true, force: true });
});

function start(name: string, seeds: number[]): Proc {
  const child = spawn(process.execPath, [helper, name, join(root, name), KEY, ...seeds.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const p: Proc = { name, child, lines: [], port: 0, peers: [], lags: [], refutations: 0, awareness: 0 };
  createInterface({ input: child.stdout! }).on('line', (l) => {
    let o: Line;
    try {
      o = JSON.parse(l) as Line;
    } catch {
      return;
    }
    if (o.ev === 'listening') p.port = o.port!;
    if (o.ev === 'live') {
      p.peers = o.peers!;
      p.lags.push({ t: o.t, lagMs: o.lagMs! });
      p.refutations = o.refutations!;
      p.awareness = o.awareness!;
    } else p.lines.push(o);
  });
  procs.push(p);
  return p;
}

function stop(p: Proc, signal: NodeJS.Signals): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.child.once('exit', () => resolve());
    p.child.kill(signal);
  });
}

async function waitFor(what: string, cond: () => boolean, ms: number, among: Proc[]): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (cond()) return;
  const state = among.map((p) => {
    const last = p.lags.at(-1);
    return `${p.name}(port ${p.port}, exit ${p.child.exitCode}): ${p.peers.length} peers${last === undefined ? ', no live line yet' : ` ${Date.now() - last.t} ms ago`}`;
  });
  throw new Error(`timed out after ${ms} ms waiting for ${what}; ${state.join(', ')}`);
}

/** When `p` logged event `ev` about `name` (and reason), or undefined. */
const when = (p: Proc, ev: string, name: string, reason?: string): number | undefined =>
  p.lines.find((l) => l.ev === ev && l.name === name && (reason === undefined || l.reason === reason))?.t;

/**
 * How long a node can go unheard before the others may declare it dead: the minimum suspicion
 * time at 30 nodes (2 * log10(30) * 400 ms, about 1.2 s) less a little for the probe that started it.
 */
const FROZEN_MS = 1000;

/** The latest a node's own 200 ms timer fired in the 5 s before `t` (and 1 s after): how long it did not run. */
function worstLag(p: Proc, t: number): number {
  return Math.max(0, ...p.lags.filter((l) => l.t >= t - 5000 && l.t <= t + 1000).map((l) => l.lagMs));
}

/** For a failure: how starved each wrongly removed node was in the 5 s before, and when the victim was killed. */
function starvation(wrongly: Array<{ name: string; t: number }>, all: Proc[], killedAt: number): string {
  const names = [...new Set(wrongly.map((w) => w.name))];
  return names.map((n) => {
    const p = all.find((x) => x.name === n)!;
    const t = Math.min(...wrongly.filter((w) => w.name === n).map((w) => w.t));
    const worst = worstLag(p, t);
    return `${n}: removed ${t - killedAt} ms after the kill; its timers ran up to ${worst} ms late around then; ${p.refutations} refutations`;
  }).join('; ');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('gossip: thirty real processes on loopback', () => {
  it('a newcomer reaches every node, a killed node is removed everywhere, no live node is declared dead', async () => {
    expect(existsSync(built), `${built} is missing: run \`npx tsc -p tsconfig.build.json\` (npm test does) before this test`).toBe(true);
    const nodes = [start('g00', [])];
    await waitFor('g00 to listen', () => nodes[0]!.port > 0, 10_000, procs);
    // Waves of five, each joining through two members of the cluster so far: a process starting
    // takes a core for a few hundred ms, and thirty at once would starve the members already in.
    for (let wave = 1; nodes.length < N; wave++) {
      const joined = [...nodes];
      for (let k = 0; k < 5 && nodes.length < N; k++) {
        const seeds = [joined[(wave + k) % joined.length]!.port, joined[(wave * 3 + k * 7) % joined.length]!.port];
        nodes.push(start(`g${String(nodes.length).padStart(2, '0')}`, [...new Set(seeds)]));
      }
      await waitFor(`wave ${wave}: ${nodes.length} to see each other`, () => nodes.every((p) => p.peers.length === nodes.length - 1), 30_000, nodes);
    }

    // The simulator measures a settled cluster: let the start-up's doubts (Lifeguard's health score,
    // raised by late timers while processes started) wear off first, within a bound; a machine too
    // busy for that is measured as it is, and the score is printed.
    const settled = async (among: Proc[]): Promise<void> => {
      const end = Date.now() + 20_000;
      while (Date.now() < end && among.some((p) => p.awareness > 0)) await new Promise((r) => setTimeout(r, 100));
    };
    await settled(nodes);
    // Convergence: from the newcomer's join until every node holds its record alive.
    const newcomer = start('g-new', [nodes[7]!.port]);
    await waitFor('the newcomer to join', () => newcomer.port > 0, 10_000, [newcomer]);
    const joinedAt = newcomer.lines.find((l) => l.ev === 'listening')!.t;
    await waitFor(`all ${N} to hold the newcomer`, () => nodes.every((p) => when(p, 'peer-added', 'g-new') !== undefined), 30_000, nodes);
    const converge = nodes.map((p) => when(p, 'peer-added', 'g-new')! - joinedAt);
    const everyone = [...nodes, newcomer];
    await waitFor('the newcomer to see everyone', () => newcomer.peers.length === N, 30_000, [newcomer]);

    // Detection: from SIGKILL until every other node has declared the victim dead.
    const victim = nodes[15]!;
    const survivors = everyone.filter((p) => p !== victim);
    await settled(everyone);
    const doubts = Math.max(...survivors.map((p) => p.awareness));
    const killedAt = Date.now();
    await stop(victim, 'SIGKILL');
    await waitFor(`all ${N} others to declare ${victim.name} dead`, () => survivors.every((p) => when(p, 'peer-removed', victim.name, 'dead') !== undefined), 30_000, survivors);
    const detect = survivors.map((p) => when(p, 'peer-removed', victim.name, 'dead')! - killedAt);
    // How busy the machine was meanwhile: each node's latest timer, from the kill to its verdict.
    const detectLags = survivors.map((p) => Math.max(0, ...p.lags.filter((l) => l.t >= killedAt && l.t <= killedAt + Math.max(...detect)).map((l) => l.lagMs)));
    await waitFor('every live list to drop it', () => survivors.every((p) => p.peers.length === N - 1 && !p.peers.includes(victim.name)), 5_000, survivors);

    // No live node was ever declared dead or removed, anywhere.
    // A node its machine did not run for longer than the suspicion timeout (its own timers say so) is,
    // by SWIM's definition, unresponsive: declared dead, it refutes and is back (checked above). Any
    // other removal of a live node is a false positive.
    const removals = survivors.flatMap((p) => p.lines.filter((l) => l.ev === 'peer-removed' && l.name !== victim.name).map((l) => ({ by: p.name, name: l.name!, t: l.t })));
    const frozen = removals.filter((w) => worstLag(everyone.find((x) => x.name === w.name)!, w.t) >= FROZEN_MS);
    const wrongly = removals.filter((w) => !frozen.includes(w));
    expect(wrongly.map((w) => `${w.by} removed ${w.name} at ${new Date(w.t).toISOString()}`), starvation(wrongly, everyone, killedAt)).toEqual([]);
    expect(converge.every((ms) => ms >= 0)).toBe(true);
    expect(detect.every((ms) => ms > 0)).toBe(true);
    console.log(
      `${N} real gossip processes (loopback): newcomer's record at all ${N} in ${Math.max(...converge)} ms (median ${median(converge)} ms); ` +
        `killed node removed at all ${N} in ${Math.max(...detect)} ms (median ${median(detect)} ms); ` +
        `live nodes removed: ${wrongly.length}, and ${new Set(frozen.map((w) => w.name)).size} node(s) the machine froze for over ${FROZEN_MS} ms (declared dead, refuted, back); ` +
        `while detecting, the nodes' timers ran up to ${median(detectLags)} ms late (median node; worst ${Math.max(...detectLags)} ms), health score at the kill at most ${doubts}`,
    );
    await Promise.all(everyone.map((p) => stop(p, 'SIGTERM')));
  }, 240_000);
});
