/**
 * weft against the Linux kernel's vxlan device over an IPv6 underlay, as
 * Flannel configures flannel-v6.1 (`local` an IPv6 address, the FDB's `dst`
 * the peer's): the outer headers are IPv6, so the overlay MTU is the
 * underlay's less 70. node-a runs weft, node-b only the kernel, both
 * dual-stack: pods ping each other on both families (full-size included) and
 * move 20 MB over TCP both ways on each, a capture checks that weft's
 * datagrams leave over IPv6 to port 8472, and a kernel without static
 * neighbour entries finds weft's VTEP by ARP and by neighbour discovery,
 * through the tunnel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { endpointOf, ping, startWeft, twoNodes } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { KERNEL_MAC, kernelVtep } from '../helpers/kernel-vxlan.ts';
import { expectTcpIntact } from '../helpers/overlay-checks.ts';
import { captureDuring } from '../helpers/pcap.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;
/** A 1500-byte underlay less VXLAN's 70 bytes over IPv6. */
const MTU = 1430;

describe.skipIf(!root)('VXLAN over an IPv6 underlay: weft <-> Linux kernel vxlan', () => {
  const sb = new NetnsSandbox();
  let nodes: TwoNodes;
  let weft: WeftProcess;
  const dir = mkdtempSync(join(tmpdir(), 'weft-vxlan-kernel6-'));

  beforeAll(async () => {
    nodes = await twoNodes(sb, MTU, 6, true);
    const { a, b } = nodes;
    weft = await startWeft(sb, a, [{ name: b.name, endpoint: endpointOf(b, 8472), subnet: `${b.subnet},${b.subnet6}`, vtepMac: KERNEL_MAC }], {
      clusterCidr: '10.244.0.0/16,fd00:10:244::/56',
      subnet: `${a.subnet},${a.subnet6}`,
    });
    await kernelVtep(sb, b, a, String(weft.ready.vtepMac), { dev: 'flannel-v6.1', mtu: MTU });
    // As on IPv4 (vxlan-kernel.test.ts): a veth does not finish the partial checksums the kernel leaves.
    await sb.run(b.ns, ['ethtool', '-K', 'ul0', 'tx', 'off']);
  });

  afterAll(async () => {
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('derives the TUN MTU from IPv6 outer headers', () => {
    expect(weft.ready.mtu).toBe(MTU);
  });

  it('pods ping each other in both directions, full-size packets included', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp, 3, MTU - 28)).toBe(3);
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 3, MTU - 28)).toBe(3);
  });

  it('moves 20 MB over TCP from the weft pod to the kernel pod, byte for byte', () => expectTcpIntact(sb, nodes.a, nodes.b, MB20));

  it('moves 20 MB over TCP from the kernel pod to the weft pod, byte for byte', () => expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5202));

  it('IPv6 pods ping each other in both directions, full-size packets included', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp6!)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp6!)).toBe(3);
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp6!, 3, MTU - 48)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp6!, 3, MTU - 48)).toBe(3);
  });

  it('moves 20 MB over TCP between the IPv6 pods both ways, byte for byte', async () => {
    await expectTcpIntact(sb, nodes.a, nodes.b, MB20, 5203, nodes.b.podIp6);
    await expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5204, nodes.a.podIp6);
  });

  it('sends its datagrams over IPv6 from and to port 8472', async () => {
    const file = join(dir, 'weft6.pcap');
    const { frames } = await captureDuring(sb, nodes.b.ns, file, 3, `ip6 and udp and src host ${nodes.a.underlayIp} and dst port 8472`, async () =>
      expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 3, 100)).toBe(3),
    );
    expect(frames.length).toBe(3);
    for (const { data, wireLength } of frames) {
      // Outer Ethernet + IPv6 (40) + UDP (8) + VXLAN (8) + inner Ethernet (14) + inner IPv4 (20) + ICMP (8 + 100).
      expect(wireLength).toBe(14 + 40 + 8 + 8 + 14 + 20 + 108);
      expect(Array.from(data.subarray(12, 14))).toEqual([0x86, 0xdd]);
      const ip = data.subarray(14);
      expect(ip[0]! >> 4).toBe(6);
      expect(ip[6]).toBe(17); // next header: UDP
      const udp = ip.subarray(40);
      expect((udp[0]! << 8) | udp[1]!).toBe(8472);
      expect((udp[2]! << 8) | udp[3]!).toBe(8472);
      expect(Array.from(udp.subarray(8, 16))).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]);
    }
  });

  it('a kernel without static neighbour entries resolves weft\'s VTEP by ARP and by neighbour discovery, through the IPv6 tunnel', async () => {
    await sb.run(nodes.b.ns, ['ip', 'link', 'del', 'flannel-v6.1']);
    await kernelVtep(sb, nodes.b, nodes.a, String(weft.ready.vtepMac), { dev: 'flannel-v6.1', mtu: MTU, staticNeighbour: false });
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp6!)).toBe(3);
    const neigh = await sb.run(nodes.b.ns, ['ip', '-6', 'neigh', 'show', nodes.a.vtepIp6!, 'dev', 'flannel-v6.1']);
    expect(neigh).toContain(`lladdr ${String(weft.ready.vtepMac)}`);
    expect(neigh).not.toContain('PERMANENT');
  });

  it('stops cleanly', async () => {
    expect(await weft.stop()).toBe(0);
  });
});
