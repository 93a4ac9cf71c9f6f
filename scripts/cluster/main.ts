#!/usr/bin/env node
/**
 * The cluster script's command line: up, check, down. See cluster.ts.
 */
import { check, down, formatMatrix, loadState, startNode, stopNode, up } from './cluster.ts';

const USAGE = `usage: cluster <command> [options]
  up N [--pods M] [--backend vxlan|wireguard|mixed] [--locations A,B,...] [--gossip] [--containers]
       [--dual-stack | --ipv6-only] [--ipv6-underlay] [--underlays 4,46,6] [--loss PERCENT] [--delay MS] [--name NAME]
                 build N nodes with M pods each (default 2) and start weft in each;
                 with --containers the pods are podman containers attached through weft-cni
                 (needs podman, runc, busybox-static, containernetworking-plugins);
                 with --gossip the nodes find each other and claim their subnets by gossip;
                 --locations gives node i the i-th label (cycling): under mixed, nodes in
                 one location talk VXLAN, across locations WireGuard;
                 --dual-stack gives every pod an IPv6 address too, from its node's /64 of
                 fd00:10:244::/56 (claimed by gossip, or node i's i-th /64 without);
                 --ipv6-only gives pods that IPv6 address alone (no IPv4 pod network);
                 --ipv6-underlay joins the nodes over IPv6 only;
                 --underlays gives node i the i-th entry's underlay families (cycling):
                 4 (IPv4 only), 6 (IPv6 only) or 46 (both); nodes with no family in
                 common have no path between them (weft status lists them as unreachable)
  stop-node I [--kill] [--name NAME]
                 stop node I's weft (SIGTERM: it leaves the cluster; --kill: SIGKILL, it just dies)
  start-node I [--name NAME]
                 start node I's weft again, with its config and state
  check [--name NAME] [--json]
                 ping every pod from every pod and print the matrix (exit 1 if any pair fails)
  down [--name NAME]
                 stop the nodes and remove every namespace
  help           print this help
The default name is "weft".`;

function option(args: string[], flag: string, fallback: string): string {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined) usage(`${flag} needs a value`);
  return v;
}

function usage(message: string): never {
  process.stderr.write(`cluster: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function number(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) usage(`${what} must be a number from ${min} to ${max}, got "${text}"`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (process.getuid?.() !== 0 && command !== undefined) usage('needs root (it creates network namespaces)');
  const name = option(args, '--name', 'weft');
  if (!/^[a-z][a-z0-9-]{0,15}$/u.test(name)) usage(`--name must be lowercase letters, digits and "-", at most 16, got "${name}"`);
  switch (command) {
    case 'up': {
      const nodes = number(args[0] ?? '', 'N (the number of nodes)', 1, 50);
      const backend = option(args, '--backend', 'vxlan');
      if (backend !== 'vxlan' && backend !== 'wireguard' && backend !== 'mixed') usage(`--backend must be vxlan, wireguard or mixed, got "${backend}"`);
      const locations = option(args, '--locations', '').split(',').filter((x) => x !== '');
      if (locations.some((x) => !/^[a-z0-9][a-z0-9-]{0,30}$/u.test(x))) usage('--locations takes labels of lowercase letters, digits and "-", separated by commas');
      const underlays = option(args, '--underlays', '').split(',').filter((x) => x !== '');
      if (underlays.some((x) => x !== '4' && x !== '6' && x !== '46')) usage('--underlays takes 4, 6 or 46 per node, separated by commas, such as 4,46,6');
      await up({
        name,
        nodes,
        pods: number(option(args, '--pods', '2'), '--pods', 1, 50),
        backend,
        gossip: args.includes('--gossip'),
        containers: args.includes('--containers'),
        dualStack: args.includes('--dual-stack'),
        ipv6Only: args.includes('--ipv6-only'),
        ipv6Underlay: args.includes('--ipv6-underlay'),
        underlays: underlays as Array<'4' | '6' | '46'>,
        locations,
        impair: { lossPercent: number(option(args, '--loss', '0'), '--loss', 0, 100), delayMs: number(option(args, '--delay', '0'), '--delay', 0, 10_000) },
        progress: (line) => process.stderr.write(`${line}\n`),
      });
      process.stderr.write(`cluster "${name}" is up; check it with: check --name ${name}\n`);
      return;
    }
    case 'check': {
      const m = await check(name);
      process.stdout.write(args.includes('--json') ? `${JSON.stringify(m)}\n` : `${formatMatrix(m)}\n`);
      process.exitCode = m.reached === m.total ? 0 : 1;
      return;
    }
    case 'stop-node':
    case 'start-node': {
      const state = loadState(name);
      const index = number(args[0] ?? '', 'I (the node number)', 1, state.layout.nodes.length);
      if (command === 'stop-node') await stopNode(state, index, args.includes('--kill'));
      else await startNode(state, index);
      process.stderr.write(`node-${index} ${command === 'stop-node' ? 'stopped' : 'started'}\n`);
      return;
    }
    case 'down': {
      const removed = await down(name);
      process.stderr.write(`cluster "${name}" is down (${removed.length} namespaces removed)\n`);
      return;
    }
    default:
      usage(command === undefined ? 'a command is needed' : `unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`cluster: ${(err as Error).message}\n`);
  process.exit(1);
});
