/**
 * `up --containers`: each node's pods are podman containers attached through
 * weft-cni, instead of namespaces wired by hand. The steps are the ones
 * docs/CNI.md gives a user, run for each node:
 *
 *   weft cni install --bin-dir <dir>/cni-bin                  (once)
 *   weft cni conflist --config node-<i>.json --out <podman>/net.d/weft.conflist
 *   podman run -d --network weft --rootfs <busybox rootfs> /bin/httpd ...
 *
 * podman runs inside the node's namespace with a private config and storage
 * (scripts/lab/podman.ts), so nothing of the machine's podman is touched.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from '../lab/netns.ts';
import { buildRootfs, containerPing, podmanHost, removeAllContainers, runContainer } from '../lab/podman.ts';
import type { PodmanHost } from '../lab/podman.ts';
import { compiledWeft } from '../lab/paths.ts';
import type { ClusterNode } from './topology.ts';

/** The CNI network's name in each node's conflist. */
export const NETWORK = 'weft';

export interface ContainerSetup {
  cniBin: string;
  rootfs: string;
  blobMd5: string;
}

function weft(args: string[]): Promise<string> {
  return runOk([process.execPath, compiledWeft('run npm install (it builds weft)'), ...args]);
}

/** Install the plugin and build the root filesystem, once per cluster. */
export async function prepareContainers(dir: string): Promise<ContainerSetup> {
  const cniBin = join(dir, 'cni-bin');
  await weft(['cni', 'install', '--bin-dir', cniBin]);
  return { cniBin, ...(await buildRootfs(dir)) };
}

export function hostOf(dir: string, n: ClusterNode, setup: ContainerSetup): PodmanHost {
  return podmanHost(join(dir, 'podman', `node-${n.index}`), n.ns, setup.cniBin);
}

/** The directory where node i's plugin keeps its address reservations. */
export function reservationsDir(dir: string, index: number): string {
  return join(dir, 'cni-data', `node-${index}`);
}

/** Write node n's conflist from its weft config, then start its pods as containers; fills in each pod's addresses (both families on a dual-stack node). */
export async function addContainers(dir: string, clusterName: string, n: ClusterNode, setup: ContainerSetup): Promise<void> {
  const h = hostOf(dir, n, setup);
  await weft(['cni', 'conflist', '--config', join(dir, `node-${n.index}.json`), '--out', join(h.dir, 'net.d', `${NETWORK}.conflist`), '--data-dir', reservationsDir(dir, n.index)]);
  for (const [j, pod] of n.pods.entries()) {
    const c = await runContainer(h, `${clusterName}-n${n.index}-c${j + 1}`, NETWORK, setup.rootfs);
    pod.container = c.name;
    // An IPv6-only node's container has its IPv6 address alone: that is its address.
    pod.ip = c.ip !== '' ? c.ip : (c.ip6 ?? '');
    // On a dual-stack node the container's IPv6 address is a target of `check`, as a hand-made pod's is.
    if (c.ip !== '' && c.ip6 !== undefined) pod.ip6 = c.ip6;
  }
}

/** Ping from a container (inside it, with its own busybox ping). */
export function pingFromContainer(dir: string, n: ClusterNode, setup: ContainerSetup, container: string, ip: string): Promise<boolean> {
  return containerPing(hostOf(dir, n, setup), container, ip);
}

/** podman rm every node's containers (the plugin's DEL releases their addresses), then remove podman's directories. */
export async function removeContainers(dir: string, nodes: readonly ClusterNode[], setup: ContainerSetup): Promise<string[]> {
  const problems: string[] = [];
  for (const n of nodes) problems.push(...(await removeAllContainers(hostOf(dir, n, setup))));
  rmSync(join(dir, 'podman'), { recursive: true, force: true });
  return problems;
}
