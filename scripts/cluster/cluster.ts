/**
 * `weft cluster` for one machine: bring up N weft nodes with M pods each in
 * network namespaces, check pod-to-pod connectivity, tear it all down.
 *
 *   node dist/scripts/cluster/main.js up 3 --pods 2 --backend vxlan [--loss 1] [--delay 5] [--name demo]
 *   node dist/scripts/cluster/main.js check [--name demo] [--json]
 *   node dist/scripts/cluster/main.js down [--name demo]
 *
 * State (layout, configs, logs, control sockets) lives in
 * /run/weft-cluster/<name>/, so check and down find what up made.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { createHash, randomBytes } from 'node:crypto';
import { alive, listNamespaces, nsExec, signalAll } from '../lab/netns.ts';
import { compiledWeft } from '../lab/paths.ts';
import { missingContainerTools } from '../lab/podman.ts';
import { addContainers, pingFromContainer, prepareContainers, removeContainers } from './containers.ts';
import type { ContainerSetup } from './containers.ts';
import { addPods, build, destroy, layout } from './topology.ts';
import type { ClusterLayout, ClusterNode, Impairment, UnderlayFamilies } from './topology.ts';
import { endpointText } from '../../src/wire/addr.ts';

export const STATE_ROOT = '/run/weft-cluster';

export interface UpOptions {
  name: string;
  nodes: number;
  pods: number;
  backend: 'vxlan' | 'wireguard' | 'mixed';
  /** Location label per node (node i gets locations[(i - 1) % length]); for the mixed backend. */
  locations?: string[];
  impair: Impairment;
  /** Nodes find each other and claim subnets by gossip, instead of static peer lists and subnets. */
  gossip?: boolean;
  /** Pods are podman containers attached through weft-cni (scripts/cluster/containers.ts). */
  containers?: boolean;
  /** Every pod gets an IPv6 address beside its IPv4 one (a dual-stack pod network). */
  dualStack?: boolean;
  /** Pods get an IPv6 address alone (an IPv6-only pod network, fd00:10:244::/56). */
  ipv6Only?: boolean;
  /** The nodes reach each other over IPv6 only. */
  ipv6Underlay?: boolean;
  /** Underlay families per node, cycling (overrides ipv6Underlay): '4', '6' or '46' (both). */
  underlays?: UnderlayFamilies[];
  progress?: (line: string) => void;
}

export interface ClusterState {
  layout: ClusterLayout;
  backend: string;
  /** The weft process of node i is pids[i - 1]. */
  pids: number[];
  dir: string;
  /** Set when the pods are containers: the installed plugin and the root filesystem. */
  containers?: ContainerSetup;
}

export function weftMain(): string {
  return compiledWeft('run npm install (it builds weft)');
}

export function stateDir(name: string): string {
  return join(STATE_ROOT, name);
}

export function saveState(state: ClusterState): void {
  writeFileSync(join(state.dir, 'state.json'), JSON.stringify(state, null, 2));
}

export function loadState(name: string): ClusterState {
  const file = join(stateDir(name), 'state.json');
  if (!existsSync(file)) throw new Error(`no cluster "${name}" is up (no ${file}); start one with: up N --name ${name}`);
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
}

/** Wait until a node's log shows its ready line; fail with the log if it exits or hangs. */
async function waitReady(log: string, pid: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    const line = text.split('\n').find((l) => l.includes('"msg":"ready"'));
    if (line !== undefined) return JSON.parse(line) as Record<string, unknown>;
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`weft exited before it was ready; its log (${log}):\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`weft was not ready after ${timeoutMs} ms; its log (${log}):\n${readFileSync(log, 'utf8')}`);
}

/**
 * The prefix of a cluster's TUN device names. WireGuard's UAPI sockets
 * (/var/run/wireguard/<device>.sock) are shared by every namespace on the
 * machine, so two clusters must never share a device name: a name that does
 * not fit as it is gets a hash of the whole name (cutting it short would make
 * "lab-east" and "lab-eastern" one cluster's devices).
 */
export function devicePrefix(name: string): string {
  const clean = name.replace(/[^a-z0-9]/gu, '');
  if (clean === name && clean.length <= 8) return `w${clean}`;
  return `w${clean.slice(0, 3)}${createHash('sha256').update(name).digest('hex').slice(0, 5)}`;
}

/** Node i's IPv6 subnet in a static dual-stack cluster: the i-th /64 of fd00:10:244::/56. */
function subnet6Of(i: number): string {
  return `fd00:10:244:${i.toString(16)}::/64`;
}

export async function up(o: UpOptions): Promise<ClusterState> {
  const say = o.progress ?? (() => {});
  if (existsSync(join(stateDir(o.name), 'state.json'))) throw new Error(`cluster "${o.name}" is already up; run down --name ${o.name} first`);
  if (o.ipv6Only && o.dualStack) throw new Error('--ipv6-only and --dual-stack exclude each other: choose one');
  const l = layout(o.name, o.nodes, o.pods, o.underlays !== undefined && o.underlays.length > 0 ? o.underlays : o.ipv6Underlay ? 6 : 4);
  // An IPv6-only node's subnet is its IPv6 /64 (node i's i-th without gossip).
  if (o.ipv6Only) for (const n of l.nodes) n.subnet = subnet6Of(n.index);
  const dir = stateDir(o.name);
  // Node configs hold private keys: the directory is root's alone, whatever the umask.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const state: ClusterState = { layout: l, backend: o.backend, pids: [], dir };
  const save = () => saveState(state);
  save();
  try {
    // A 1500-byte underlay less the encapsulation's overhead (20 bytes more with IPv6 outer
    // headers, on every node when any sends them: one pod MTU for the cluster).
    const anyIpv6 = l.nodes.some((n) => n.underlayIp.includes(':') || n.underlayIp6 !== undefined);
    const podMtu = (o.backend === 'vxlan' ? 1450 : 1420) - (anyIpv6 ? 20 : 0);
    say(`building ${o.nodes} nodes with ${o.pods} ${o.containers ? 'podman containers' : 'pods'} each (${o.backend}, pod MTU ${podMtu})`);
    if (o.containers) {
      const missing = await missingContainerTools();
      if (missing.length > 0) throw new Error(`--containers needs podman, runc, busybox-static and the CNI plugins; install them with: apt-get install ${missing.join(' ')}`);
      state.containers = await prepareContainers(dir);
    }
    await build(l, podMtu, o.impair, !o.containers);
    const keys = l.nodes.map(() => generateKeyText());
    const clusterKey = randomBytes(32).toString('base64');
    weftMain(); // fails early, naming the fix, when weft is not built
    const tunPrefix = devicePrefix(o.name);
    const locationOf = (i: number) => (o.locations && o.locations.length > 0 ? o.locations[(i - 1) % o.locations.length]! : 'default');
    const wgKeys = o.backend !== 'vxlan';
    for (const n of l.nodes) {
      // Under "mixed" a peer in another location is reached over WireGuard, on its port.
      const viaWireguard = (p: number) => o.backend === 'wireguard' || (o.backend === 'mixed' && locationOf(p) !== locationOf(n.index));
      const common = {
        name: `node-${n.index}`,
        location: locationOf(n.index),
        backend: o.backend,
        underlay: { address: addressesOf(n).join(',') },
        ...(o.dualStack ? { clusterCidr: '10.244.0.0/16,fd00:10:244::/56' } : o.ipv6Only ? { clusterCidr: 'fd00:10:244::/56' } : {}),
        tun: { name: `${tunPrefix}${n.index}` },
        controlSocket: join(dir, `node-${n.index}.sock`),
        subnetEnv: join(dir, `node-${n.index}.subnet.env`),
        stateDir: join(dir, `node-${n.index}.state`),
      };
      const config = o.gossip
        ? // Gossip: no subnet, no peers; node-1 is everyone's seed, and the key is the cluster's.
          { ...common, gossip: { seeds: seedOf(l, n), clusterKey } }
        : {
            ...common,
            subnet: o.dualStack ? `${n.subnet},${subnet6Of(n.index)}` : n.subnet,
            ...(wgKeys ? { wireguard: { privateKey: keys[n.index - 1] } } : {}),
            peers: l.nodes
              .filter((p) => p.index !== n.index)
              .map((p) => ({
                name: `node-${p.index}`,
                location: locationOf(p.index),
                endpoint: endpointText(reachable(n, p) ?? p.underlayIp, viaWireguard(p.index) ? 51820 : 8472),
                subnet: o.dualStack ? `${p.subnet},${subnet6Of(p.index)}` : p.subnet,
                ...(wgKeys ? { publicKey: publicKeyText(keys[p.index - 1]!) } : {}),
              })),
          };
      writeFileSync(join(dir, `node-${n.index}.json`), JSON.stringify(config, null, 2), { mode: 0o600 });
      const ready = await startNode(state, n.index);
      // The node's pods get addresses from the subnet it has: weft-cni reads it from
      // subnet.env; hand-made pods take them as the CNI host-local plugin would.
      // IPv6-only: the node's one subnet is its IPv6 /64.
      n.subnet = String(ready.subnet ?? ready.subnet6);
      if (ready.subnet !== undefined && ready.subnet6 !== undefined) n.subnet6 = String(ready.subnet6);
      if (state.containers) await addContainers(dir, o.name, n, state.containers);
      else await addPods(n, podMtu);
      save();
      const subnets = n.subnet6 === undefined ? n.subnet : `${n.subnet} ${n.subnet6}`;
      say(`node-${n.index} ready: subnet ${subnets}${o.gossip ? ' (claimed by gossip)' : ''}, underlay ${addressesOf(n).join(' ')}, pods ${n.pods.flatMap((p) => (p.ip6 ? [p.ip, p.ip6] : [p.ip])).join(' ')}`);
    }
    return state;
  } catch (err) {
    await down(o.name);
    throw err;
  }
}

/** A node's underlay addresses, IPv4 first on a dual underlay. */
function addressesOf(n: ClusterNode): string[] {
  return n.underlayIp6 === undefined ? [n.underlayIp] : [n.underlayIp, n.underlayIp6];
}

/** The address `from` reaches `to` at, as weft chooses it (reachableAddress): IPv6 when both have it, else IPv4; undefined with no family in common. */
function reachable(from: ClusterNode, to: ClusterNode): string | undefined {
  for (const six of [true, false]) {
    const mine = addressesOf(from).some((a) => a.includes(':') === six);
    const theirs = addressesOf(to).find((a) => a.includes(':') === six);
    if (mine && theirs !== undefined) return theirs;
  }
  return undefined;
}

/** Node i's gossip seed: the first node before it that it shares an underlay family with (node 1 has none). */
function seedOf(l: ClusterLayout, n: ClusterNode): string[] {
  for (const earlier of l.nodes.slice(0, n.index - 1)) {
    const address = reachable(n, earlier);
    if (address !== undefined) return [endpointText(address, 7946)];
  }
  return [];
}

/** Start (or restart) node i's weft with its config; returns its ready line. */
export async function startNode(state: ClusterState, index: number): Promise<Record<string, unknown>> {
  const n = state.layout.nodes[index - 1];
  if (n === undefined) throw new Error(`cluster has no node ${index}`);
  const cfg = join(state.dir, `node-${index}.json`);
  const log = join(state.dir, `node-${index}.log`);
  const out = openSync(log, 'w');
  const child = spawn('ip', ['netns', 'exec', n.ns, process.execPath, weftMain(), 'up', '--config', cfg], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  state.pids[index - 1] = child.pid!;
  saveState(state);
  return waitReady(log, child.pid!, 15_000);
}

/** Stop node i's weft: SIGTERM (it leaves and cleans up) or, with kill, SIGKILL (it just dies). */
export async function stopNode(state: ClusterState, index: number, kill: boolean): Promise<void> {
  const pid = state.pids[index - 1];
  if (pid === undefined) throw new Error(`cluster has no node ${index}`);
  try {
    process.kill(pid, kill ? 'SIGKILL' : 'SIGTERM');
  } catch {
    return; // not running
  }
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

export interface Matrix {
  pods: string[];
  /** ok[i][j]: address i's pod reached address j (true where both are one pod's, which are no pair). */
  ok: boolean[][];
  reached: number;
  total: number;
}

/** Ping `ip` from a pod: from inside its container, or in its namespace. */
function pingFrom(state: ClusterState, node: ClusterLayout['nodes'][number], pod: { ns: string; container?: string }, ip: string): Promise<boolean> {
  if (pod.container !== undefined && state.containers) return pingFromContainer(state.dir, node, state.containers, pod.container, ip);
  return nsExec(pod.ns, ['ping', '-c', '1', '-W', '1', ip], { timeoutMs: 5000 }).then((r) => r.code === 0);
}

/** Ping every pod from every pod (one echo each, 1 s to answer), a few at a time. */
export async function check(name: string): Promise<Matrix> {
  const state = loadState(name);
  const l = state.layout;
  // Every pod address is a target: a dual-stack pod is reached on both families.
  const pods = l.nodes.flatMap((n) =>
    n.pods.flatMap((p) => {
      const label = `n${n.index}-p${p.ns.split('-p').at(-1)}`;
      const v4 = { label, node: n, pod: p, ip: p.ip };
      return p.ip6 === undefined ? [v4] : [v4, { label: `${label}/6`, node: n, pod: p, ip: p.ip6 }];
    }),
  );
  // A pod and its own addresses are not a pair: marked like the diagonal, never pinged.
  const same = (i: number, j: number) => pods[i]!.pod === pods[j]!.pod;
  const ok = pods.map((_, i) => pods.map((__, j) => same(i, j)));
  const jobs: Array<[number, number]> = [];
  for (let i = 0; i < pods.length; i++) for (let j = 0; j < pods.length; j++) if (!same(i, j)) jobs.push([i, j]);
  const worker = async () => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      const [i, j] = job;
      // Two tries: the first packet toward a new peer may wait for its handshake.
      for (let attempt = 0; attempt < 2 && !ok[i]![j]; attempt++) {
        ok[i]![j] = await pingFrom(state, pods[i]!.node, pods[i]!.pod, pods[j]!.ip);
      }
    }
  };
  const total = jobs.length;
  const unpaired = pods.length * pods.length - total;
  await Promise.all(Array.from({ length: 6 }, worker));
  const reached = ok.flat().filter(Boolean).length - unpaired;
  return { pods: pods.map((p) => p.label), ok, reached, total };
}

export function formatMatrix(m: Matrix): string {
  const w = Math.max(...m.pods.map((p) => p.length)) + 2;
  const head = ' '.repeat(w) + m.pods.map((p) => p.padStart(w)).join('');
  // A pod's own addresses (n1-p1 and n1-p1/6) are no pair.
  const pod = (label: string) => label.replace(/\/6$/u, '');
  const rows = m.pods.map((p, i) => p.padEnd(w) + m.ok[i]!.map((v, j) => (pod(m.pods[i]!) === pod(m.pods[j]!) ? '-' : v ? 'ok' : 'FAIL').padStart(w)).join(''));
  return [head, ...rows, '', `${m.reached} of ${m.total} pod pairs reached`].join('\n');
}

/** Stop the nodes (SIGTERM, so each removes its routes and device), then delete every namespace. */
export async function down(name: string): Promise<string[]> {
  let state: ClusterState;
  try {
    state = loadState(name);
  } catch {
    // No state file: remove whatever namespaces carry the cluster's name.
    state = { layout: layout(name, 0, 0), backend: '', pids: [], dir: stateDir(name) };
  }
  // Containers first: podman rm runs the plugin's DEL, which needs the node's namespace.
  if (state.containers) await removeContainers(state.dir, state.layout.nodes, state.containers);
  signalAll(state.pids, 'SIGTERM');
  for (let i = 0; i < 50 && state.pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  const removed = await destroy(state.layout.nodes.length ? state.layout : await guessLayout(name));
  rmSync(state.dir, { recursive: true, force: true });
  return removed;
}

/** Without a state file, find the cluster's namespaces by name. */
async function guessLayout(name: string): Promise<ClusterLayout> {
  const names = (await listNamespaces()).filter((n) => n.startsWith(`${name}-`));
  const nodes = names.filter((n) => /-n\d+$/u.test(n)).length;
  const pods = names.filter((n) => /-n1-p\d+$/u.test(n)).length;
  return layout(name, nodes, pods);
}

