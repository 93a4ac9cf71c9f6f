/**
 * Which of weft's functions a packet passes through, read from V8's
 * coverage: run a bench case with NODE_V8_COVERAGE=DIR (every weft process
 * it starts writes its counts there on exit), then
 *
 *   node dist/bench/util/hot-path.js DIR [MIN]
 *
 * lists, per file of dist/src, the functions that ran at least MIN times
 * (default 200: per packet or per batch, not per start-up) and the lines
 * they span in the emitted JavaScript, which keeps tsc's layout. This is
 * the measure of "following one packet" in docs/ARCHITECTURE.md.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface Coverage {
  result: Array<{ url: string; functions: Array<{ functionName: string; ranges: Range[] }> }>;
}

const [dir, minText] = process.argv.slice(2);
if (dir === undefined) {
  console.error('usage: node dist/bench/util/hot-path.js COVERAGE_DIR [MIN_CALLS]');
  process.exit(2);
}
const min = Number(minText ?? 200);
const byFile = new Map<string, Map<string, { name: string; lines: number }>>();
for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
  const coverage = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Coverage;
  for (const script of coverage.result) {
    const m = /\/dist\/(src\/.*)\.js$/u.exec(script.url);
    if (m === null || !script.url.startsWith('file:')) continue;
    const text = readFileSync(fileURLToPath(script.url), 'utf8');
    for (const fn of script.functions) {
      const whole = fn.ranges[0];
      if (whole === undefined || whole.count < min || fn.functionName === '') continue;
      const functions = byFile.get(m[1]!) ?? new Map<string, { name: string; lines: number }>();
      functions.set(`${fn.functionName}@${whole.startOffset}`, { name: fn.functionName, lines: text.slice(whole.startOffset, whole.endOffset).split('\n').length });
      byFile.set(m[1]!, functions);
    }
  }
}
let lines = 0;
let count = 0;
for (const [file, functions] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
  const own = [...functions.values()].reduce((n, f) => n + f.lines, 0);
  lines += own;
  count += functions.size;
  console.log(`${String(own).padStart(5)}  ${file}.ts  (${[...functions.values()].map((f) => f.name).join(', ')})`);
}
console.log(`${byFile.size} files, ${count} functions, ${lines} lines`);
