/**
 * bench/e2e: the side-by-side end-to-end benchmark (issue 7). On one
 * namespace topology (two nodes on a veth underlay, a pod behind each) it
 * measures in turn the raw underlay, the kernel's vxlan device (Flannel's
 * configuration), wireguard-go, and weft with each backend and transport:
 * TCP throughput (1 and 4 streams), UDP packets per second (64 and 1400
 * bytes), ping p50/p99 idle and under load, CPU seconds per gigabyte and
 * the overlay daemons' peak RSS.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/e2e/run.js [--quick] [--seconds N]
 *        [--cases NAME,...] [--out DIR]   (default: every case in cases.ts) [--tcp-only]
 *
 * --profile DIR profiles both weft processes of each case (DIR/<case>/*.cpuprofile,
 * written at their stop) and prints each one's top functions and files by
 * self time after the table (bench/util/profile-summary.ts); use it with
 * --tcp-only to profile the data path under load. WEFT_NODE_FLAGS passes
 * other node flags to every weft process.
 *
 * As root. Writes results.json, results.md and chart.svg to --out (default
 * bench/results/<timestamp>/, gitignored), progress on stderr, the table and
 * the ratios on stdout. Exits 1 if any case failed (the others still run and
 * are reported). Each case gets fresh namespaces, torn down after it, on
 * failure and on SIGINT/SIGTERM; traffic only ever flows between them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseAeadBackend } from '../../src/crypto/aead-backend.ts';
import { NetnsSandbox } from '../../test/helpers/netns.ts';
import { CASES, CASE_NAMES, parseCaseList, removeRunFiles } from './cases.ts';
import type { CaseName, Setup } from './cases.ts';
import { measurePing, measurePingUnderLoad, measureTcp, measureUdp, peakRssOf } from './measure.ts';
import { cpuPerGb, markdownReport, markdownTable, mbits, ratioLines } from './report.ts';
import type { CaseResult, Machine, Results } from './report.ts';
import { throughputSvg } from './svg.ts';
import { summarizeDir } from '../util/profile-summary.ts';

/** dist/bench/e2e -> the repository root. */
const ROOT = resolve(import.meta.dirname, '../../..');

interface Options {
  quick: boolean;
  seconds: number;
  pingCount: number;
  cases: CaseName[];
  out: string;
  /** TCP throughput only: what a profile of the data path under load wants. */
  tcpOnly: boolean;
  /** Where weft's CPU profiles go, one directory per case; undefined: no profiling. */
  profile: string | undefined;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      cases: { type: 'string' },
      out: { type: 'string' },
      'tcp-only': { type: 'boolean', default: false },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`usage: node dist/bench/e2e/run.js [--quick] [--seconds N] [--cases ${CASE_NAMES.join(',')}] [--out DIR] [--tcp-only] [--profile DIR]\n`);
    process.exit(0);
  }
  const quick = values.quick || process.env.WEFT_BENCH_QUICK === '1';
  // 10 s per throughput figure: long enough for TCP to leave slow start and
  // average over scheduler noise; --quick is for smoke tests only.
  const secondsText = values.seconds ?? process.env.WEFT_BENCH_SECONDS ?? (quick ? '2' : '10');
  const seconds = Number(secondsText);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 300) throw new Error(`--seconds: expected a whole number of seconds from 1 to 300, got "${secondsText}"`);
  const cases = parseCaseList(values.cases ?? process.env.WEFT_BENCH_CASES ?? CASE_NAMES.join(','));
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/u, 'Z');
  const out = resolve(values.out ?? join(ROOT, 'bench/results', stamp));
  // Pings are 10 ms apart: 500 take 5 s and give a p99 from 5 samples above it.
  return { quick, seconds, pingCount: quick ? 50 : 500, cases, out, tcpOnly: values['tcp-only'], profile: values.profile === undefined ? undefined : resolve(values.profile) };
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function loads(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

function machine(): Machine {
  let iperf = 'iperf3';
  try {
    iperf = execFileSync('iperf3', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    // reported as missing when a case runs it
  }
  let cc: string | undefined;
  try {
    cc = readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
  } catch {
    // not Linux, or no procfs: left out of the report
  }
  // The weft processes inherit WEFT_REALTIME_PRIORITY (scheduling.priority): the bench compares both ways.
  const rt = Number(process.env.WEFT_REALTIME_PRIORITY ?? 0);
  const weftScheduling = rt > 0 ? `SCHED_RR ${rt}` : 'normal';
  // And WEFT_AEAD: the same choice their `weft up` makes (src/crypto/aead-backend.ts), named before the first case runs.
  const weftAead = chooseAeadBackend(process.env.WEFT_AEAD).name;
  return { nproc: availableParallelism(), kernel: release(), node: process.version, iperf3: iperf, ...(cc !== undefined ? { tcpCongestionControl: cc } : {}), weftScheduling, weftAead, loadStart: loads(), loadEnd: [] };
}

/**
 * What is live right now, so a signal can tear it down. A signal sets
 * `aborted` and destroys the live sandbox, which kills iperf3 and the
 * daemons and so unblocks the running step; the case's own `finally` then
 * destroys the sandbox again (it is idempotent), catching any namespace a
 * set-up step created meanwhile, and the loop stops before the next case.
 */
interface Live {
  sb: NetnsSandbox;
  setup: Setup | undefined;
  /** The one teardown in progress: the signal handler and the case share it. */
  down?: Promise<void>;
}
let live: Live | undefined;
let aborted = false;

/** Graceful first, so weft and wireguard-go remove their sockets; bounded, then the sandbox kills the rest. */
async function stopGracefully(setup: Setup | undefined): Promise<void> {
  if (setup === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([setup.stop().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 6000)))]);
  clearTimeout(timer);
}

async function teardown(sb: NetnsSandbox, setup: Setup | undefined): Promise<void> {
  await stopGracefully(setup);
  await sb.destroy();
  removeRunFiles();
}

/**
 * Whoever calls first tears down; later callers wait for that same teardown,
 * then destroy once more for any namespace a set-up step created meanwhile.
 */
async function teardownOnce(cur: Live): Promise<void> {
  cur.down ??= teardown(cur.sb, cur.setup);
  await cur.down;
  await cur.sb.destroy();
}

/** Wait until the path carries a ping (WireGuard needs a handshake first); bounded to ~10 s. */
async function waitConnected(sb: NetnsSandbox, s: Setup): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const r = await sb.exec(s.clientNs, ['ping', '-n', '-c', '1', '-W', '1', s.serverIp], { timeoutMs: 5000 });
    if (r.code === 0) return;
  }
  throw new Error(`no ping from ${s.clientNs} to ${s.serverIp} through the data path`);
}

async function runCase(name: CaseName, index: number, total: number, o: Options): Promise<CaseResult> {
  const def = CASES[name];
  const tag = `[${index}/${total}] ${name}`;
  const result: CaseResult = { name, description: def.description };
  const sb = new NetnsSandbox();
  const cur: Live = { sb, setup: undefined };
  live = cur;
  const step = async <T>(what: string, f: () => Promise<T>, show: (v: T) => string): Promise<T> => {
    const t0 = Date.now();
    progress(`${tag}: ${what} ...`);
    const v = await f();
    progress(`${tag}: ${what} ... ${show(v)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return v;
  };
  if (o.profile !== undefined) {
    // Read by the case's startWeft: every weft process of this case writes its profile here when it stops.
    process.env.WEFT_NODE_FLAGS = `--cpu-prof --cpu-prof-dir=${join(o.profile, name)}`;
  }
  try {
    if (aborted) throw new Error('interrupted');
    const s = await step('set up', () => def.setup(sb), () => 'ok');
    cur.setup = s;
    if (s.transport !== undefined) result.transport = s.transport;
    await waitConnected(sb, s);
    const secs = o.seconds;
    result.tcp1 = await step(`TCP 1 stream, ${secs} s`, () => measureTcp(sb, s, secs, 1), (t) => `${mbits(t.bitsPerSecond)} Mbit/s`);
    result.tcp4 = await step(`TCP 4 streams, ${secs} s`, () => measureTcp(sb, s, secs, 4), (t) => `${mbits(t.bitsPerSecond)} Mbit/s`);
    if (!o.tcpOnly) {
      for (const size of [64, 1400] as const) {
        const u = await step(`UDP ${size} B, ${secs} s`, () => measureUdp(sb, s, secs, size), (u) => `${(u.receivedPps / 1000).toFixed(1)}k pps received, ${u.lostPercent.toFixed(1)}% loss`);
        if (size === 64) result.udp64 = u;
        else result.udp1400 = u;
      }
      const showPing = (p: { p50Ms: number; p99Ms: number; received: number; sent: number }) => `p50 ${p.p50Ms.toFixed(3)} ms, p99 ${p.p99Ms.toFixed(3)} ms, ${p.received}/${p.sent} replies`;
      result.pingIdle = await step(`ping idle x${o.pingCount}`, () => measurePing(sb, s, o.pingCount), showPing);
      // The pings must end inside the transfer: they start 0.5 s in, 10 ms apart.
      const loadSecs = Math.max(secs, 2);
      const loadedCount = Math.max(10, Math.min(o.pingCount, Math.floor((loadSecs - 1) * 80)));
      result.pingLoaded = await step(`ping under 1 TCP stream x${loadedCount}`, () => measurePingUnderLoad(sb, s, loadSecs, loadedCount, 1), showPing);
      result.pingLoaded4 = await step(`ping under 4 TCP streams x${loadedCount}`, () => measurePingUnderLoad(sb, s, loadSecs, loadedCount, 4), showPing);
    }
    const rss = peakRssOf(s.processes);
    result.peakRss = s.processes.map((p, i) => ({ label: p.label, bytes: rss[i]! }));
    const cpu = cpuPerGb(result);
    const rssText = result.peakRss.length > 0 ? `, peak RSS ${result.peakRss.map((p) => `${(p.bytes / 1048576).toFixed(1)} MiB`).join(' / ')}` : '';
    progress(`${tag}: CPU s/GB overlay ${cpu?.overlay?.toFixed(2) ?? '-'}, end to end ${cpu?.endToEnd.toFixed(2) ?? '-'}${rssText}`);
  } catch (e) {
    result.error = aborted ? `interrupted (${(e as Error).message})` : (e as Error).message;
    progress(`${tag}: FAILED: ${result.error}`);
  } finally {
    await step('tear down', () => teardownOnce(cur), () => 'ok').catch((e: unknown) => progress(`${tag}: tear down failed: ${(e as Error).message}`));
    live = undefined;
  }
  return result;
}

function onSignal(sig: NodeJS.Signals): void {
  progress(`\n${sig}: tearing down (again to exit at once)`);
  aborted = true;
  // A second signal exits at once; the namespaces' names (weft-t-<pid>-n) say whose they are.
  process.on(sig, () => process.exit(130));
  const cur = live;
  if (cur !== undefined) void teardownOnce(cur).catch(() => {});
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    progress('bench/e2e needs root: it creates network namespaces, veth pairs and TUN devices');
    return 2;
  }
  const o = options(process.argv.slice(2));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const m = machine();
  const startedAt = new Date().toISOString();
  progress(`bench/e2e: ${o.cases.join(', ')}; ${o.seconds} s per measurement; load ${m.loadStart.join(' ')}; results in ${o.out}`);
  const cases: CaseResult[] = [];
  for (const [i, name] of o.cases.entries()) {
    if (aborted) break;
    cases.push(await runCase(name, i + 1, o.cases.length, o));
  }
  m.loadEnd = loads();
  const res: Results = { startedAt, finishedAt: new Date().toISOString(), quick: o.quick, secondsPerMeasurement: o.seconds, machine: m, cases };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'results.json'), `${JSON.stringify(res, null, 2)}\n`);
  writeFileSync(join(o.out, 'results.md'), markdownReport(res));
  writeFileSync(join(o.out, 'chart.svg'), throughputSvg(cases, `weft end to end: TCP throughput, ${startedAt}`));
  process.stdout.write(`${markdownTable(cases)}\n\n`);
  for (const l of ratioLines(cases)) process.stdout.write(`${l}\n`);
  if (o.profile !== undefined) {
    const summary = summarizeDir(o.profile);
    writeFileSync(join(o.profile, 'summary.md'), summary);
    process.stdout.write(`\n## CPU profiles (${o.profile})\n\n${summary}`);
  }
  process.stdout.write(`\nload average ${m.loadStart.join(' ')} -> ${m.loadEnd.join(' ')}; wrote ${o.out}/results.json, results.md, chart.svg\n`);
  if (aborted) return 130;
  return cases.some((c) => c.error !== undefined) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (e: unknown) => {
    progress(`bench/e2e: ${(e as Error).stack ?? String(e)}`);
    const cur = live;
    if (cur !== undefined) await teardownOnce(cur).catch(() => {});
    process.exit(1);
  },
);
