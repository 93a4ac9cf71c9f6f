/**
 * Pure parsers for what the end-to-end bench reads from its tools: iperf3's
 * JSON, ping's per-reply lines, /proc/<pid>/stat and /proc/<pid>/status.
 * Kept free of I/O so they are unit-tested on captured text.
 */

/** One TCP run, as the iperf3 client reports it with -J. */
export interface TcpResult {
  seconds: number;
  /** Bytes the server received (sum_received), the figure that moved end to end. */
  bytes: number;
  bitsPerSecond: number;
  retransmits: number;
  /** CPU of the iperf3 processes themselves, in seconds (from cpu_utilization_percent). */
  clientCpuSeconds: number;
  serverCpuSeconds: number;
}

/** One UDP run: packets the server counted as received. */
export interface UdpResult {
  seconds: number;
  sentPackets: number;
  lostPackets: number;
  receivedPackets: number;
  receivedPps: number;
  lostPercent: number;
}

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`iperf3 JSON: ${what} missing`);
  return v as Json;
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`iperf3 JSON: ${what} is not a number`);
  return v;
}

/** Parse iperf3's JSON text; throws with iperf3's own error message when it reports one. */
function iperfEnd(text: string): { root: Json; end: Json } {
  let root: Json;
  try {
    root = obj(JSON.parse(text), 'top level');
  } catch (e) {
    throw new Error(`iperf3 did not print JSON: ${(e as Error).message}: ${text.slice(0, 200)}`);
  }
  if (typeof root.error === 'string') throw new Error(`iperf3: ${root.error}`);
  return { root, end: obj(root.end, 'end') };
}

function cpuSeconds(end: Json, seconds: number): { client: number; server: number } {
  // iperf3 reports (utime + stime) / wall time of its own process as a percentage of one CPU.
  const cpu = end.cpu_utilization_percent as Json | undefined;
  if (cpu === undefined) return { client: 0, server: 0 };
  const host = typeof cpu.host_total === 'number' ? cpu.host_total : 0;
  const remote = typeof cpu.remote_total === 'number' ? cpu.remote_total : 0;
  return { client: (host / 100) * seconds, server: (remote / 100) * seconds };
}

export function parseIperfTcp(text: string): TcpResult {
  const { end } = iperfEnd(text);
  const received = obj(end.sum_received, 'end.sum_received');
  const sent = end.sum_sent as Json | undefined;
  const seconds = num(received.seconds, 'sum_received.seconds');
  const cpu = cpuSeconds(end, seconds);
  return {
    seconds,
    bytes: num(received.bytes, 'sum_received.bytes'),
    bitsPerSecond: num(received.bits_per_second, 'sum_received.bits_per_second'),
    retransmits: typeof sent?.retransmits === 'number' ? sent.retransmits : 0,
    clientCpuSeconds: cpu.client,
    serverCpuSeconds: cpu.server,
  };
}

/**
 * iperf3 3.12 puts the server's counts for a UDP test in end.sum (older
 * versions) or end.sum_received (newer ones); the packet and loss counts come
 * from the server, which is what "received" means here.
 */
export function parseIperfUdp(text: string): UdpResult {
  const { end } = iperfEnd(text);
  const sum = obj(end.sum_received ?? end.sum, 'end.sum_received / end.sum');
  const seconds = num(sum.seconds, 'sum.seconds');
  const sentPackets = num(sum.packets, 'sum.packets');
  const lostPackets = Math.max(0, num(sum.lost_packets, 'sum.lost_packets'));
  const receivedPackets = Math.max(0, sentPackets - lostPackets);
  return {
    seconds,
    sentPackets,
    lostPackets,
    receivedPackets,
    receivedPps: seconds > 0 ? receivedPackets / seconds : 0,
    lostPercent: sentPackets > 0 ? (100 * lostPackets) / sentPackets : 0,
  };
}

/** Round-trip times in ms, one per echo reply ("... time=0.045 ms"). */
export function parsePingRtts(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/\btime[=<]([\d.]+) ?ms\b/gu)) out.push(Number(m[1]));
  return out;
}

export function parsePingLoss(text: string): { transmitted: number; received: number } {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/u.exec(text);
  return m ? { transmitted: Number(m[1]), received: Number(m[2]) } : { transmitted: 0, received: 0 };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/**
 * utime + stime in clock ticks from /proc/<pid>/stat, all threads included.
 * The command name may contain spaces and parentheses, so fields are counted
 * from the last ')': state is field 3, utime 14, stime 15.
 */
export function parseProcStatTicks(text: string): number {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('unexpected /proc/<pid>/stat format');
  const fields = text.slice(close + 2).trim().split(/\s+/u);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unexpected /proc/<pid>/stat format');
  return utime + stime;
}

/** VmHWM (peak resident set) from /proc/<pid>/status, in bytes; undefined if absent. */
export function parseVmHwm(text: string): number | undefined {
  const m = /^VmHWM:\s+(\d+)\s+kB/mu.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/**
 * Busy and total jiffies from the first line of /proc/stat (all CPUs):
 * busy = user + nice + system + irq + softirq + steal; idle and iowait are not busy.
 */
export function parseProcStatCpu(text: string): { busy: number; total: number } {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('no cpu line in /proc/stat');
  const f = line.trim().split(/\s+/u).slice(1, 9).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}
