#!/usr/bin/env node
/**
 * `npm run demo`: three weft nodes with two pods each on this machine, in
 * network namespaces. Prints the pod-to-pod connectivity matrix and one
 * TCP throughput line across nodes, then removes everything. As root.
 *
 *   npm run demo                   (VXLAN)
 *   npm run demo -- --backend wireguard
 *   npm run demo -- --containers   (pods are podman containers, attached through weft-cni)
 *   npm run demo -- --dual-stack   (every pod has an IPv6 address too; the matrix covers both)
 *
 * It needs only iproute2 and what npm install brought: without ping and
 * iperf3 it measures with weft's own probes (scripts/lab/probe.ts), the
 * matrix by TCP connects and the throughput by a TCP stream between two
 * node processes.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { check, down, formatMatrix, loadState, up } from './cluster/cluster.ts';
import type { Matrix } from './cluster/cluster.ts';
import { hostOf } from './cluster/containers.ts';
import { nsRun, spawnIn } from './lab/netns.ts';
import { BLOB_BYTES, containerFetch } from './lab/podman.ts';

const NAME = 'weft-demo';
const PROBE = join(import.meta.dirname, 'lab', 'probe.js');

async function have(tool: string): Promise<boolean> {
  return promisify(execFile)('sh', ['-c', `command -v ${tool}`]).then(
    () => true,
    () => false,
  );
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** iperf3 from one pod to another for a few seconds; returns Mbit/s received. */
async function throughput(fromNs: string, toNs: string, toIp: string, seconds: number): Promise<number> {
  const server = spawnIn(toNs, ['iperf3', '-s', '-1']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const stdout = await nsRun(fromNs, ['iperf3', '-c', toIp, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 15) * 1000 });
    const report = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
    return report.end.sum_received.bits_per_second / 1e6;
  } finally {
    await server.kill();
  }
}

/** The same with weft's probes: a TCP stream of zeros for a few seconds; returns Mbit/s received. */
async function probeThroughput(fromNs: string, toNs: string, toIp: string, seconds: number): Promise<number> {
  const sink = spawnIn(toNs, [process.execPath, PROBE, 'sink', '5201']);
  try {
    await sink.waitFor('listening', 5000);
    await nsRun(fromNs, [process.execPath, PROBE, 'source', toIp, '5201', String(seconds)], { timeoutMs: (seconds + 15) * 1000 });
    await sink.waitFor('"bytes"', 10_000);
    const { bytes, ms } = JSON.parse(sink.stdout().split('\n').find((l) => l.startsWith('{'))!) as { bytes: number; ms: number };
    return (bytes * 8) / (ms * 1000);
  } finally {
    await sink.kill();
  }
}

/**
 * The connectivity matrix by weft's probes: from each pod address, one TCP
 * connect to every other pod's addresses at once (a dual-stack pod's two
 * addresses are one pod: no pair).
 */
async function probeMatrix(): Promise<Matrix> {
  const pods = loadState(NAME).layout.nodes.flatMap((n) =>
    n.pods.flatMap((p) => {
      const label = `n${n.index}-p${p.ns.split('-p').at(-1)}`;
      return [{ label, ns: p.ns, ip: p.ip }, ...(p.ip6 === undefined ? [] : [{ label: `${label}/6`, ns: p.ns, ip: p.ip6 }])];
    }),
  );
  const ok = await Promise.all(
    pods.map(async (from) => {
      const others = pods.filter((p) => p.ns !== from.ns).map((p) => p.ip);
      // Port 9 (discard): nothing listens, so a reachable pod answers with a reset.
      const seen = JSON.parse(await nsRun(from.ns, [process.execPath, PROBE, 'reach', '9', ...others], { timeoutMs: 15_000 })) as Record<string, boolean>;
      return pods.map((to) => to.ns === from.ns || seen[to.ip] === true);
    }),
  );
  const unpaired = pods.reduce((n, a) => n + pods.filter((b) => b.ns === a.ns).length, 0);
  const total = pods.length * pods.length - unpaired;
  return { pods: pods.map((p) => p.label), ok, reached: ok.flat().filter(Boolean).length - unpaired, total };
}

/** Time one 4 MiB HTTP fetch between containers on two nodes, checked by MD5; returns milliseconds. */
async function containerFetchMs(): Promise<number> {
  const state = loadState(NAME);
  const [a, b] = state.layout.nodes;
  const start = process.hrtime.bigint();
  const md5 = await containerFetch(hostOf(state.dir, a!, state.containers!), a!.pods[0]!.container!, b!.pods[0]!.ip);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (md5 !== state.containers!.blobMd5) throw new Error('the 4 MiB fetched across nodes arrived changed');
  return ms;
}

async function main(): Promise<number> {
  const backendFlag = process.argv.indexOf('--backend');
  const backend = backendFlag >= 0 ? process.argv[backendFlag + 1] : 'vxlan';
  if (backend !== 'vxlan' && backend !== 'wireguard') {
    process.stderr.write(`demo: --backend must be vxlan or wireguard, got "${backend}"\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('demo: needs root: it creates network namespaces and TUN devices (sudo npm run demo)\n');
    return 1;
  }
  if (!(await have('ip'))) {
    process.stderr.write('demo: needs ip; install it with: apt-get install iproute2\n');
    return 1;
  }
  const containers = process.argv.includes('--containers');
  const dualStack = process.argv.includes('--dual-stack');
  const ping = await have('ping');
  const iperf = await have('iperf3');
  await down(NAME); // a previous demo that was killed
  const stop = () => {
    void down(NAME).finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    say(`weft demo: 3 nodes, 2 ${containers ? 'podman containers' : 'pods'} each, ${backend}${dualStack ? ', dual-stack' : ''}`);
    await up({ name: NAME, nodes: 3, pods: 2, backend, containers, dualStack, impair: { lossPercent: 0, delayMs: 0 }, progress: (l) => say(`  ${l}`) });
    // Containers ping with their own busybox; namespaces with ping when the machine has it.
    const byPing = containers || ping;
    say(`\nconnectivity (${byPing ? 'ping' : "TCP connect, weft's probe"} from row to column):`);
    const m = byPing ? await check(NAME) : await probeMatrix();
    say(formatMatrix(m));
    const to = loadState(NAME).layout.nodes[1]!.pods[0]!.ip;
    const from = loadState(NAME).layout.nodes[0]!.pods[0]!.ip;
    if (containers) {
      // A podman exec costs about half a second, so this is a proof of the stream, not a throughput figure.
      const ms = await containerFetchMs();
      say(`\nTCP n1-c1 (${from}) -> n2-c1 (${to}) over weft ${backend}: ${BLOB_BYTES / 1048576} MiB over HTTP arrived intact (MD5) in ${ms.toFixed(0)} ms, podman exec included`);
    } else {
      const mbit = iperf ? await throughput(`${NAME}-n1-p1`, `${NAME}-n2-p1`, to, 3) : await probeThroughput(`${NAME}-n1-p1`, `${NAME}-n2-p1`, to, 3);
      say(`\nTCP n1-p1 (node-1, ${from}) -> n2-p1 (node-2, ${to}) over weft ${backend}: ${mbit.toFixed(0)} Mbit/s (${iperf ? 'iperf3' : "weft's probe"}, 3 s)`);
    }
    return m.reached === m.total ? 0 : 1;
  } finally {
    const removed = await down(NAME);
    say(`\ntorn down: ${removed.length} namespaces removed`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
