/**
 * Shared measurement for micro-benchmarks: time per operation, and what the
 * garbage collector saw while the operation ran. Zero allocation per packet
 * shows as zero scavenges (young-generation collections) and a heap that
 * does not grow across a million operations. Run node with --expose-gc so
 * the heap is collected before each measurement.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';

export interface Measurement {
  name: string;
  ops: number;
  nsPerOp: number;
  /** Young-generation collections during the run; each means megabytes were allocated. */
  scavenges: number;
  /** Full collections during the run. */
  majorGcs: number;
  /** Heap growth across the run, in bytes per operation (JIT and noise show as a fraction of a byte). */
  heapBytesPerOp: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

export function hasGc(): boolean {
  return gc !== undefined;
}

/** Collect the heap now when node runs with --expose-gc; otherwise nothing. */
export function collectGarbage(): void {
  gc?.();
}

/** Garbage collections seen: young-generation scavenges, and everything else (full collections and their incremental steps). */
export interface GcCounts {
  scavenges: number;
  majorGcs: number;
}

/** One garbage collection: when it started (performance.now() time) and its kind (perf_hooks constants). */
export interface GcEntry {
  start: number;
  kind: number;
}

/** Let GC performance entries, which are delivered asynchronously, reach their observers. */
export async function settleGc(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
}

/**
 * Records every garbage collection from construction until stop(). counts()
 * sums them, or only those that started inside the given windows of
 * performance.now() times (for benches that interleave cases).
 */
export class GcRecorder {
  readonly entries: GcEntry[] = [];
  private readonly observer: PerformanceObserver;

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.entries.push({ start: e.startTime, kind: (e as { detail?: { kind?: number } }).detail?.kind ?? 0 });
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  counts(windows?: ReadonlyArray<readonly [number, number]>, from = 0): GcCounts {
    let scavenges = 0;
    let majorGcs = 0;
    for (let i = from; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (windows && !windows.some(([a, b]) => e.start >= a && e.start < b)) continue;
      if (e.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
      else majorGcs++;
    }
    return { scavenges, majorGcs };
  }

  /** Let the last entries arrive, stop recording, and return the counts. */
  async stop(): Promise<GcCounts> {
    await settleGc();
    this.observer.disconnect();
    return this.counts();
  }
}

/**
 * Run `fn` (after a collection when --expose-gc is on) and count the garbage
 * collections while it ran; `ns` is its wall time.
 */
export async function gcWindow<T>(fn: () => T | Promise<T>): Promise<GcCounts & { result: T; ns: number }> {
  gc?.();
  await settleGc();
  const recorder = new GcRecorder();
  const t0 = process.hrtime.bigint();
  const result = await fn();
  const ns = Number(process.hrtime.bigint() - t0);
  return { result, ns, ...(await recorder.stop()) };
}

/** Run `op` `ops` times after `warmup` runs; returns timing and GC activity. */
export async function measure(name: string, ops: number, op: (i: number) => void, warmup = Math.min(ops, 200_000)): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) op(i);
  let heapBefore = 0;
  let heapAfter = 0;
  const w = await gcWindow(() => {
    heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < ops; i++) op(i);
    heapAfter = process.memoryUsage().heapUsed;
  });
  return {
    name,
    ops,
    nsPerOp: w.ns / ops,
    scavenges: w.scavenges,
    majorGcs: w.majorGcs,
    heapBytesPerOp: (heapAfter - heapBefore) / ops,
  };
}

export function printTable(rows: Measurement[]): void {
  const header = ['case', 'ops', 'ns/op', 'Mops/s', 'scavenges', 'major GCs', 'heap B/op'];
  const lines = rows.map((r) => [
    r.name,
    r.ops.toLocaleString('en-US'),
    r.nsPerOp.toFixed(1),
    (1000 / r.nsPerOp).toFixed(2),
    String(r.scavenges),
    String(r.majorGcs),
    r.heapBytesPerOp.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  console.log(fmt(header));
  // Markdown alignment: the case name left, the numbers right.
  console.log('|' + widths.map((w, i) => (i === 0 ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|') + '|');
  for (const l of lines) console.log(fmt(l));
  if (!hasGc()) console.log('\n(run with node --expose-gc for a collected heap before each case)');
}
