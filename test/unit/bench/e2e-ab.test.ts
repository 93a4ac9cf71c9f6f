/** bench/e2e/ab's comparison: means, ranges, ratios and verdicts over made-up rounds. */
import { describe, expect, it } from 'vitest';
import { chanceApart, compareCase, markdownComparison, spread } from '../../../bench/e2e/ab-summary.ts';
import type { CaseResult, Results } from '../../../bench/e2e/report.ts';

/** One round's result of case `name`: TCP at `mbit` (4 streams at twice that), `cpu` overlay CPU seconds, idle ping `idleMs`. */
function round(name: string, mbit: number, cpu: number, idleMs: number, load = 1): Results {
  const bps = mbit * 1e6;
  const tcp = (streams: number) => ({ seconds: 10, bytes: (bps * streams * 10) / 8, bitsPerSecond: bps * streams, retransmits: 100 * streams, clientCpuSeconds: 1, serverCpuSeconds: 1, streams, overlayCpuSeconds: cpu, machineCpuSeconds: 10 });
  const ping = { sent: 100, received: 100, p50Ms: idleMs, p99Ms: idleMs * 3, maxMs: idleMs * 4 };
  const c: CaseResult = { name, description: name, tcp1: tcp(1), tcp4: tcp(2), pingIdle: ping, peakRss: [{ label: 'a', bytes: 90 * 2 ** 20 }, { label: 'b', bytes: 80 * 2 ** 20 }] };
  return {
    startedAt: '',
    finishedAt: '',
    quick: false,
    secondsPerMeasurement: 10,
    machine: { nproc: 2, kernel: '6', node: 'v20', iperf3: 'iperf 3', weftScheduling: 'normal', weftAead: 'openssl', loadStart: [load, 1, 1], loadEnd: [1, 1, 1] },
    cases: [c],
  };
}

describe('spread', () => {
  it('is the mean, min and max of the finite values, or undefined without any', () => {
    expect(spread([1, 2, 6, undefined, Number.NaN])).toEqual({ mean: 3, min: 1, max: 6, rounds: 3 });
    expect(spread([undefined])).toBeUndefined();
  });
});

describe('chanceApart', () => {
  it('is 2 / C(n+m, n): how often unchanged code gives ranges apart', () => {
    expect(chanceApart(1, 1)).toBe(1);
    expect(chanceApart(2, 2)).toBeCloseTo(1 / 3);
    expect(chanceApart(3, 3)).toBeCloseTo(0.1);
    expect(chanceApart(4, 4)).toBeCloseTo(2 / 70);
    expect(chanceApart(3, 5)).toBeCloseTo(2 / 56);
  });
});

describe('compareCase', () => {
  // 1000 Mbit/s for 10 s = 1.25e9 bytes: 5 CPU seconds overlay are 4 s/GB. Four rounds a side.
  const before = [round('w', 1000, 5, 0.4), round('w', 1100, 5.5, 0.6), round('w', 1050, 5, 0.45), round('w', 1000, 5, 0.5)];
  const after = [round('w', 1400, 5, 0.5), round('w', 1500, 5.25, 0.3), round('w', 1450, 5, 0.35), round('w', 1450, 5, 0.4)];
  const rows = compareCase('w', before, after);
  const row = (label: string) => rows.find((r) => r.label === label)!;

  it('gives each side mean [min-max] and after/before, and judges only ranges apart', () => {
    const tcp = row('TCP 1 stream (Mbit/s)');
    expect(tcp.before).toEqual({ mean: 1037.5, min: 1000, max: 1100, rounds: 4 });
    expect(tcp.after).toEqual({ mean: 1450, min: 1400, max: 1500, rounds: 4 });
    expect(tcp.ratio).toBeCloseTo(1450 / 1037.5);
    expect(tcp.verdict).toBe('better');
    expect(tcp.chance).toBeCloseTo(2 / 70);
    // Lower is better for CPU: 3.64 to 4.0 s/GB before, 2.76 to 2.86 after.
    const cpu = row('CPU s/GB overlay processes');
    expect(cpu.before!.max).toBeCloseTo(4);
    expect(cpu.after!.max).toBeCloseTo(5 / 1.75);
    expect(cpu.verdict).toBe('better');
    // Idle ping ranges 0.4-0.6 and 0.3-0.5 overlap: no verdict either way.
    expect(row('ping idle p50 (ms)').verdict).toBe('overlap');
    expect(row('peak RSS (MiB)').before!.mean).toBe(90);
  });

  it('calls a rise in latency or a fall in throughput worse', () => {
    const slow = compareCase('w', after, before);
    expect(slow.find((r) => r.label === 'TCP 4 streams (Mbit/s)')!.verdict).toBe('worse');
    const fast = [0.1, 0.11, 0.12, 0.1].map((ms) => round('w', 1000, 5, ms));
    const lagging = [0.2, 0.25, 0.21, 0.3].map((ms) => round('w', 1000, 5, ms));
    expect(compareCase('w', fast, lagging).find((r) => r.label === 'ping idle p99 (ms)')!.verdict).toBe('worse');
  });

  it('says only "apart" for ranges apart over too few rounds: two a side do that by chance one time in three', () => {
    const two = compareCase('w', before.slice(0, 2), after.slice(0, 2)).find((r) => r.label === 'TCP 1 stream (Mbit/s)')!;
    expect(two.verdict).toBe('apart');
    expect(two.chance).toBeCloseTo(1 / 3);
  });

  it('leaves out figures no round has, and failed rounds', () => {
    expect(rows.some((r) => r.label.startsWith('UDP'))).toBe(false);
    const broken = round('w', 9000, 1, 0.1);
    broken.cases[0]!.error = 'no handshake';
    const withBroken = compareCase('w', [...before, broken], after);
    expect(withBroken.find((r) => r.label === 'TCP 1 stream (Mbit/s)')!.before!.rounds).toBe(4);
  });
});

describe('markdownComparison', () => {
  it('has a table per case with both sides, the ratio, the verdict, failures and the load', () => {
    const before = [round('w', 1000, 5, 0.4, 0.5), round('w', 1100, 5.5, 0.6, 2.25), round('w', 1000, 5, 0.5), round('w', 1100, 5, 0.5)];
    const after = [1400, 1450, 1500, 1450].map((mbit) => round('w', mbit, 5, 0.5));
    const failed = round('w', 0, 0, 0);
    failed.cases[0]!.error = 'no handshake';
    const md = markdownComparison(before, [...after, failed], { before: 'c011ede', after: 'd7984e0' });
    expect(md).toContain('before: c011ede (4 rounds); after: d7984e0 (5 rounds), alternating in one window.');
    expect(md).toContain('which unchanged code does by chance 1.6% of the time with these rounds (a verdict needs at most 5.0%);');
    expect(md).toContain('| TCP 1 stream (Mbit/s) | 1050 [1000–1100] | 1450 [1400–1500] | 1.38 | better |');
    expect(md).toContain('| ping idle p50 (ms) | 0.500 [0.400–0.600] | 0.500 | 1.00 |  |');
    expect(md).toContain('failed rounds:\n- after: no handshake');
    // 8 figures, each over 4 against 4 rounds that ran (2/70): about 0.2 verdicts by chance; here TCP 1 and 4 streams and both CPUs.
    expect(md).toContain('4 verdicts over 8 figures; unchanged code would give about 0.2 by chance alone');
    expect(md).toContain("1-minute load average at each round's start: 0.5 to 2.25.");
  });
});
