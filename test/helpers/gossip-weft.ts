/**
 * Gossip clusters of real `weft up` processes for integration tests: every
 * node a namespace with one pod, all nodes' underlays on one bridge in a
 * hub namespace (10.99.0.<i>/24), no peer lists and no subnets: each node
 * claims its subnet by gossip, and its pod is addressed from it once the
 * node is ready (again when it claims another, e.g. after a reinstall).
 *
 *   hub: br0 -- p1 ... pN            node-<x>: ul0 10.99.0.<i>, weft0, pod0 (gateway .1)
 *                                    pod: eth0 (.2 of the node's subnet)
 *
 * Every address lives in namespaces the test created; the sandbox removes them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetnsSandbox } from './netns.ts';
import { ping, waitForLog, weftMain } from './cluster.ts';
import type { WeftProcess } from './cluster.ts';
import { request } from '../../src/transport/control-client.ts';

export interface GossipNode {
  name: string;
  ns: string;
  podNs: string;
  underlayIp: string;
  /** The running weft, if any. */
  weft?: WeftProcess;
  /** The subnet the node claimed at its last start, and its pod's address in it. */
  subnet?: string;
  podIp?: string;
}

export interface GossipOptions {
  clusterKey: string;
  oldKeys?: string[];
  /** Gossip seeds: other nodes' underlay addresses (port 7946). */
  seeds: GossipNode[];
  stateDir: string;
}

const POD_MTU = 1450;

/** `count` nodes (node-a, node-b, ...) on one underlay bridge, each with a pod not yet addressed. */
export async function bridgedNodes(sb: NetnsSandbox, count: number): Promise<GossipNode[]> {
  const hub = await sb.create();
  await sb.run(hub, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  await sb.run(hub, ['ip', 'link', 'set', 'br0', 'up']);
  const nodes: GossipNode[] = [];
  for (let i = 1; i <= count; i++) {
    const ns = await sb.create();
    const podNs = await sb.create();
    const n: GossipNode = { name: `node-${String.fromCharCode(96 + i)}`, ns, podNs, underlayIp: `10.99.0.${i}` };
    await sb.veth(ns, 'ul0', hub, `p${i}`);
    await sb.run(hub, ['ip', 'link', 'set', `p${i}`, 'master', 'br0']);
    await sb.run(ns, ['ip', 'addr', 'add', `${n.underlayIp}/24`, 'dev', 'ul0']);
    await sb.veth(ns, 'pod0', podNs, 'eth0');
    await sb.run(podNs, ['ip', 'link', 'set', 'eth0', 'mtu', String(POD_MTU)]);
    await sb.run(ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    nodes.push(n);
  }
  return nodes;
}

/** Start `weft up` on a node with gossip (VXLAN), wait for ready, and address its pod from the claimed subnet. */
export async function startGossipNode(sb: NetnsSandbox, n: GossipNode, o: GossipOptions): Promise<WeftProcess> {
  const gossip = {
    seeds: o.seeds.map((s) => `${s.underlayIp}:7946`),
    clusterKey: o.clusterKey,
    ...(o.oldKeys !== undefined ? { oldKeys: o.oldKeys } : {}),
  };
  const dir = mkdtempSync(join(tmpdir(), 'weft-gossip-'));
  const configPath = join(dir, `${n.name}.json`);
  // /run is shared by every namespace on the machine: each node's socket and subnet.env live in its own directory.
  const controlSocket = join(dir, 'control.sock');
  const subnetEnv = join(dir, 'subnet.env');
  const config = { name: n.name, underlay: { address: n.underlayIp }, stateDir: o.stateDir, gossip, controlSocket, subnetEnv, metrics: { listen: 'off' } };
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const proc = sb.spawn(n.ns, [process.execPath, weftMain(), 'up', '--config', configPath]);
  // Start-up waits up to 3.3 s for the map before it claims; the rest is a bound for a busy machine.
  const ready = await waitForLog(proc, 'ready', 30_000).catch(async (err: unknown) => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const weft: WeftProcess = {
    proc, configPath, controlSocket, subnetEnv, ready,
    stop: async () => {
      const { code } = await proc.stop();
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  n.weft = weft;
  const subnet = String(weft.ready.subnet);
  if (subnet !== n.subnet) await addressPod(sb, n, subnet);
  return weft;
}

/** Give the pod .2 and its node's end .1 of `subnet` (a /24), replacing what they had. */
async function addressPod(sb: NetnsSandbox, n: GossipNode, subnet: string): Promise<void> {
  const base = subnet.split('/')[0]!.split('.').slice(0, 3).join('.');
  await sb.run(n.ns, ['ip', 'addr', 'flush', 'dev', 'pod0']);
  await sb.run(n.ns, ['ip', 'addr', 'add', `${base}.1/24`, 'dev', 'pod0']);
  await sb.run(n.podNs, ['ip', 'addr', 'flush', 'dev', 'eth0']);
  await sb.run(n.podNs, ['ip', 'addr', 'add', `${base}.2/24`, 'dev', 'eth0']);
  await sb.run(n.podNs, ['ip', 'route', 'replace', 'default', 'via', `${base}.1`]);
  n.subnet = subnet;
  n.podIp = `${base}.2`;
}

export interface GossipView {
  members: { alive: number; suspect: number; dead: number; left: number };
  peers: Array<{ name: string; subnets: string[] }>;
  drops: Record<string, number>;
}

/** A running node's gossip members, data plane peers and gossip drops, from its control socket. */
export async function gossipView(n: GossipNode): Promise<GossipView> {
  const s = (await request(n.weft!.controlSocket, 'status')) as {
    gossip: { members: GossipView['members']; drops: Record<string, number> };
    peers: Array<{ name: string; subnets: string[] }>;
  };
  return { members: s.gossip.members, peers: s.peers.map((p) => ({ name: p.name, subnets: p.subnets })), drops: s.gossip.drops };
}

/** Whether `n`'s data plane has every other node of `nodes` as a peer with that node's current subnet. */
export async function routesToAll(n: GossipNode, nodes: readonly GossipNode[]): Promise<boolean> {
  const v = await gossipView(n);
  return nodes.every((o) => o === n || v.peers.some((p) => p.name === o.name && o.subnet !== undefined && p.subnets.includes(o.subnet)));
}

/** Poll `cond` every 100 ms until it holds; throw after `ms` with `explain()` in the message. No sleeps beyond the poll. */
export async function waitUntil(what: string, cond: () => Promise<boolean>, ms: number, explain: () => Promise<string> = async () => ''): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await cond()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (await cond()) return Date.now() - start;
  throw new Error(`timed out after ${ms} ms waiting for ${what}; ${await explain()}`);
}

/** Every running node's view, for failure messages. */
export async function describeCluster(nodes: readonly GossipNode[]): Promise<string> {
  const parts: string[] = [];
  for (const n of nodes) {
    if (n.weft === undefined) continue;
    try {
      const v = await gossipView(n);
      parts.push(`${n.name}: members ${JSON.stringify(v.members)} peers ${v.peers.map((p) => `${p.name}=${p.subnets.join(',')}`).join(' ')} drops ${JSON.stringify(Object.fromEntries(Object.entries(v.drops).filter(([, c]) => c > 0)))}`);
    } catch (err) {
      parts.push(`${n.name}: ${(err as Error).message}`);
    }
  }
  return parts.join('; ');
}

/** Ping every pod from every other pod (3 echo requests each, all pairs at once); returns the pairs that lost any. */
export async function podMatrix(sb: NetnsSandbox, nodes: readonly GossipNode[]): Promise<string[]> {
  const pairs = nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => [a, b] as const));
  const got = await Promise.all(pairs.map(([a, b]) => ping(sb, a.podNs, b.podIp!, 3)));
  const lost: string[] = [];
  pairs.forEach(([a, b], i) => {
    if (got[i] !== 3) lost.push(`${a.name}->${b.name} (${got[i]}/3)`);
  });
  return lost;
}

/** Lines of a weft log with this msg (JSON lines on stderr). */
export function logLines(w: WeftProcess, msg: string): Array<Record<string, unknown>> {
  return w.proc.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === msg);
}

export function stateDirOf(root: string, n: GossipNode, generation = 0): string {
  return join(root, `${n.name}-${generation}`);
}
