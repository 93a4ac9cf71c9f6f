/**
 * The before/after comparison of bench/e2e/ab.ts: each side's rounds of one
 * case reduced to a mean and a range per figure, and the after/before ratio
 * of the means. Pure functions of results.json files, unit-tested without
 * namespaces.
 *
 * Why means with ranges and not one run each: on a small shared machine a
 * single round of the same code varies by 10-20% in throughput and by a
 * factor of two in idle ping. A verdict needs every round of one side to
 * beat every round of the other, and enough rounds that unchanged code
 * would rarely do so by chance: with n and m rounds, 2 / C(n+m, n) (a
 * permutation test at its extreme). Two rounds a side give 1 in 3, which
 * a first run of this tool showed (unchanged VXLAN came out "better");
 * three give 1 in 10; four give 1 in 35, under the 5% a verdict asks for.
 */
import { cpuPerGb } from './report.ts';
import type { CaseResult, Results } from './report.ts';

export type Side = 'before' | 'after';

/** One figure the comparison shows: its label, its unit, how to read it from a case, and which way is better. */
interface Figure {
  label: string;
  get: (r: CaseResult) => number | undefined;
  /** True when a larger value is better (throughput), false when smaller is (CPU, latency). */
  higherIsBetter: boolean;
  digits: number;
}

const FIGURES: readonly Figure[] = [
  { label: 'TCP 1 stream (Mbit/s)', get: (r) => mbit(r.tcp1?.bitsPerSecond), higherIsBetter: true, digits: 0 },
  { label: 'TCP 4 streams (Mbit/s)', get: (r) => mbit(r.tcp4?.bitsPerSecond), higherIsBetter: true, digits: 0 },
  { label: 'TCP 4 streams retransmits', get: (r) => r.tcp4?.retransmits, higherIsBetter: false, digits: 0 },
  { label: 'CPU s/GB end to end', get: (r) => cpuPerGb(r)?.endToEnd, higherIsBetter: false, digits: 2 },
  { label: 'CPU s/GB overlay processes', get: (r) => cpuPerGb(r)?.overlay ?? undefined, higherIsBetter: false, digits: 2 },
  { label: 'UDP 64 B received (kpps)', get: (r) => kilo(r.udp64?.receivedPps), higherIsBetter: true, digits: 1 },
  { label: 'UDP 1400 B received (kpps)', get: (r) => kilo(r.udp1400?.receivedPps), higherIsBetter: true, digits: 1 },
  { label: 'ping idle p50 (ms)', get: (r) => r.pingIdle?.p50Ms, higherIsBetter: false, digits: 3 },
  { label: 'ping idle p99 (ms)', get: (r) => r.pingIdle?.p99Ms, higherIsBetter: false, digits: 3 },
  { label: 'ping under 1 stream p50 (ms)', get: (r) => r.pingLoaded?.p50Ms, higherIsBetter: false, digits: 2 },
  { label: 'ping under 1 stream p99 (ms)', get: (r) => r.pingLoaded?.p99Ms, higherIsBetter: false, digits: 2 },
  { label: 'ping under 4 streams p50 (ms)', get: (r) => r.pingLoaded4?.p50Ms, higherIsBetter: false, digits: 2 },
  { label: 'ping under 4 streams p99 (ms)', get: (r) => r.pingLoaded4?.p99Ms, higherIsBetter: false, digits: 2 },
  { label: 'peak RSS (MiB)', get: (r) => (r.peakRss === undefined || r.peakRss.length === 0 ? undefined : Math.max(...r.peakRss.map((p) => p.bytes)) / 2 ** 20), higherIsBetter: false, digits: 1 },
];

function mbit(bps: number | undefined): number | undefined {
  return bps === undefined ? undefined : bps / 1e6;
}

function kilo(n: number | undefined): number | undefined {
  return n === undefined ? undefined : n / 1e3;
}

export interface Spread {
  mean: number;
  min: number;
  max: number;
  rounds: number;
}

/** Mean, min and max of the finite values; undefined when there are none. */
export function spread(values: readonly (number | undefined)[]): Spread | undefined {
  const xs = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (xs.length === 0) return undefined;
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs), rounds: xs.length };
}

/** The most a verdict's `chance` may be. */
export const VERDICT_CHANCE = 0.05;

/** 2 / C(n+m, n): the chance that n rounds of one side and m of the other, all from one distribution, fall into ranges apart (either way). */
export function chanceApart(n: number, m: number): number {
  let c = 1;
  for (let i = 1; i <= n; i++) c = (c * (m + i)) / i;
  return Math.min(1, 2 / c);
}

export interface FigureRow {
  label: string;
  before: Spread | undefined;
  after: Spread | undefined;
  /** after mean / before mean, when both are there and before is not 0. */
  ratio: number | undefined;
  /**
   * 'better' or 'worse' when the ranges do not overlap (every after round
   * beat, or lost to, every before round) and `chance` is at most 5%;
   * 'apart' when they do not overlap but there were too few rounds to
   * tell; 'overlap' otherwise.
   */
  verdict: 'better' | 'worse' | 'apart' | 'overlap' | undefined;
  /** How often unchanged code would give ranges this far apart: 2 / C(n+m, n). */
  chance: number | undefined;
  digits: number;
}

/** Each figure of case `name`, over the rounds of each side. */
export function compareCase(name: string, before: readonly Results[], after: readonly Results[]): FigureRow[] {
  const of = (runs: readonly Results[]) => runs.map((r) => r.cases.find((c) => c.name === name && c.error === undefined)).filter((c): c is CaseResult => c !== undefined);
  const b = of(before);
  const a = of(after);
  const rows: FigureRow[] = [];
  for (const f of FIGURES) {
    const sb = spread(b.map(f.get));
    const sa = spread(a.map(f.get));
    if (sb === undefined && sa === undefined) continue;
    const ratio = sb !== undefined && sa !== undefined && sb.mean !== 0 ? sa.mean / sb.mean : undefined;
    let verdict: FigureRow['verdict'];
    let chance: number | undefined;
    if (sb !== undefined && sa !== undefined) {
      const up = sa.min > sb.max;
      const down = sa.max < sb.min;
      chance = chanceApart(sb.rounds, sa.rounds);
      if (!up && !down) verdict = 'overlap';
      else if (chance > VERDICT_CHANCE) verdict = 'apart';
      else verdict = up === f.higherIsBetter ? 'better' : 'worse';
    }
    rows.push({ label: f.label, before: sb, after: sa, ratio, verdict, chance, digits: f.digits });
  }
  return rows;
}

function percent(p: number): string {
  return `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%`;
}

function cell(s: Spread | undefined, digits: number): string {
  if (s === undefined) return '-';
  const f = (x: number) => x.toFixed(digits);
  return s.min === s.max ? f(s.mean) : `${f(s.mean)} [${f(s.min)}–${f(s.max)}]`;
}

/** The markdown comparison: one table per case that ran on either side, figures as mean [min–max]. */
export function markdownComparison(before: readonly Results[], after: readonly Results[], labels: { before: string; after: string }): string {
  const names: string[] = [];
  for (const r of [...before, ...after]) for (const c of r.cases) if (!names.includes(c.name)) names.push(c.name);
  const lines = [
    `# weft end-to-end benchmark: before and after`,
    '',
    `before: ${labels.before} (${before.length} rounds); after: ${labels.after} (${after.length} rounds), alternating in one window.`,
    'Each figure is the mean over rounds, [min–max]. "better" or "worse": every round of one side beat every round of the other,',
    `which unchanged code does by chance ${percent(chanceApart(before.length, after.length))} of the time with these rounds (a verdict needs at most ${percent(VERDICT_CHANCE)});`,
    '"apart": the same, with too few rounds to tell.',
  ];
  const judged: FigureRow[] = [];
  for (const name of names) {
    const rows = compareCase(name, before, after);
    judged.push(...rows.filter((r) => r.chance !== undefined));
    lines.push('', `## ${name}`, '', '| figure | before | after | after / before | |', '|---|--:|--:|--:|---|');
    for (const row of rows) {
      const ratio = row.ratio === undefined ? '-' : row.ratio.toFixed(2);
      lines.push(`| ${row.label} | ${cell(row.before, row.digits)} | ${cell(row.after, row.digits)} | ${ratio} | ${row.verdict === 'overlap' || row.verdict === undefined ? '' : row.verdict} |`);
    }
    const failed = [...before.map((r) => ['before', r] as const), ...after.map((r) => ['after', r] as const)].flatMap(([side, r]) =>
      r.cases.filter((c) => c.name === name && c.error !== undefined).map((c) => `- ${side}: ${c.error}`),
    );
    if (failed.length > 0) lines.push('', 'failed rounds:', ...failed);
  }
  // Each verdict is one test: over many figures, some come out apart by chance alone.
  if (judged.length > 0) {
    const expected = judged.reduce((n, r) => n + (r.chance! <= VERDICT_CHANCE ? r.chance! : 0), 0);
    const verdicts = judged.filter((r) => r.verdict === 'better' || r.verdict === 'worse').length;
    lines.push('', `${verdicts} verdicts over ${judged.length} figures; unchanged code would give about ${expected.toFixed(1)} by chance alone, so read a lone verdict on a noisy figure (a p99) with that in mind.`);
  }
  const loads = [...before, ...after].map((r) => r.machine.loadStart[0]).filter((l): l is number => l !== undefined);
  if (loads.length > 0) lines.push('', `1-minute load average at each round's start: ${Math.min(...loads)} to ${Math.max(...loads)}.`);
  return `${lines.join('\n')}\n`;
}
