/**
 * Smoke test of the end-to-end bench (bench/e2e): the compiled harness runs
 * its quick mode on the raw underlay and on weft with VXLAN, writes its three
 * files, and leaves no namespace behind. Speed is never asserted: only that
 * every figure was measured.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/netns.ts';

const root = requireRoot();
const RUN = resolve(import.meta.dirname, '../../dist/bench/e2e/run.js');

interface Run {
  code: number | null;
  pid: number;
  stdout: string;
  stderr: string;
}

function runBench(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // SIGINT, not SIGKILL: the harness tears its namespaces down on SIGINT.
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, pid: child.pid ?? 0, stdout, stderr });
    });
  });
}

describe.skipIf(!root)('bench/e2e --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'weft-bench-e2e-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures raw and weft-vxlan and writes results.json, results.md and chart.svg', async () => {
    if (!existsSync(RUN)) throw new Error(`${RUN} is missing: run npx tsc -p tsconfig.build.json (npm test does it first)`);
    const profiles = join(out, 'profiles');
    const r = await runBench(['--quick', '--cases', 'raw,weft-vxlan', '--out', out, '--profile', profiles], 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[1\/2\] raw: TCP 1 stream/u);
    expect(r.stderr).toMatch(/\[2\/2\] weft-vxlan: TCP 4 streams/u);

    for (const f of ['results.json', 'results.md', 'chart.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      machine: { nproc: number; loadStart: number[] };
      cases: { name: string; error?: string; tcp1: { bitsPerSecond: number }; tcp4: { bitsPerSecond: number }; udp64: { receivedPps: number }; pingIdle: { received: number }; pingLoaded: { received: number }; pingLoaded4: { received: number } }[];
    };
    expect(res.machine.nproc).toBeGreaterThan(0);
    expect(res.machine.loadStart).toHaveLength(3);
    expect(res.cases.map((c) => c.name)).toEqual(['raw', 'weft-vxlan']);
    for (const c of res.cases) {
      expect(c.error).toBeUndefined();
      expect(c.tcp1.bitsPerSecond).toBeGreaterThan(0);
      expect(c.tcp4.bitsPerSecond).toBeGreaterThan(0);
      expect(c.udp64.receivedPps).toBeGreaterThan(0);
      expect(c.pingIdle.received).toBeGreaterThan(0);
      expect(c.pingLoaded.received).toBeGreaterThan(0);
      expect(c.pingLoaded4.received).toBeGreaterThan(0);
    }

    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toMatch(/^\| raw \|/mu);
    expect(md).toMatch(/^\| weft-vxlan \(dgram, offload\) \|/mu);
    expect(readFileSync(join(out, 'chart.svg'), 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/u);
    // --profile: both weft processes wrote a profile when they stopped, and the summary names their busiest code.
    expect(readdirSync(join(profiles, 'weft-vxlan')).filter((f) => f.endsWith('.cpuprofile'))).toHaveLength(2);
    const summary = readFileSync(join(profiles, 'summary.md'), 'utf8');
    expect(summary.match(/^### weft-vxlan: .*\.cpuprofile$/gmu)).toHaveLength(2);
    expect(summary).toMatch(/^\| [^|]+\.js:\d+ \| \d+ \| [\d.]+% \|$/mu);
    expect(r.stdout).toContain('## CPU profiles');

    // Every namespace the harness made (named weft-t-<its pid>-n) is gone.
    const ns = await new Promise<string>((done) => {
      const p = spawn('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let s = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => (s += d));
      p.on('close', () => done(s));
    });
    expect(ns).not.toContain(`weft-t-${r.pid}-`);
  });
});
