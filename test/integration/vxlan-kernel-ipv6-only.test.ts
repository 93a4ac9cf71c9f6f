/**
 * An IPv6-only weft node against the Linux kernel's vxlan device: weft's
 * clusterCidr is fd00:10:244::/56 alone, so its VTEP is its IPv6 subnet's
 * network address and nothing IPv4 (no /32 on its device, 0.0.0.0 in its
 * identity). The kernel side, set up as Flannel sets up flannel-v6.1 but
 * without static neighbour entries, finds weft's VTEP by neighbour discovery
 * through the tunnel, and the IPv6 pods ping each other both ways, full-size
 * included, over an IPv6 underlay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { endpointOf, ping, startWeft, twoNodes } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { KERNEL_MAC, kernelVtep } from '../helpers/kernel-vxlan.ts';

const root = requireRoot();
/** A 1500-byte underlay less VXLAN's 70 bytes over IPv6. */
const MTU = 1430;

describe.skipIf(!root)('an IPv6-only weft node <-> Linux kernel vxlan over IPv6', () => {
  const sb = new NetnsSandbox();
  let nodes: TwoNodes;
  let weft: WeftProcess;

  beforeAll(async () => {
    // Dual-stack pods from the helper; weft routes only their IPv6 side.
    nodes = await twoNodes(sb, MTU, 6, true);
    const { a, b } = nodes;
    weft = await startWeft(sb, a, [{ name: b.name, endpoint: endpointOf(b, 8472), subnet: b.subnet6!, vtepMac: KERNEL_MAC }], {
      clusterCidr: 'fd00:10:244::/56',
      subnet: a.subnet6,
    });
    await kernelVtep(sb, b, a, String(weft.ready.vtepMac), { dev: 'flannel-v6.1', mtu: MTU, staticNeighbour: false });
  });

  afterAll(async () => {
    await sb.destroy();
  });

  it('holds no IPv4 VTEP: its device has the IPv6 subnet\'s network address alone', async () => {
    expect(weft.ready.vtepIp).toBe('0.0.0.0');
    expect(weft.ready.subnet).toBe(undefined);
    expect(weft.ready.subnet6).toBe(nodes.a.subnet6);
    const dev = String(weft.ready.tun);
    expect(await sb.run(nodes.a.ns, ['ip', '-4', 'addr', 'show', 'dev', dev])).toBe('');
    expect(await sb.run(nodes.a.ns, ['ip', '-6', '-o', 'addr', 'show', 'dev', dev, 'scope', 'global'])).toContain(`inet6 ${nodes.a.vtepIp6}/128`);
  });

  it('the kernel resolves weft\'s VTEP by neighbour discovery, and the IPv6 pods ping both ways, full-size included', async () => {
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp6!)).toBe(3);
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp6!)).toBe(3);
    // 1430 less the IPv6 (40) and ICMPv6 (8) headers.
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp6!, 3, MTU - 48)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp6!, 3, MTU - 48)).toBe(3);
    const neigh = await sb.run(nodes.b.ns, ['ip', '-6', 'neigh', 'show', nodes.a.vtepIp6!, 'dev', 'flannel-v6.1']);
    expect(neigh).toContain(`lladdr ${String(weft.ready.vtepMac)}`);
    expect(neigh).not.toContain('PERMANENT');
  });

  it('stops cleanly', async () => {
    expect(await weft.stop()).toBe(0);
  });
});
