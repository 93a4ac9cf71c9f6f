/**
 * The bench's cases: each builds the same namespace topology (two nodes on a
 * veth underlay, a pod behind each; test/helpers/cluster.ts) and configures
 * BOTH nodes with one data path, so every ratio compares like with like.
 *
 *   raw             node-a -> node-b straight over ul0 (10.99.0.1 -> 10.99.0.2)
 *   kernel-vxlan    pod-a -> pod-b through flannel.1 on both nodes (Flannel's configuration)
 *   wireguard-go    pod-a -> pod-b through Debian's wireguard-go on both nodes
 *   weft-vxlan      pod-a -> pod-b through `weft up` (VXLAN, dgram transport) on both nodes
 *   weft-wireguard  pod-a -> pod-b through `weft up` (WireGuard, dgram transport) on both nodes
 *   weft-*-batch    the same with the native batch transport (recvmmsg/sendmmsg, UDP GSO and GRO)
 *   weft-*-batch-nooffload  the batch transport without TUN offloads and GSO:
 *                   one kernel crossing per packet on the TUN side (the lever's baseline)
 *   *-jumbo         kernel vxlan and weft (batch, offloads) over a 9000-byte underlay
 *   *-ipv6          kernel vxlan and weft (batch, offloads) over an IPv6 underlay
 *
 * Every address is inside namespaces the bench creates; nothing leaves them.
 */
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { endpointOf, twoNodes, waitForLog } from '../../test/helpers/cluster.ts';
import { kernelVtep } from '../../test/helpers/kernel-vxlan.ts';
import type { OverlayNode, PeerEntry, TwoNodes } from '../../test/helpers/cluster.ts';
import type { NetnsSandbox, SandboxProcess } from '../../test/helpers/netns.ts';
import { startWireguardGo } from '../../test/helpers/wireguard-go.ts';

export const CASE_NAMES = [
  'raw',
  'kernel-vxlan',
  'wireguard-go',
  'weft-vxlan',
  'weft-wireguard',
  'weft-vxlan-batch-nooffload',
  'weft-wireguard-batch-nooffload',
  'weft-vxlan-batch',
  'weft-wireguard-batch',
  'kernel-vxlan-jumbo',
  'weft-vxlan-jumbo',
  'weft-wireguard-jumbo',
  'kernel-vxlan-ipv6',
  'weft-vxlan-ipv6',
  'weft-wireguard-ipv6',
] as const;
export type CaseName = (typeof CASE_NAMES)[number];

/** A process doing the overlay's work in user space, whose CPU and RSS the bench reads. */
export interface OverlayProcess {
  label: string;
  pid: number;
}

/** A configured case: where traffic starts and ends, and what to stop afterwards. */
export interface Setup {
  nodes: TwoNodes;
  clientNs: string;
  serverNs: string;
  serverIp: string;
  /** Empty for the kernel data paths: their work runs in kernel context, not in a process. */
  processes: OverlayProcess[];
  /** weft's transport, for weft cases; undefined otherwise. */
  transport: string | undefined;
  /** Graceful stop (SIGTERM and wait); the sandbox kills whatever is left. */
  stop(): Promise<void>;
  /** weft cases: young-generation collections so far in both weft processes (from their /metrics). */
  scavenges?(): Promise<number>;
}

export interface CaseDef {
  name: CaseName;
  description: string;
  setup(sb: NetnsSandbox): Promise<Setup>;
}

// wg(8)'s sockets live in the shared /var/run/wireguard, unlike interface
// names, which are per namespace: make both nodes' names unique to this run.
const RUN_ID = process.pid % 100000;
const WG_NAMES = ['a', 'b'].flatMap((side) => [`wgb${RUN_ID}${side}`, `wfb${RUN_ID}${side}`]);

/** This run's weft config files (private keys among them), one directory removed after every case. */
let runDir: string | undefined;

/**
 * Remove this run's config files, and its own UAPI sockets if a daemon was
 * killed before it could (SIGKILL on a failed or interrupted case): only the
 * names made here.
 */
export function removeRunFiles(): void {
  if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
  runDir = undefined;
  for (const name of WG_NAMES) {
    try {
      unlinkSync(`/var/run/wireguard/${name}.sock`);
    } catch {
      // not there: the daemon removed it
    }
  }
}

const KERNEL_MACS = ['0e:6b:00:00:00:01', '0e:6b:00:00:00:02'];

function pid(p: SandboxProcess): number {
  // `ip netns exec` (and `env`) exec the command, so the child pid is the daemon itself.
  if (p.child.pid === undefined) throw new Error('process has no pid');
  return p.child.pid;
}

/** The compiled CLI next to this compiled file: dist/bench/e2e -> dist/src/cli/main.js. */
function weftMain(): string {
  const main = resolve(import.meta.dirname, '../../src/cli/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npx tsc -p tsconfig.build.json and run the bench from dist/`);
  return main;
}

/**
 * Like cluster.ts's startWeft, which resolves the CLI from the repository
 * root and so cannot be used once compiled into dist/test/helpers.
 */
async function startWeft(sb: NetnsSandbox, n: OverlayNode, peers: PeerEntry[], extra: Record<string, unknown>): Promise<{ proc: SandboxProcess; stop(): Promise<void> }> {
  runDir ??= mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const dir = mkdtempSync(join(runDir, 'node-'));
  const configPath = join(dir, `${n.name}.json`);
  // /run is shared by every namespace on the machine: keep each node's control socket and
  // subnet.env in the run's own directory, so the bench never meets a test's node-a.
  const files = { controlSocket: join(dir, 'control.sock'), subnetEnv: join(dir, 'subnet.env') };
  writeFileSync(configPath, JSON.stringify({ name: n.name, underlay: { address: n.underlayIp }, subnet: n.subnet, peers, ...files, ...extra }));
  // Default (info) logging: weft logs only on start, reload, SIGUSR1 and stop, never per packet.
  // WEFT_NODE_FLAGS passes node flags to every weft process, e.g.
  // "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the data path under load.
  const nodeFlags = (process.env.WEFT_NODE_FLAGS ?? '').split(/\s+/u).filter((f) => f.length > 0);
  const proc = sb.spawn(n.ns, [process.execPath, ...nodeFlags, weftMain(), 'up', '--config', configPath]);
  try {
    await waitForLog(proc, 'ready', 15_000);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    proc,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Scavenges so far in the weft process of namespace `ns`: prom-client's
 * nodejs_gc_duration_seconds_count{kind="minor"} from its metrics endpoint
 * (on by default, on the namespace's own loopback).
 */
async function minorGcs(sb: NetnsSandbox, ns: string): Promise<number> {
  const get = "require('http').get('http://127.0.0.1:9586/metrics',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>process.stdout.write(b))})";
  const text = await sb.run(ns, [process.execPath, '-e', get]);
  const m = /^nodejs_gc_duration_seconds_count\{kind="minor"\} (\d+)/mu.exec(text);
  return m ? Number(m[1]) : 0;
}

function overlay(nodes: TwoNodes, processes: OverlayProcess[], transport: string | undefined, stop: () => Promise<void>): Setup {
  return { nodes, clientNs: nodes.a.podNs, serverNs: nodes.b.podNs, serverIp: nodes.b.podIp, processes, transport, stop };
}

const raw: CaseDef = {
  name: 'raw',
  description: 'the veth underlay itself, node to node, no overlay',
  setup: async (sb) => {
    const nodes = await twoNodes(sb);
    return { nodes, clientNs: nodes.a.ns, serverNs: nodes.b.ns, serverIp: nodes.b.underlayIp, processes: [], transport: undefined, stop: async () => {} };
  },
};

/** The underlay a case runs over: its MTU and its family. */
interface Underlay {
  mtu: number;
  family: 4 | 6;
}
const STANDARD: Underlay = { mtu: 1500, family: 4 };
/** A 9000-byte underlay (jumbo frames, the default on large clouds). */
const JUMBO: Underlay = { mtu: 9000, family: 4 };
/** An IPv6 underlay: outer headers 20 bytes longer. */
const IPV6: Underlay = { mtu: 1500, family: 6 };

/** What an encapsulation adds over this underlay (outer IP and UDP included). */
function overhead(backend: 'vxlan' | 'wireguard', u: Underlay): number {
  return (backend === 'vxlan' ? 50 : 60) + (u.family === 6 ? 20 : 0);
}

/** The suffix and the words a case's name and description take from its underlay. */
function underlayLabel(u: Underlay): { suffix: string; words: string } {
  if (u.family === 6) return { suffix: '-ipv6', words: ', over an IPv6 underlay' };
  if (u.mtu > 1500) return { suffix: '-jumbo', words: `, over a ${u.mtu}-byte underlay` };
  return { suffix: '', words: '' };
}

/** Two nodes over `u`: a jumbo underlay raises ul0's and the pod-side veths' MTU. */
async function nodesOver(sb: NetnsSandbox, u: Underlay, podMtu: number): Promise<TwoNodes> {
  const nodes = await twoNodes(sb, podMtu, u.family);
  if (u.mtu === 1500) return nodes;
  for (const n of [nodes.a, nodes.b]) {
    await sb.run(n.ns, ['ip', 'link', 'set', 'ul0', 'mtu', String(u.mtu)]);
    await sb.run(n.ns, ['ip', 'link', 'set', 'pod0', 'mtu', String(u.mtu)]);
  }
  return nodes;
}

function kernelVxlanCase(u: Underlay): CaseDef {
  const { suffix, words } = underlayLabel(u);
  return {
    name: `kernel-vxlan${suffix}` as CaseName,
    description: `the kernel's vxlan device on both nodes, configured as Flannel does${words}`,
    setup: async (sb) => {
      const mtu = u.mtu - overhead('vxlan', u);
      const nodes = await nodesOver(sb, u, mtu);
      // No `ethtool -K ul0 tx off` here: that is only needed when a kernel vxlan
      // sends to a UDP socket (weft), which cannot finish a partial checksum; a
      // kernel peer handles it, and Flannel leaves the offload on.
      await kernelVtep(sb, nodes.a, nodes.b, KERNEL_MACS[1]!, { mac: KERNEL_MACS[0]!, mtu });
      await kernelVtep(sb, nodes.b, nodes.a, KERNEL_MACS[0]!, { mac: KERNEL_MACS[1]!, mtu });
      return overlay(nodes, [], undefined, async () => {});
    },
  };
}

const wireguardGo: CaseDef = {
  name: 'wireguard-go',
  description: "Debian's wireguard-go on both nodes, configured with wg(8)",
  setup: async (sb) => {
    const nodes = await twoNodes(sb, 1420);
    const [keyA, keyB] = [generateKeyText(), generateKeyText()];
    const ga = await startWireguardGo(sb, nodes.a, `wgb${RUN_ID}a`, keyA, { publicKey: publicKeyText(keyB), endpoint: `${nodes.b.underlayIp}:51820`, allowedIps: nodes.b.subnet });
    const gb = await startWireguardGo(sb, nodes.b, `wgb${RUN_ID}b`, keyB, { publicKey: publicKeyText(keyA), endpoint: `${nodes.a.underlayIp}:51820`, allowedIps: nodes.a.subnet });
    const processes = [
      { label: 'wireguard-go node-a', pid: pid(ga.proc) },
      { label: 'wireguard-go node-b', pid: pid(gb.proc) },
    ];
    return overlay(nodes, processes, undefined, async () => {
      await Promise.all([ga.stop(), gb.stop()]);
    });
  },
};

/**
 * weft on both nodes with one backend and one transport; `offload` turns on
 * the TUN offloads and, for the batch transport, UDP GSO and GRO.
 */
function weftCase(backend: 'vxlan' | 'wireguard', type: 'dgram' | 'batch', offload: boolean, u: Underlay = STANDARD): CaseDef {
  const { suffix, words } = underlayLabel(u);
  const name = (suffix !== '' ? `weft-${backend}${suffix}` : `weft-${backend}${type === 'batch' ? '-batch' : ''}${offload || type === 'dgram' ? '' : '-nooffload'}`) as CaseName;
  const transport = type === 'batch' && offload ? { type, gso: true, gro: true } : type;
  const label = `${type}${type === 'batch' && offload ? '+gso+gro' : ''}, ${offload ? 'offload' : 'no offload'}${words}`;
  const underlayMtu = u.mtu;
  return {
    name,
    description: `weft up with the ${backend === 'vxlan' ? 'VXLAN' : 'WireGuard'} backend on both nodes (${label})`,
    setup: async (sb) => {
      const nodes = await nodesOver(sb, u, underlayMtu - overhead(backend, u));
      const { a, b } = nodes;
      const [keyA, keyB] = [generateKeyText(), generateKeyText()];
      const port = backend === 'vxlan' ? 8472 : 51820;
      const config = (key: string, side: string) =>
        backend === 'vxlan'
          ? { transport, tun: { name: 'weft0', offload }, underlay: { address: side === 'a' ? a.underlayIp : b.underlayIp, mtu: underlayMtu } }
          : { transport, backend: 'wireguard', tun: { name: `wfb${RUN_ID}${side}`, offload }, wireguard: { privateKey: key }, underlay: { address: side === 'a' ? a.underlayIp : b.underlayIp, mtu: underlayMtu } };
      const peer = (n: typeof a, key: string) => ({
        name: n.name,
        endpoint: endpointOf(n, port),
        subnet: n.subnet,
        ...(backend === 'wireguard' ? { publicKey: publicKeyText(key) } : {}),
        // What gossip tells a weft node of a peer whose TUN has offloads: TCP checksums may leave partial.
        ...(offload ? { finishesChecksums: true } : {}),
      });
      const wa = await startWeft(sb, a, [peer(b, keyB)], config(keyA, 'a'));
      const wb = await startWeft(sb, b, [peer(a, keyA)], config(keyB, 'b')).catch(async (e: unknown) => {
        await wa.stop();
        throw e;
      });
      const processes = [
        { label: 'weft node-a', pid: pid(wa.proc) },
        { label: 'weft node-b', pid: pid(wb.proc) },
      ];
      const setup = overlay(nodes, processes, label, async () => {
        await Promise.all([wa.stop(), wb.stop()]);
      });
      setup.scavenges = async () => (await minorGcs(sb, a.ns)) + (await minorGcs(sb, b.ns));
      return setup;
    },
  };
}

export const CASES: Record<CaseName, CaseDef> = {
  raw,
  'kernel-vxlan': kernelVxlanCase(STANDARD),
  'wireguard-go': wireguardGo,
  'weft-vxlan': weftCase('vxlan', 'dgram', true),
  'weft-wireguard': weftCase('wireguard', 'dgram', true),
  'weft-vxlan-batch-nooffload': weftCase('vxlan', 'batch', false),
  'weft-wireguard-batch-nooffload': weftCase('wireguard', 'batch', false),
  'weft-vxlan-batch': weftCase('vxlan', 'batch', true),
  'weft-wireguard-batch': weftCase('wireguard', 'batch', true),
  'kernel-vxlan-jumbo': kernelVxlanCase(JUMBO),
  'weft-vxlan-jumbo': weftCase('vxlan', 'batch', true, JUMBO),
  'weft-wireguard-jumbo': weftCase('wireguard', 'batch', true, JUMBO),
  'kernel-vxlan-ipv6': kernelVxlanCase(IPV6),
  'weft-vxlan-ipv6': weftCase('vxlan', 'batch', true, IPV6),
  'weft-wireguard-ipv6': weftCase('wireguard', 'batch', true, IPV6),
};

/** Parse a --cases list; throws naming the valid cases on an unknown one. */
export function parseCaseList(text: string): CaseName[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const n of names) {
    if (!(CASE_NAMES as readonly string[]).includes(n)) throw new Error(`unknown case "${n}": expected some of ${CASE_NAMES.join(',')}`);
  }
  if (names.length === 0) throw new Error(`--cases is empty: expected some of ${CASE_NAMES.join(',')}`);
  return [...new Set(names)] as CaseName[];
}
