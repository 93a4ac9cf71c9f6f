/**
 * Summaries of V8 CPU profiles (.cpuprofile, as `node --cpu-prof` writes
 * them): where a process spent its time, by function and by source file,
 * as self time (the samples whose top frame it was). The e2e bench's
 * --profile writes one per weft process and prints these beside its table.
 *
 *   node dist/bench/util/profile-summary.js DIR [TOP]   (every .cpuprofile under DIR)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/** The parts of the .cpuprofile format this reads (Chrome DevTools protocol, Profiler.Profile). */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  /** Microseconds since the previous sample; the first since startTime. */
  timeDeltas: number[];
}

export interface Cost {
  name: string;
  selfMs: number;
  /** Share of the busy time: every sample but (idle). */
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: Cost[];
  files: Cost[];
}

/** V8's own pseudo-frames keep their names; everything else is "function file:line". */
function frameName(f: CpuProfile['nodes'][number]['callFrame']): { fn: string; file: string } {
  if (f.url === '') return { fn: f.functionName, file: f.functionName };
  const file = basename(f.url);
  return { fn: `${f.functionName === '' ? '(anonymous)' : f.functionName} ${file}:${f.lineNumber + 1}`, file };
}

function top(costs: Map<string, number>, busyMs: number, n: number): Cost[] {
  return [...costs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, selfMs]) => ({ name, selfMs, share: busyMs > 0 ? selfMs / busyMs : 0 }));
}

/** Self time by function and by file, the `n` largest of each. A sample's time is the delta that follows it. */
export function summarizeProfile(p: CpuProfile, n = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((node) => [node.id, frameName(node.callFrame)]));
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const frame = byId.get(p.samples[i]!);
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (frame === undefined || ms <= 0) continue;
    if (frame.fn === '(idle)') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    functions.set(frame.fn, (functions.get(frame.fn) ?? 0) + ms);
    files.set(frame.file, (files.get(frame.file) ?? 0) + ms);
  }
  return { busyMs, idleMs, functions: top(functions, busyMs, n), files: top(files, busyMs, n) };
}

function costLines(costs: Cost[]): string[] {
  return costs.map((c) => `| ${c.name.replaceAll('|', '\\|')} | ${c.selfMs.toFixed(0)} | ${(c.share * 100).toFixed(1)}% |`);
}

/** Markdown for one profile: busy and idle time, then the top functions and files by self time. */
export function summaryMarkdown(title: string, s: ProfileSummary): string {
  return [
    `### ${title}`,
    '',
    `busy ${(s.busyMs / 1000).toFixed(2)} s, idle ${(s.idleMs / 1000).toFixed(2)} s`,
    '',
    '| function | self ms | share of busy |',
    '|---|--:|--:|',
    ...costLines(s.functions),
    '',
    '| file | self ms | share of busy |',
    '|---|--:|--:|',
    ...costLines(s.files),
    '',
  ].join('\n');
}

/** Every .cpuprofile under `dir` (one level of subdirectories: one per case), summarized. */
export function summarizeDir(dir: string, n = 15): string {
  const out: string[] = [];
  const walk = (d: string, label: string): void => {
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry);
      if (statSync(path).isDirectory()) walk(path, entry);
      else if (entry.endsWith('.cpuprofile')) {
        const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
        out.push(summaryMarkdown(`${label === '' ? '' : `${label}: `}${entry}`, summarizeProfile(profile, n)));
      }
    }
  };
  walk(dir, '');
  return out.join('\n');
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const dir = process.argv[2];
  if (dir === undefined) {
    process.stderr.write('usage: node dist/bench/util/profile-summary.js DIR [TOP]\n');
    process.exit(2);
  }
  process.stdout.write(summarizeDir(dir, Number(process.argv[3] ?? 15)));
}
