/**
 * Real containers on a dual-stack weft cluster: two nodes claim an IPv4 /24
 * and an IPv6 /64 each by gossip, podman (Debian's, CNI backend) runs
 * busybox containers on each, and weft-cni gives every container an address
 * of each family. One encapsulation (VXLAN) is enough here: the families
 * differ in the CNI plugin and the pods, not in how a backend carries them,
 * which the dual-stack cluster test covers for both backends.
 *
 * Proves: each container's addresses come from its node's two subnets and
 * are reserved on disk; every container pings every other container's
 * IPv4 and IPv6 address across nodes; a 4 MiB TCP stream crosses nodes over
 * IPv6 intact; STATUS agrees with the node about both subnets; `podman rm`
 * releases both addresses.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostOf, NETWORK, reservationsDir } from '../../scripts/cluster/containers.ts';
import { check, down, loadState, saveState, up } from '../../scripts/cluster/cluster.ts';
import type { ClusterState } from '../../scripts/cluster/cluster.ts';
import { containerFetch, missingContainerTools, podmanOk } from '../../scripts/lab/podman.ts';
import { cidrContains, parseCidr, parseIpv6 } from '../../src/wire/addr.ts';
import { requestConfig, runPlugin } from '../helpers/cni.ts';
import { requireRoot } from '../helpers/netns.ts';

const root = requireRoot();
const missing = root ? await missingContainerTools() : [];
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`the podman test needs ${missing.join(', ')} and CI=true: apt-get install ${missing.join(' ')} (.ci/run installs them)`);
}
const runnable = root && missing.length === 0;

/** Node i's reservation files (both families), sorted. */
function reserved(state: ClusterState, index: number): string[] {
  const dir = join(reservationsDir(state.dir, index), NETWORK);
  return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('last-reserved')).sort() : [];
}

describe.skipIf(!runnable)('podman containers on a dual-stack weft cluster', () => {
  // "wd" is this suite's prefix; the pid keeps parallel runs apart.
  const name = `wd${process.pid}`;
  let state: ClusterState;

  beforeAll(async () => {
    // One container per node keeps the run short (every check is a podman exec per pair); pods of one
    // bridge reaching each other over IPv6 is cni-dual-stack.test.ts's.
    await up({ name, nodes: 2, pods: 1, backend: 'vxlan', gossip: true, dualStack: true, containers: true, impair: { lossPercent: 0, delayMs: 0 } });
    state = loadState(name);
  }, 120_000);

  afterAll(async () => {
    await down(name);
    expect(existsSync(state?.dir ?? '/nonexistent')).toBe(false);
  }, 60_000);

  it('gives each container an address of each of its node subnets, both reserved on disk', () => {
    for (const n of state.layout.nodes) {
      const subnet6 = parseCidr(n.subnet6!);
      const prefix = n.subnet.split('.').slice(0, 3).join('.');
      for (const pod of n.pods) {
        expect(pod.ip.startsWith(`${prefix}.`)).toBe(true);
        expect(cidrContains(subnet6, parseIpv6(pod.ip6!)), `${pod.ip6} in ${n.subnet6}`).toBe(true);
      }
      const files = n.pods.flatMap((p) => [p.ip, p.ip6!.replaceAll(':', '-')]);
      expect(reserved(state, n.index)).toEqual(files.sort());
    }
  });

  it('every container pings every other on both families, across nodes', async () => {
    const m = await check(name);
    expect(m.pods).toHaveLength(4); // 2 containers, an address of each family
    expect(m.reached, JSON.stringify(m)).toBe(m.total);
  });

  it('a TCP stream crosses nodes over IPv6 intact (4 MiB over HTTP)', async () => {
    const [a, b] = state.layout.nodes;
    const md5 = await containerFetch(hostOf(state.dir, a!, state.containers!), a!.pods[0]!.container!, b!.pods[0]!.ip6!);
    expect(md5).toBe(state.containers!.blobMd5);
  });

  it('STATUS agrees with the running node about both subnets', async () => {
    const n2 = state.layout.nodes[1]!;
    const h = hostOf(state.dir, n2, state.containers!);
    const conflist = JSON.parse(readFileSync(join(h.dir, 'net.d', `${NETWORK}.conflist`), 'utf8')) as { name: string; plugins: Array<Record<string, unknown>> };
    const status = await runPlugin({ plugin: join(state.containers!.cniBin, 'weft'), command: 'STATUS', runtimeNetns: n2.ns }, requestConfig(conflist, '1.1.0'));
    expect(status).toMatchObject({ status: 0, stdout: '' });
  });

  it('podman rm releases both addresses', async () => {
    const n1 = state.layout.nodes[0]!;
    expect(reserved(state, 1)).toHaveLength(2);
    await podmanOk(hostOf(state.dir, n1, state.containers!), ['rm', '--force', '--time', '0', n1.pods[0]!.container!]);
    expect(reserved(state, 1)).toEqual([]);
    n1.pods.splice(0, 1); // down and any later check see the pods still there
    saveState(state);
  });
});
