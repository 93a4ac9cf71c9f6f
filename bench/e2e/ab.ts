/**
 * bench/e2e/ab: before and after, in one window. Runs bench/e2e/run.js from
 * two built checkouts in turn, round after round, and compares them: each
 * figure's mean and range over the rounds, the ratio, and a verdict only
 * when the ranges do not overlap and enough rounds ran for that to mean
 * something (bench/e2e/ab-summary.ts).
 *
 *   git worktree add /tmp/before <rev> && (cd /tmp/before && npm ci)
 *   node dist/bench/e2e/ab.js --before /tmp/before [--after .] [--rounds 4]
 *        [--cases weft-vxlan-batch,weft-wireguard-batch] [--tcp-only] [--seconds N] [--out DIR]
 *
 * Why: on a small machine the same code varies 10-20% between rounds, and
 * the load drifts over minutes, so two runs an hour apart compare the
 * hour, not the code. The sides alternate and the order flips every round
 * (before, after; after, before; ...), so a drift weighs on both alike.
 * Only one bench runs at a time: they would share the cores.
 *
 * As root, as run.js. Writes DIR/<side>-<round>/ (each run's own
 * results.json, .md, chart.svg) and DIR/ab.md, the comparison, also printed.
 * Exits 1 when a round failed to run at all or a case failed in one.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { markdownComparison } from './ab-summary.ts';
import type { Side } from './ab-summary.ts';
import type { Results } from './report.ts';

/** dist/bench/e2e -> the repository root. */
const ROOT = resolve(import.meta.dirname, '../../..');
const RUNNER = join('dist', 'bench', 'e2e', 'run.js');

interface Options {
  dirs: Record<Side, string>;
  rounds: number;
  /** run.js's own flags, passed to both sides. */
  passOn: string[];
  out: string;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      before: { type: 'string' },
      after: { type: 'string', default: ROOT },
      // Four a side: the fewest with which ranges apart mean something (bench/e2e/ab-summary.ts).
      rounds: { type: 'string', default: '4' },
      cases: { type: 'string', default: 'weft-vxlan-batch,weft-wireguard-batch' },
      seconds: { type: 'string' },
      'tcp-only': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || values.before === undefined) {
    process.stdout.write('usage: node dist/bench/e2e/ab.js --before DIR [--after DIR] [--rounds N] [--cases a,b] [--tcp-only] [--seconds N] [--out DIR]\n');
    process.exit(values.help ? 0 : 2);
  }
  const dirs = { before: resolve(values.before), after: resolve(values.after) };
  for (const [side, dir] of Object.entries(dirs)) {
    if (!existsSync(join(dir, RUNNER))) {
      throw new Error(`--${side} ${dir}: no ${RUNNER} there; build that checkout first (npm ci, or npx tsc -p tsconfig.build.json)`);
    }
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`--rounds: expected a whole number from 1 to 20, got "${values.rounds}"`);
  const passOn = ['--cases', values.cases, ...(values['tcp-only'] ? ['--tcp-only'] : []), ...(values.seconds !== undefined ? ['--seconds', values.seconds] : [])];
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/u, 'Z');
  return { dirs, rounds, passOn, out: resolve(values.out ?? join(ROOT, 'bench/results', `ab-${stamp}`)) };
}

/** "c011ede" (with "+changes" when the tree differs from it), or the directory when it is no git checkout. */
function label(dir: string): string {
  try {
    const rev = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return `${rev}${dirty ? '+changes' : ''} (${dir})`;
  } catch {
    return dir;
  }
}

let current: ReturnType<typeof spawn> | undefined;
let stopping = false;

/** One run.js of one side; its progress goes to stderr under a prefix. Resolves with its exit code. */
function runOnce(dir: string, out: string, passOn: string[], prefix: string): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(dir, RUNNER), ...passOn, '--out', out], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    current = child;
    let pending = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop()!;
      for (const l of lines) process.stderr.write(`${prefix} ${l}\n`);
    });
    child.on('close', (code, signal) => {
      current = undefined;
      if (pending !== '') process.stderr.write(`${prefix} ${pending}\n`);
      done(code ?? (signal !== null ? 128 : 1));
    });
  });
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  mkdirSync(o.out, { recursive: true });
  // run.js tears its namespaces down on SIGINT/SIGTERM: pass the signal on and stop after it.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      stopping = true;
      current?.kill(sig);
    });
  }
  const results: Record<Side, Results[]> = { before: [], after: [] };
  let failed = false;
  for (let r = 1; r <= o.rounds && !stopping; r++) {
    const order: Side[] = r % 2 === 1 ? ['before', 'after'] : ['after', 'before'];
    for (const side of order) {
      if (stopping) break;
      const out = join(o.out, `${side}-${r}`);
      const code = await runOnce(o.dirs[side], out, o.passOn, `[${side} ${r}/${o.rounds}]`);
      const file = join(out, 'results.json');
      if (existsSync(file)) results[side].push(JSON.parse(readFileSync(file, 'utf8')) as Results);
      if (code !== 0) failed = true;
    }
  }
  const md = markdownComparison(results.before, results.after, { before: label(o.dirs.before), after: label(o.dirs.after) });
  writeFileSync(join(o.out, 'ab.md'), md);
  process.stdout.write(md);
  process.stderr.write(`wrote ${join(o.out, 'ab.md')}\n`);
  return failed || stopping ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/e2e/ab: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
