/** The end-to-end bench's derived figures, markdown and SVG, on made-up results. */
import { describe, expect, it } from 'vitest';
import { cpuPerGb, markdownReport, markdownTable, ratios } from '../../../bench/e2e/report.ts';
import type { CaseResult, Results } from '../../../bench/e2e/report.ts';
import { escapeXml, throughputSvg } from '../../../bench/e2e/svg.ts';

function tcp(bps: number, overlayCpu = 0) {
  const seconds = 10;
  return { seconds, bytes: (bps / 8) * seconds, bitsPerSecond: bps, retransmits: 0, clientCpuSeconds: 1, serverCpuSeconds: 1, streams: 1, overlayCpuSeconds: overlayCpu, machineCpuSeconds: 4 };
}
function udp(pps: number, size: number) {
  return { seconds: 1, sentPackets: pps * 2, lostPackets: pps, receivedPackets: pps, receivedPps: pps, lostPercent: 50, packetSize: size };
}
const ping = { sent: 100, received: 100, p50Ms: 0.05, p99Ms: 0.2, maxMs: 0.3 };

function kase(name: string, bps: number, opts: { overlayCpu?: number; transport?: string; rss?: number } = {}): CaseResult {
  const r: CaseResult = {
    name,
    description: name,
    tcp1: tcp(bps, opts.overlayCpu ?? 0),
    tcp4: tcp(bps * 2, opts.overlayCpu ?? 0),
    udp64: udp(bps / 1e4, 64),
    udp1400: udp(bps / 2e4, 1400),
    pingIdle: ping,
    pingLoaded: { ...ping, sent: 100, received: 98, loadBitsPerSecond: bps },
    pingLoaded4: { ...ping, p50Ms: 0.5, sent: 100, received: 100, loadBitsPerSecond: bps * 2 },
  };
  if (opts.transport !== undefined) r.transport = opts.transport;
  if (opts.rss !== undefined) r.peakRss = [{ label: `${name} node-a`, bytes: opts.rss }, { label: `${name} node-b`, bytes: opts.rss / 2 }];
  return r;
}

const CASES = [
  kase('raw', 8e9),
  kase('kernel-vxlan', 4e9),
  kase('weft-vxlan', 1e9, { overlayCpu: 5, transport: 'dgram', rss: 80 * 1048576 }),
];
CASES[2]!.tcp1!.scavenges = 5;

describe('derived figures', () => {
  it('CPU seconds per 10^9 bytes received, overlay only for cases with a daemon', () => {
    // 1 Gbit/s for 10 s = 1.25e9 bytes.
    const weft = cpuPerGb(CASES[2]!)!;
    expect(weft.overlay).toBeCloseTo(5 / 1.25);
    expect(weft.endToEnd).toBeCloseTo(7 / 1.25);
    expect(weft.machine).toBeCloseTo(4 / 1.25);
    expect(cpuPerGb(CASES[1]!)!.overlay).toBeNull();
    expect(cpuPerGb({ name: 'x', description: 'x' })).toBeUndefined();
  });

  it('ratios only for pairs that both ran', () => {
    const r = ratios(CASES);
    expect(r.every((x) => x.numerator === 'weft-vxlan' && x.denominator === 'kernel-vxlan')).toBe(true);
    expect(r.find((x) => x.metric === 'TCP 1 stream')!.value).toBeCloseTo(0.25);
    expect(r.find((x) => x.metric === 'UDP 64 B pps')!.value).toBeCloseTo(0.25);
    expect(ratios([CASES[0]!, CASES[2]!])).toEqual([]);
  });
});

describe('markdown', () => {
  it('one row per case, cells in column order, failures marked', () => {
    const failed: CaseResult = { name: 'wireguard-go', description: 'x', error: 'boom | bang' };
    const lines = markdownTable([...CASES, failed]).split('\n');
    expect(lines).toHaveLength(2 + 4);
    expect(lines[0]!.split(' | ')).toHaveLength(12);
    expect(lines[2]).toMatch(/^\| raw \| 8000 \| 16000 \| 800\.0k \(50\.0% loss\) \| 400\.0k \(50\.0% loss\) \| 0\.050 \/ 0\.200 \| 0\.050 \/ 0\.200, 2 lost \| 0\.500 \/ 0\.200 \| - \| 0\.20 \| - \| - \|$/u);
    // 5 scavenges over 1.25e9 bytes: 4.0 per GB.
    expect(lines[4]).toMatch(/^\| weft-vxlan \(dgram\) \| 1000 \| .* \| 4\.00 \| 5\.60 \| 80\.0 \| 4\.0 \|$/u);
    expect(lines[5]).toMatch(/^\| wireguard-go FAILED \| - \|/u);
  });

  it('the report has the table, the ratios, the machine and the failures', () => {
    const res: Results = {
      startedAt: '2026-01-01T00:00:00Z',
      finishedAt: '2026-01-01T00:05:00Z',
      quick: false,
      secondsPerMeasurement: 10,
      machine: { nproc: 2, kernel: '6.1', node: 'v20', iperf3: 'iperf 3.12', tcpCongestionControl: 'bbr', weftScheduling: 'SCHED_RR 10', weftAead: 'openssl', loadStart: [1, 2, 3], loadEnd: [2, 2, 3] },
      cases: [...CASES, { name: 'weft-wireguard', description: 'x', error: 'no handshake' }],
    };
    const md = markdownReport(res);
    expect(md).toContain('| kernel-vxlan | 4000 |');
    expect(md).toContain('- weft-vxlan / kernel-vxlan, TCP 1 stream: 0.25');
    expect(md).toContain('iperf 3.12, TCP congestion control bbr; weft scheduling SCHED_RR 10, transport AEAD openssl; load average 1 2 3 at the start');
    expect(md).toContain('- weft-wireguard: no handshake');
  });
});

describe('SVG chart', () => {
  it('two bars per case, scaled to the largest value, text escaped', () => {
    const svg = throughputSvg([...CASES, { name: 'a<b', description: 'x' }], 'T & T');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('T &amp; T');
    expect(svg).toContain('a&lt;b');
    expect(svg).not.toContain('a<b');
    const widths = [...svg.matchAll(/<rect x="170" y="\d+" width="([\d.]+)" height="14"/gu)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(8);
    // raw's 4-stream bar (16 Gbit/s) is the longest: the full 500 px.
    expect(Math.max(...widths)).toBeCloseTo(500);
    expect(widths[1]).toBeCloseTo(500);
    expect(widths[0]).toBeCloseTo(250);
    expect(widths.slice(6)).toEqual([0, 0]); // the case without figures
    expect(escapeXml('"<&>"')).toBe('&quot;&lt;&amp;&gt;&quot;');
  });
});
