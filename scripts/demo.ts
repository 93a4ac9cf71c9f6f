#!/usr/bin/env node
/**
 * `npm run demo`: three weft nodes with two pods each on this machine, in
 * network namespaces. Prints the pod-to-pod connectivity matrix and one
 * TCP throughput line across nodes, then removes everything. As root.
 *
 *   npm run demo                   (VXLAN)
 *   npm run demo -- --backend wireguard
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { check, down, formatMatrix, up } from './cluster/cluster.ts';
import { nsRun, spawnIn } from './lab/netns.ts';

const NAME = 'weft-demo';
const TOOLS: Array<[string, string]> = [['ip', 'iproute2'], ['ping', 'iputils-ping'], ['iperf3', 'iperf3']];

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
  const missing = [];
  for (const [tool, pkg] of TOOLS) if (!(await have(tool))) missing.push(pkg);
  if (missing.length > 0) {
    process.stderr.write(`demo: missing tools; install them with: apt-get install ${missing.join(' ')}\n`);
    return 1;
  }
  await down(NAME); // a previous demo that was killed
  const stop = () => {
    void down(NAME).finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    say(`weft demo: 3 nodes, 2 pods each, ${backend}`);
    await up({ name: NAME, nodes: 3, pods: 2, backend, impair: { lossPercent: 0, delayMs: 0 }, progress: (l) => say(`  ${l}`) });
    say('\nconnectivity (ping from row to column):');
    const m = await check(NAME);
    say(formatMatrix(m));
    const mbit = await throughput(`${NAME}-n1-p1`, `${NAME}-n2-p1`, '10.244.2.2', 3);
    say(`\nTCP n1-p1 (node-1, 10.244.1.2) -> n2-p1 (node-2, 10.244.2.2) over weft ${backend}: ${mbit.toFixed(0)} Mbit/s (iperf3, 3 s)`);
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
