/**
 * IPv6-only pod networks: clusterCidr fd00:10:244::/56 alone. Two nodes
 * claim an IPv6 /64 each by gossip (or are configured one), pods have an
 * IPv6 address and nothing else, and ping each other over VXLAN and over
 * WireGuard, on an IPv4 and on an IPv6 underlay. Each node's device holds
 * only its /64's network address and the IPv6 cluster route, subnet.env
 * carries Flannel's IPv6 pair alone, status names no IPv4 subnet, and peers
 * carry only their IPv6 subnet (WireGuard's allowed IPs). Through the
 * cluster script, as a user would.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/netns.ts';
import { ROOT } from '../helpers/cluster.ts';

const root = requireRoot();
const cli = join(ROOT, 'dist/scripts/cluster/main.js');
const exec = promisify(execFile);
const run = (args: string[]) => exec(process.execPath, [cli, ...args], { timeout: 90_000, encoding: 'utf8' });
const names: string[] = [];

interface Status {
  node: { subnet?: string; subnet6?: string; clusterCidr?: string; clusterCidr6?: string };
  peers: Array<{ name: string; subnets: string[] }>;
}

afterAll(async () => {
  for (const name of names) await run(['down', '--name', name]).catch(() => {});
});

const cases = [
  { backend: 'vxlan', underlay: [], gossip: true, label: 'VXLAN, gossip, IPv4 underlay' },
  { backend: 'wireguard', underlay: ['--ipv6-underlay'], gossip: true, label: 'WireGuard, gossip, IPv6 underlay' },
  { backend: 'vxlan', underlay: ['--ipv6-underlay'], gossip: false, label: 'VXLAN, configured subnets, IPv6 underlay' },
  { backend: 'wireguard', underlay: [], gossip: false, label: 'WireGuard, configured subnets, IPv4 underlay' },
] as const;

describe.skipIf(!root)('IPv6-only pods', () => {
  for (const [k, c] of cases.entries()) {
    it(`${c.label}: pods ping each other over IPv6; nothing IPv4 is set up`, async () => {
      const name = `v6o${process.pid % 10000}${k}`;
      names.push(name);
      await run(['up', '2', '--pods', '1', '--backend', c.backend, '--ipv6-only', ...c.underlay, ...(c.gossip ? ['--gossip'] : []), '--name', name]);
      const dir = `/run/weft-cluster/${name}`;
      const statusOf = async (i: number) => JSON.parse((await exec(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'status', '--json', '--socket', `${dir}/node-${i}.sock`], { encoding: 'utf8' })).stdout) as Status;
      const one = await statusOf(1);
      expect(one.node.subnet).toBe(undefined);
      expect(one.node.clusterCidr).toBe(undefined);
      expect(one.node.clusterCidr6).toBe('fd00:10:244::/56');
      expect(one.node.subnet6).toMatch(/^fd00:10:244:[0-9a-f]+::\/64$/u);
      // The peer's one subnet is its IPv6 /64: the route and WireGuard's allowed IPs.
      for (let i = 0; i < 50 && one.peers.length === 0; i++) Object.assign(one, await statusOf(1));
      const two = await statusOf(2);
      expect(one.peers.map((p) => [p.name, p.subnets])).toEqual([['node-2', [two.node.subnet6]]]);
      const env = readFileSync(`${dir}/node-1.subnet.env`, 'utf8');
      const gateway = one.node.subnet6!.replace('::/64', '::1/64');
      const mtu = (c.backend === 'vxlan' ? 1450 : 1440) - (c.underlay.length > 0 ? 20 : 0);
      expect(env).toBe(`FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=${gateway}\nFLANNEL_MTU=${mtu}\nFLANNEL_IPMASQ=false\n`);
      // The device: the /64's network address as its /128, the IPv6 cluster routed in, nothing IPv4.
      const dev = JSON.parse(readFileSync(`${dir}/state.json`, 'utf8')) as { layout: { nodes: Array<{ ns: string }> } };
      const ns = dev.layout.nodes[0]!.ns;
      const addrs = JSON.parse((await exec('ip', ['-n', ns, '-j', 'addr', 'show'], { encoding: 'utf8' })).stdout) as Array<{ ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number; scope: string }> }>;
      const tun = addrs.find((l) => l.ifname.startsWith('w'))!;
      expect(tun.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.family} ${a.local}/${a.prefixlen}`)).toEqual([`inet6 ${one.node.subnet6!.replace('/64', '')}/128`]);
      const routes4 = (await exec('ip', ['-n', ns, '-4', 'route', 'show', 'dev', tun.ifname], { encoding: 'utf8' })).stdout.trim();
      expect(routes4).toBe('');
      const routes6 = (await exec('ip', ['-n', ns, '-6', 'route', 'show', 'dev', tun.ifname], { encoding: 'utf8' })).stdout;
      expect(routes6).toMatch(/^fd00:10:244::\/56 /mu);

      const m = JSON.parse((await run(['check', '--json', '--name', name])).stdout) as { pods: string[]; reached: number; total: number };
      expect(m.pods).toEqual(['n1-p1', 'n2-p1']);
      expect([m.reached, m.total]).toEqual([2, 2]);
      await run(['down', '--name', name]);
      const { stdout: nets } = await exec('ip', ['netns', 'list'], { encoding: 'utf8' });
      expect(nets.split('\n').filter((l) => l.startsWith(`${name}-`))).toEqual([]);
    });
  }
});
