/**
 * The bench's results: their shape (results.json), the derived figures
 * (CPU seconds per gigabyte, ratios) and the markdown table. Pure functions
 * of the results, so they are unit-tested without namespaces.
 */
import type { PingMeasurement, TcpMeasurement, UdpMeasurement } from './measure.ts';

export interface CaseResult {
  name: string;
  description: string;
  /** weft's transport for weft cases ("dgram"); absent for the others. */
  transport?: string;
  tcp1?: TcpMeasurement;
  tcp4?: TcpMeasurement;
  udp64?: UdpMeasurement;
  udp1400?: UdpMeasurement;
  pingIdle?: PingMeasurement;
  /** Pings while one TCP stream runs, and while four do. */
  pingLoaded?: PingMeasurement & { loadBitsPerSecond: number };
  pingLoaded4?: PingMeasurement & { loadBitsPerSecond: number };
  /** Peak RSS (VmHWM) of each overlay process: weft or wireguard-go, one per node. */
  peakRss?: { label: string; bytes: number }[];
  /** Set when the case failed; the measurements it finished are kept. */
  error?: string;
}

export interface Machine {
  nproc: number;
  kernel: string;
  node: string;
  iperf3: string;
  /** The pods' TCP congestion control (each new namespace takes the machine's): it decides how much a bulk flow queues. */
  tcpCongestionControl?: string;
  /** The weft processes' scheduling: "normal", or "SCHED_RR N" from WEFT_REALTIME_PRIORITY (scheduling.priority). */
  weftScheduling: string;
  /** What seals WireGuard's transport data in the weft processes: "openssl" or "libsodium" (WEFT_AEAD). */
  weftAead: string;
  /** 1, 5 and 15 minute load averages at the start and at the end of the run. */
  loadStart: number[];
  loadEnd: number[];
}

export interface Results {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  secondsPerMeasurement: number;
  machine: Machine;
  cases: CaseResult[];
}

const GB = 1e9;

/**
 * CPU seconds per gigabyte (10^9 bytes received) over the 1-stream TCP run.
 * overlay: utime + stime of the overlay's own processes on both nodes (weft,
 *   wireguard-go); null for the kernel paths, which have no such process.
 * endToEnd: that plus both iperf3 processes' own CPU. With tick-based CPU
 *   accounting (no IRQ time accounting) softirq work is charged to the task
 *   it interrupts, so the kernel's veth, vxlan and TCP work done on the
 *   iperf3 processes' CPUs lands here too; work done in ksoftirqd does not.
 * machine: the whole machine's busy time, including unrelated load.
 */
export function cpuPerGb(r: CaseResult): { overlay: number | null; endToEnd: number; machine: number } | undefined {
  const t = r.tcp1;
  if (t === undefined || t.bytes <= 0) return undefined;
  const gb = t.bytes / GB;
  const hasOverlay = (r.peakRss?.length ?? 0) > 0 || t.overlayCpuSeconds > 0;
  return {
    overlay: hasOverlay ? t.overlayCpuSeconds / gb : null,
    endToEnd: (t.clientCpuSeconds + t.serverCpuSeconds + t.overlayCpuSeconds) / gb,
    machine: t.machineCpuSeconds / gb,
  };
}

export interface Ratio {
  numerator: string;
  denominator: string;
  metric: string;
  value: number;
}

/** The comparisons the issue asks for: weft against the path it replaces. */
export const RATIO_PAIRS: readonly [string, string][] = [
  ['weft-vxlan', 'kernel-vxlan'],
  ['weft-wireguard', 'wireguard-go'],
  ['weft-vxlan-batch', 'kernel-vxlan'],
  ['weft-wireguard-batch', 'wireguard-go'],
  ['weft-vxlan-jumbo', 'kernel-vxlan-jumbo'],
  ['weft-vxlan-jumbo', 'weft-vxlan-batch'],
  ['weft-wireguard-jumbo', 'weft-wireguard-batch'],
  // Over an IPv6 underlay: beside the kernel there, and against weft's own IPv4 figures.
  ['weft-vxlan-ipv6', 'kernel-vxlan-ipv6'],
  ['weft-vxlan-ipv6', 'weft-vxlan-batch'],
  ['weft-wireguard-ipv6', 'weft-wireguard-batch'],
];

const RATIO_METRICS: readonly [string, (r: CaseResult) => number | undefined][] = [
  ['TCP 1 stream', (r) => r.tcp1?.bitsPerSecond],
  ['TCP 4 streams', (r) => r.tcp4?.bitsPerSecond],
  ['UDP 64 B pps', (r) => r.udp64?.receivedPps],
  ['UDP 1400 B pps', (r) => r.udp1400?.receivedPps],
  ['CPU s/GB (end to end)', (r) => cpuPerGb(r)?.endToEnd],
];

/** Every ratio whose two cases both ran and have the figure. */
export function ratios(cases: readonly CaseResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const [num, den] of RATIO_PAIRS) {
    const a = cases.find((c) => c.name === num);
    const b = cases.find((c) => c.name === den);
    if (a === undefined || b === undefined) continue;
    for (const [metric, get] of RATIO_METRICS) {
      const x = get(a);
      const y = get(b);
      if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) && y > 0) out.push({ numerator: num, denominator: den, metric, value: x / y });
    }
  }
  return out;
}

function fixed(v: number | undefined | null, digits: number): string {
  return v === undefined || v === null || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

export function mbits(bps: number | undefined): string {
  return fixed(bps === undefined ? undefined : bps / 1e6, 0);
}

function pps(u: UdpMeasurement | undefined): string {
  if (u === undefined) return '-';
  return `${fixed(u.receivedPps / 1000, 1)}k (${fixed(u.lostPercent, 1)}% loss)`;
}

function rtt(p: PingMeasurement | undefined): string {
  if (p === undefined) return '-';
  const lost = p.sent > p.received ? `, ${p.sent - p.received} lost` : '';
  return `${fixed(p.p50Ms, 3)} / ${fixed(p.p99Ms, 3)}${lost}`;
}

function rss(r: CaseResult): string {
  if (r.peakRss === undefined || r.peakRss.length === 0) return '-';
  return fixed(Math.max(...r.peakRss.map((p) => p.bytes)) / (1024 * 1024), 1);
}

/** weft: young-generation collections in both processes per GB moved (TCP, 1 stream); steady state should make none. */
function scavengesPerGb(r: CaseResult): string {
  const t = r.tcp1;
  if (t?.scavenges === undefined || t.bytes <= 0) return '-';
  return fixed(t.scavenges / (t.bytes / GB), 1);
}

export const COLUMNS = [
  'case',
  'TCP 1 stream (Mbit/s)',
  'TCP 4 streams (Mbit/s)',
  'UDP 64 B received pps',
  'UDP 1400 B received pps',
  'ping idle p50 / p99 (ms)',
  'ping under 1 stream p50 / p99 (ms)',
  'ping under 4 streams p50 / p99 (ms)',
  'CPU s/GB overlay procs',
  'CPU s/GB end to end',
  'peak RSS (MiB)',
  'scavenges per GB',
] as const;

/** One row of cells per case, in COLUMNS order. */
export function tableRow(r: CaseResult): string[] {
  const cpu = cpuPerGb(r);
  const name = r.transport === undefined ? r.name : `${r.name} (${r.transport})`;
  return [
    r.error === undefined ? name : `${name} FAILED`,
    mbits(r.tcp1?.bitsPerSecond),
    mbits(r.tcp4?.bitsPerSecond),
    pps(r.udp64),
    pps(r.udp1400),
    rtt(r.pingIdle),
    rtt(r.pingLoaded),
    rtt(r.pingLoaded4),
    fixed(cpu?.overlay, 2),
    fixed(cpu?.endToEnd, 2),
    rss(r),
    scavengesPerGb(r),
  ];
}

function escapeCell(s: string): string {
  return s.replaceAll('|', '\\|');
}

export function markdownTable(cases: readonly CaseResult[]): string {
  const lines = [`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const c of cases) lines.push(`| ${tableRow(c).map(escapeCell).join(' | ')} |`);
  return lines.join('\n');
}

export function ratioLines(cases: readonly CaseResult[]): string[] {
  return ratios(cases).map((r) => `${r.numerator} / ${r.denominator}, ${r.metric}: ${r.value.toFixed(2)}`);
}

/** results.md: the table, the ratios, what each column counts, and the machine. */
export function markdownReport(res: Results): string {
  const m = res.machine;
  const rl = ratioLines(res.cases);
  const failed = res.cases.filter((c) => c.error !== undefined);
  return [
    `# weft end-to-end benchmark, ${res.startedAt}`,
    '',
    `${m.nproc} CPUs, Linux ${m.kernel}, Node ${m.node}, ${m.iperf3}${m.tcpCongestionControl !== undefined ? `, TCP congestion control ${m.tcpCongestionControl}` : ''}; weft scheduling ${m.weftScheduling}, transport AEAD ${m.weftAead}; load average ${m.loadStart.join(' ')} at the start, ${m.loadEnd.join(' ')} at the end.`,
    `${res.secondsPerMeasurement} s per throughput measurement${res.quick ? ' (--quick: a smoke test, not a measurement)' : ''}.`,
    '',
    markdownTable(res.cases),
    '',
    '## Ratios',
    '',
    ...(rl.length > 0 ? rl.map((l) => `- ${l}`) : ['- (none: run the pairs weft-vxlan and kernel-vxlan, weft-wireguard and wireguard-go)']),
    '',
    '## What the columns count',
    '',
    '- raw runs node to node over the veth underlay (MTU 1500); every other case runs pod to pod through the overlay configured on both nodes.',
    '- TCP: iperf3, bits per second the server received (sum_received), one stream and four (-P 4).',
    '- UDP: iperf3 -u -b 0 with inner IP packets of 64 and 1400 bytes (UDP payload = size - 28); packets per second the server received, and the loss iperf3 counted. -b 0 sends as fast as one iperf3 thread can, so the loss is wherever the path (or, for raw and kernel-vxlan, the receiving iperf3 itself) could not keep up.',
    '- ping: echo requests 10 ms apart, nearest-rank p50 and p99 of the replies, idle and while one TCP stream runs and while four do (each pod\'s TCP uses the machine\'s congestion control, named above).',
    '- CPU s/GB overlay procs: utime + stime of the overlay daemons on both nodes (weft, wireguard-go) during the 1-stream TCP run, per 10^9 bytes received; "-" for raw and kernel-vxlan, which have no daemon.',
    "- CPU s/GB end to end: the same plus both iperf3 processes' CPU (iperf3's cpu_utilization_percent). The kernel charges softirq work (veth, vxlan, TCP receive) to the task it interrupts, so kernel data-path work mostly lands here; work in ksoftirqd is not counted.",
    '- peak RSS: the largest VmHWM of the overlay daemons (weft, wireguard-go).',
    '',
    ...(failed.length > 0 ? ['## Failures', '', ...failed.map((c) => `- ${c.name}: ${c.error ?? ''}`), ''] : []),
  ].join('\n');
}
