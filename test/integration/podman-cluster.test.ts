/**
 * Real containers on weft: podman (Debian's, CNI backend, runc, cgroupfs)
 * runs busybox containers on two weft nodes, attached through weft-cni,
 * over VXLAN and over WireGuard. The cluster is the cluster script's
 * (`up --containers`): node namespaces on one underlay bridge, podman in
 * each node's namespace with a private config and storage
 * (scripts/lab/podman.ts says why each containers.conf line is there).
 *
 * Proves: every container pings every other across nodes; a 4 MiB TCP
 * stream (HTTP, busybox httpd to wget) crosses nodes intact; a restarted
 * weft keeps its containers reachable; `podman rm` releases the address;
 * GC releases a leaked reservation and keeps the live ones.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostOf, NETWORK, reservationsDir } from '../../scripts/cluster/containers.ts';
import { check, down, loadState, saveState, startNode, stopNode, up } from '../../scripts/cluster/cluster.ts';
import type { ClusterState } from '../../scripts/cluster/cluster.ts';
import { addNamespace, deleteNamespace, nsRun } from '../../scripts/lab/netns.ts';
import { containerFetch, missingContainerTools, podman, podmanOk } from '../../scripts/lab/podman.ts';
import { requestConfig, runPlugin } from '../helpers/cni.ts';
import { requireRoot } from '../helpers/netns.ts';

const root = requireRoot();
const missing = root ? await missingContainerTools() : [];
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`the podman test needs ${missing.join(', ')} and CI=true: apt-get install ${missing.join(' ')} (.ci/run installs them)`);
}
const runnable = root && missing.length === 0;

function reserved(state: ClusterState, index: number): string[] {
  const dir = join(reservationsDir(state.dir, index), NETWORK);
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/u.test(f)).sort() : [];
}

/** Node i's conflist, as `weft cni conflist` wrote it. */
function conflistOf(state: ClusterState, index: number): { name: string; plugins: Array<Record<string, unknown>> } {
  const h = hostOf(state.dir, state.layout.nodes[index - 1]!, state.containers!);
  return JSON.parse(readFileSync(join(h.dir, 'net.d', `${NETWORK}.conflist`), 'utf8')) as { name: string; plugins: Array<Record<string, unknown>> };
}

describe.skipIf(!runnable).each(['vxlan', 'wireguard'] as const)('podman containers on weft over %s', (backend) => {
  // Names start with "wc" (this suite's prefix) and carry the pid, so parallel runs never meet.
  const name = `wc${backend === 'vxlan' ? 'v' : 'w'}${process.pid}`;
  let state: ClusterState;

  beforeAll(async () => {
    await up({ name, nodes: 2, pods: 2, backend, containers: true, impair: { lossPercent: 0, delayMs: 0 } });
    state = loadState(name);
  }, 120_000);

  afterAll(async () => {
    await down(name);
    expect(existsSync(state?.dir ?? '/nonexistent')).toBe(false);
  }, 60_000);

  it('gives each container an address of its node subnet, reserved on disk', () => {
    for (const n of state.layout.nodes) {
      const prefix = n.subnet.split('.').slice(0, 3).join('.');
      for (const pod of n.pods) expect(pod.ip.startsWith(`${prefix}.`)).toBe(true);
      expect(reserved(state, n.index)).toEqual(n.pods.map((p) => p.ip).sort());
    }
  });

  it('every container pings every other, across nodes', async () => {
    const m = await check(name);
    expect(m.reached, JSON.stringify(m)).toBe(m.total);
  });

  it('a TCP stream crosses nodes intact (4 MiB over HTTP)', async () => {
    const [a, b] = state.layout.nodes;
    const md5 = await containerFetch(hostOf(state.dir, a!, state.containers!), a!.pods[0]!.container!, b!.pods[0]!.ip);
    expect(md5).toBe(state.containers!.blobMd5);
  });

  it('a restarted weft keeps its containers reachable; STATUS fails (50) while it is down', async () => {
    const n2 = state.layout.nodes[1]!;
    const conflist = conflistOf(state, 2);
    const status = () => runPlugin({ plugin: join(state.containers!.cniBin, 'weft'), command: 'STATUS', runtimeNetns: n2.ns }, requestConfig(conflist, '1.1.0'));
    expect(await status()).toMatchObject({ status: 0, stdout: '' });
    // SIGKILL: weft cannot remove its subnet.env, so only its silent control socket tells.
    await stopNode(state, 2, true);
    expect(JSON.parse((await status()).stdout)).toMatchObject({ code: 50, msg: 'weft is not running on this node' });
    await startNode(state, 2);
    expect(await status()).toMatchObject({ status: 0, stdout: '' });
    const m = await check(name);
    expect(m.reached, JSON.stringify(m)).toBe(m.total);
  });

  it('podman rm releases the address and the veth', async () => {
    const n1 = state.layout.nodes[0]!;
    const gone = n1.pods[1]!;
    const h = hostOf(state.dir, n1, state.containers!);
    await podmanOk(h, ['rm', '--force', '--time', '0', gone.container!]);
    expect(reserved(state, 1)).toEqual([n1.pods[0]!.ip]);
    expect((await podman(h, ['ps', '--all', '--format', '{{.Names}}'])).stdout.trim()).toBe(n1.pods[0]!.container);
    // The veth's node end went with it: only the remaining container's is on the bridge.
    expect((await nsRun(n1.ns, ['ip', '-o', 'link', 'show', 'master', 'cni0'])).trim().split('\n')).toHaveLength(1);
    n1.pods.splice(1, 1); // the cluster's check pings the pods still there
    saveState(state);
  });

  it('GC releases a leaked reservation and keeps the ones podman still has', async () => {
    const n1 = state.layout.nodes[0]!;
    const conflist = conflistOf(state, 1);
    const plugin = join(state.containers!.cniBin, 'weft');
    // A leak: ADD for a sandbox whose runtime then died, its namespace gone, DEL never sent.
    const leakNs = `${name}-leak`;
    expect((await addNamespace(leakNs)).code).toBe(0);
    try {
      const add = await runPlugin({ plugin, command: 'ADD', containerId: 'leaked-sandbox', netns: `/run/netns/${leakNs}`, ifname: 'eth0', runtimeNetns: n1.ns }, requestConfig(conflist, '1.0.0'));
      expect(add.status, add.stdout).toBe(0);
    } finally {
      await deleteNamespace(leakNs);
    }
    expect(reserved(state, 1)).toHaveLength(2);
    const ids = (await podmanOk(hostOf(state.dir, n1, state.containers!), ['ps', '--all', '--no-trunc', '--format', '{{.ID}}'])).trim().split('\n');
    const valid = ids.map((containerID) => ({ containerID, ifname: 'eth0' }));
    const gc = await runPlugin({ plugin, command: 'GC', runtimeNetns: n1.ns }, requestConfig(conflist, '1.1.0', { 'cni.dev/valid-attachments': valid }));
    expect(gc).toMatchObject({ status: 0, stdout: '' });
    expect(reserved(state, 1)).toEqual([n1.pods[0]!.ip]);
    const m = await check(name);
    expect(m.reached, JSON.stringify(m)).toBe(m.total);
  });
});
