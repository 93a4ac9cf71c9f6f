/**
 * A handshake flood against a node, with a pod's ping through it: what the
 * flood test asserts and the flood bench reports. The flooder
 * (wg-flood.mjs) runs in `attackerNs`, the ping from `pingNs`; the node's
 * CPU is read from /proc for `pid` around the flood.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetnsSandbox } from './netns.ts';
import { ROOT } from './cluster.ts';

export interface FloodOptions {
  attackerNs: string;
  target: string;
  port: number;
  publicKey: string;
  rate: number;
  durationMs: number;
  sources: readonly string[];
  pingNs: string;
  pingIp: string;
  /** The process under flood. */
  pid: number;
}

export interface FloodResult {
  sent: number;
  sentBytes: number;
  replies: number;
  replyBytes: number;
  /** CPU cores the node used while the flood ran. */
  cores: number;
  pings: number;
  /** Worst ping in the flood's first half second, then p50 and p99 of the rest, in ms. */
  onsetMaxMs: number;
  p50Ms: number;
  p99Ms: number;
}

/** User + system CPU seconds of a process so far (clock ticks are 1/100 s on Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Flood for `durationMs` while pinging every 10 ms; bounded in rate (<= 100,000/s) and time (<= 60 s). */
export async function floodWithPing(sb: NetnsSandbox, o: FloodOptions): Promise<FloodResult> {
  const pings = Math.floor((o.durationMs - 500) / 10);
  const cpu0 = cpuSeconds(o.pid);
  const t0 = Date.now();
  const flood = sb.run(o.attackerNs, [process.execPath, join(ROOT, 'test/helpers/wg-flood.mjs'), o.target, String(o.port), o.publicKey, String(o.rate), String(o.durationMs), ...o.sources], {
    timeoutMs: o.durationMs + 10_000,
  });
  const pinged = await sb.exec(o.pingNs, ['ping', '-c', String(pings), '-i', '0.01', '-W', '1', o.pingIp], { timeoutMs: o.durationMs + 10_000 });
  const report = JSON.parse((await flood).trim()) as { sent: number; sentBytes: number; replies: number; replyBytes: number };
  const cores = (cpuSeconds(o.pid) - cpu0) / ((Date.now() - t0) / 1000);
  const inOrder = [...pinged.stdout.matchAll(/time=([\d.]+) ms/gu)].map((m) => Number(m[1]));
  const rest = inOrder.slice(50).sort((x, y) => x - y);
  return {
    ...report,
    cores,
    pings: inOrder.length,
    onsetMaxMs: inOrder.length > 0 ? Math.max(...inOrder.slice(0, 50)) : NaN,
    p50Ms: rest.length > 0 ? percentile(rest, 50) : NaN,
    p99Ms: rest.length > 0 ? percentile(rest, 99) : NaN,
  };
}
