/**
 * Real containers on an IPv6-only weft cluster: two nodes claim an IPv6 /64
 * each by gossip (clusterCidr fd00:10:244::/56 alone), podman (Debian's, CNI
 * backend) runs a busybox container on each, and weft-cni gives each an IPv6
 * address and nothing IPv4. Proves: each container's address comes from its
 * node's /64 and is reserved on disk (one file, IPv6); the containers ping
 * each other across nodes; a 4 MiB TCP stream crosses intact; STATUS agrees
 * with the node (no IPv4 subnet on either side); `podman rm` releases it.
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

function reserved(state: ClusterState, index: number): string[] {
  const dir = join(reservationsDir(state.dir, index), NETWORK);
  return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('last-reserved')).sort() : [];
}

describe.skipIf(!runnable)('podman containers on an IPv6-only weft cluster', () => {
  // "w6p" is this suite's prefix; the pid keeps parallel runs apart.
  const name = `w6p${process.pid % 100000}`;
  let state: ClusterState;

  beforeAll(async () => {
    await up({ name, nodes: 2, pods: 1, backend: 'vxlan', gossip: true, ipv6Only: true, containers: true, impair: { lossPercent: 0, delayMs: 0 } });
    state = loadState(name);
  }, 120_000);

  afterAll(async () => {
    await down(name);
    expect(existsSync(state?.dir ?? '/nonexistent')).toBe(false);
  }, 60_000);

  it('gives each container an IPv6 address of its node\'s /64 alone, reserved on disk', async () => {
    for (const n of state.layout.nodes) {
      const subnet = parseCidr(n.subnet);
      expect(subnet.family).toBe(6);
      for (const pod of n.pods) {
        expect(cidrContains(subnet, parseIpv6(pod.ip)), `${pod.ip} in ${n.subnet}`).toBe(true);
        expect(pod.ip6).toBe(undefined);
        const h = hostOf(state.dir, n, state.containers!);
        expect((await podmanOk(h, ['inspect', '--format', `{{with index .NetworkSettings.Networks "${NETWORK}"}}[{{.IPAddress}}]{{end}}`, pod.container!])).trim()).toBe('[]');
      }
      expect(reserved(state, n.index)).toEqual(n.pods.map((p) => p.ip.replaceAll(':', '-')).sort());
    }
  });

  it('the containers ping each other across nodes, and a TCP stream crosses intact (4 MiB over HTTP)', async () => {
    const m = await check(name);
    expect(m.pods).toHaveLength(2);
    expect(m.reached, JSON.stringify(m)).toBe(m.total);
    const [a, b] = state.layout.nodes;
    expect(await containerFetch(hostOf(state.dir, a!, state.containers!), a!.pods[0]!.container!, b!.pods[0]!.ip)).toBe(state.containers!.blobMd5);
  });

  it('STATUS agrees with the node: no IPv4 subnet on either side', async () => {
    const n = state.layout.nodes[0]!;
    const conflist = JSON.parse(readFileSync(join(hostOf(state.dir, n, state.containers!).dir, 'net.d', `${NETWORK}.conflist`), 'utf8')) as { name: string; plugins: Array<Record<string, unknown>> };
    const r = await runPlugin({ plugin: join(state.containers!.cniBin, 'weft'), command: 'STATUS', runtimeNetns: n.ns }, requestConfig(conflist, '1.1.0'));
    expect(r).toMatchObject({ status: 0, stdout: '' });
  });

  it('podman rm releases the address', async () => {
    const n = state.layout.nodes[1]!;
    const h = hostOf(state.dir, n, state.containers!);
    await podmanOk(h, ['rm', '-f', n.pods[0]!.container!]);
    expect(reserved(state, n.index)).toEqual([]);
    n.pods = [];
    saveState(state);
  });
});
