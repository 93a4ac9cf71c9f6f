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

/** Run `op` `ops` times after `warmup` runs; returns timing and GC activity. */
export async function measure(name: string, ops: number, op: (i: number) => void, warmup = Math.min(ops, 200_000)): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) op(i);
  gc?.();
  let scavenges = 0;
  let majorGcs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
      else majorGcs++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) op(i);
  const t1 = process.hrtime.bigint();
  const heapAfter = process.memoryUsage().heapUsed;
  // GC entries are delivered asynchronously: let them arrive before reading the counts.
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return {
    name,
    ops,
    nsPerOp: Number(t1 - t0) / ops,
    scavenges,
    majorGcs,
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
