/**
 * The measurements, each run between the two namespaces of a configured
 * case: iperf3 TCP and UDP, ping round trips idle and under TCP load, and
 * the CPU time and peak RSS of the processes doing the overlay's work.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { NetnsSandbox, SandboxProcess } from '../../test/helpers/netns.ts';
import type { OverlayProcess, Setup } from './cases.ts';
import { parseIperfTcp, parseIperfUdp, parsePingLoss, parsePingRtts, parseProcStatCpu, parseProcStatTicks, parseVmHwm, percentile } from './parse.ts';
import type { TcpResult, UdpResult } from './parse.ts';

const PORT = 5201;
/** IPv4 (20) + UDP (8): iperf3's -l is the UDP payload, the sizes here are whole inner IP packets. */
const IP_UDP_HEADERS = 28;

let clockTicks: number | undefined;
/** USER_HZ, the unit of /proc/<pid>/stat times (100 on every common build, but ask). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of each overlay process, in seconds. A vanished process reads as NaN. */
export function cpuSecondsOf(procs: readonly OverlayProcess[]): number[] {
  return procs.map((p) => {
    try {
      return parseProcStatTicks(readFileSync(`/proc/${p.pid}/stat`, 'utf8')) / ticksPerSecond();
    } catch {
      return Number.NaN;
    }
  });
}

/** Peak RSS (VmHWM) of each overlay process in bytes; NaN when it cannot be read. */
export function peakRssOf(procs: readonly OverlayProcess[]): number[] {
  return procs.map((p) => {
    try {
      return parseVmHwm(readFileSync(`/proc/${p.pid}/status`, 'utf8')) ?? Number.NaN;
    } catch {
      return Number.NaN;
    }
  });
}

/** Machine-wide busy CPU seconds so far (/proc/stat); includes everything else running. */
export function machineBusySeconds(): number {
  return parseProcStatCpu(readFileSync('/proc/stat', 'utf8')).busy / ticksPerSecond();
}

/** Wait until something listens on the port in `ns` (iperf3 -J prints nothing until it is done). */
async function waitListening(sb: NetnsSandbox, ns: string, server: SandboxProcess): Promise<void> {
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (let i = 0; i < 100 && !exited; i++) {
    const r = await sb.exec(ns, ['ss', '-Hltn', `sport = :${PORT}`]);
    if (r.stdout.trim().length > 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`iperf3 server did not listen on ${PORT} in ${ns}: ${server.stderr().trim()}`);
}

/**
 * One iperf3 test: a one-shot server (-s -1) in the server namespace, the
 * client in the client namespace; returns the client's JSON text.
 */
async function iperf(sb: NetnsSandbox, s: Setup, clientArgs: readonly string[], seconds: number): Promise<string> {
  const server = sb.spawn(s.serverNs, ['iperf3', '-s', '-1', '-J', '-p', String(PORT)]);
  try {
    await waitListening(sb, s.serverNs, server);
    const r = await sb.exec(s.clientNs, ['iperf3', '-c', s.serverIp, '-p', String(PORT), '-t', String(seconds), '-J', ...clientArgs], {
      timeoutMs: (seconds + 20) * 1000,
    });
    if (r.timedOut) throw new Error(`iperf3 client timed out after ${seconds + 20} s`);
    return r.stdout;
  } finally {
    // Normally it has exited after its one test; bounded wait, then make sure.
    await Promise.race([server.exited, new Promise((res) => setTimeout(res, 2000))]);
    await server.kill();
  }
}

export interface TcpMeasurement extends TcpResult {
  streams: number;
  /** utime + stime of the overlay processes (both nodes) during the run, seconds. */
  overlayCpuSeconds: number;
  /** Busy CPU of the whole machine during the run (includes unrelated load), seconds. */
  machineCpuSeconds: number;
  /** weft only: young-generation collections (scavenges) in both weft processes during the run. */
  scavenges?: number;
}

export async function measureTcp(sb: NetnsSandbox, s: Setup, seconds: number, streams: number): Promise<TcpMeasurement> {
  const gc0 = s.scavenges ? await s.scavenges() : undefined;
  const cpu0 = cpuSecondsOf(s.processes);
  const m0 = machineBusySeconds();
  const text = await iperf(sb, s, streams > 1 ? ['-P', String(streams)] : [], seconds);
  const m1 = machineBusySeconds();
  const cpu1 = cpuSecondsOf(s.processes);
  const gc1 = s.scavenges ? await s.scavenges() : undefined;
  const r = parseIperfTcp(text);
  const overlayCpuSeconds = cpu1.reduce((sum, c, i) => sum + (c - cpu0[i]!), 0);
  return { ...r, streams, overlayCpuSeconds, machineCpuSeconds: m1 - m0, ...(gc0 !== undefined && gc1 !== undefined ? { scavenges: gc1 - gc0 } : {}) };
}

export interface UdpMeasurement extends UdpResult {
  packetSize: number;
}

/** Unlimited-rate UDP (-b 0) of inner IP packets of `packetSize` bytes; counts what the server received. */
export async function measureUdp(sb: NetnsSandbox, s: Setup, seconds: number, packetSize: number): Promise<UdpMeasurement> {
  const text = await iperf(sb, s, ['-u', '-b', '0', '-l', String(packetSize - IP_UDP_HEADERS)], seconds);
  return { ...parseIperfUdp(text), packetSize };
}

export interface PingMeasurement {
  sent: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** `count` echo requests 10 ms apart (root may go below 200 ms); each reply's rtt. */
export async function measurePing(sb: NetnsSandbox, s: Setup, count: number): Promise<PingMeasurement> {
  const r = await sb.exec(s.clientNs, ['ping', '-n', '-c', String(count), '-i', '0.01', '-W', '1', s.serverIp], { timeoutMs: 10_000 + count * 50 });
  const rtts = parsePingRtts(r.stdout);
  const loss = parsePingLoss(r.stdout);
  return { sent: loss.transmitted, received: loss.received, p50Ms: percentile(rtts, 50), p99Ms: percentile(rtts, 99), maxMs: rtts.length ? Math.max(...rtts) : Number.NaN };
}

/**
 * Ping while one TCP stream runs for `seconds`: the pings start half a
 * second into the transfer (after slow start) and are sized to end before it.
 */
export async function measurePingUnderLoad(sb: NetnsSandbox, s: Setup, seconds: number, count: number, streams = 1): Promise<PingMeasurement & { loadBitsPerSecond: number }> {
  const load = measureTcp(sb, s, seconds, streams);
  // If the transfer fails, the ping still ends on its own and the failure
  // surfaces at `await load`; until then, do not let it count as unhandled.
  load.catch(() => {});
  await new Promise((res) => setTimeout(res, 500));
  const p = await measurePing(sb, s, count);
  const t = await load;
  return { ...p, loadBitsPerSecond: t.bitsPerSecond };
}
