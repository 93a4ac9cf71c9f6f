/**
 * weft against the Linux kernel's vxlan device, configured as Flannel
 * configures it (test/helpers/kernel-vxlan.ts). node-a runs weft; node-b
 * runs only the kernel. Pods ping each other and move 20 MB over TCP both
 * ways; a capture of weft's frames is checked against the RFC 7348 layout
 * byte for byte.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ping } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { expectTcpIntact } from '../helpers/overlay-checks.ts';
import { captureDuring } from '../helpers/pcap.ts';
import { KERNEL_MAC, kernelVtep, weftAndKernel } from '../helpers/kernel-vxlan.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;

function hexBytes(s: string): number[] {
  return s.split(/[:.]/u).map((x) => parseInt(x, s.includes('.') ? 10 : 16));
}

describe.skipIf(!root)('VXLAN: weft <-> Linux kernel vxlan (Flannel configuration)', () => {
  const sb = new NetnsSandbox();
  let nodes: TwoNodes;
  let weft: WeftProcess;
  let weftMac: string;
  const dir = mkdtempSync(join(tmpdir(), 'weft-vxlan-kernel-'));

  beforeAll(async () => {
    // Node-b's veth gets its tx checksum offload turned off (weftAndKernel says why).
    ({ nodes, weft, weftMac } = await weftAndKernel(sb));
  });

  afterAll(async () => {
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pods ping each other in both directions', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp, 3, 1422)).toBe(3);
  });

  it('moves 20 MB over TCP from the weft pod to the kernel pod, byte for byte', () => expectTcpIntact(sb, nodes.a, nodes.b, MB20));

  it('moves 20 MB over TCP from the kernel pod to the weft pod, byte for byte', () => expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5202));

  it('puts the exact RFC 7348 layout on the wire', async () => {
    const file = join(dir, 'weft.pcap');
    // Capture what weft (10.99.0.1) sends on node-b's underlay; -U writes each packet as it comes.
    const { linkType, frames } = await captureDuring(sb, nodes.b.ns, file, 3, 'udp and src host 10.99.0.1 and dst port 8472', async () =>
      expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 3, 100)).toBe(3),
    );
    expect(linkType).toBe(1); // Ethernet
    expect(frames.length).toBe(3);
    const ulMacA = hexBytes((await sb.run(nodes.a.ns, ['cat', '/sys/class/net/ul0/address'])).trim());
    const ulMacB = hexBytes((await sb.run(nodes.b.ns, ['cat', '/sys/class/net/ul0/address'])).trim());
    for (const { data, wireLength } of frames) {
      // Outer Ethernet + IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) + inner IPv4 (20) + ICMP (8 + 100).
      expect(wireLength).toBe(14 + 20 + 8 + 8 + 14 + 20 + 108);
      expect(Array.from(data.subarray(0, 14))).toEqual([...ulMacB, ...ulMacA, 0x08, 0x00]);
      const ip = data.subarray(14);
      expect(ip[0]).toBe(0x45);
      expect(ip[9]).toBe(17); // UDP
      expect(Array.from(ip.subarray(12, 20))).toEqual([10, 99, 0, 1, 10, 99, 0, 2]);
      const udp = ip.subarray(20);
      expect((udp[0]! << 8) | udp[1]!).toBe(8472); // weft sends from its VXLAN port
      expect((udp[2]! << 8) | udp[3]!).toBe(8472);
      expect((udp[4]! << 8) | udp[5]!).toBe(8 + 8 + 14 + 20 + 108);
      const vx = udp.subarray(8);
      expect(Array.from(vx.subarray(0, 8))).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]); // I flag, VNI 1, reserved zero
      expect(Array.from(vx.subarray(8, 22))).toEqual([...hexBytes(KERNEL_MAC), ...hexBytes(weftMac), 0x08, 0x00]);
      const inner = vx.subarray(22);
      expect(inner[0]).toBe(0x45);
      expect(Array.from(inner.subarray(12, 20))).toEqual([...hexBytes(nodes.a.podIp), ...hexBytes(nodes.b.podIp)]);
      expect(inner[20]).toBe(8); // ICMP echo request
    }
  });

  it('a kernel without a static neighbour entry resolves weft\'s VTEP by ARP through the tunnel', async () => {
    // Rebuild node-b's VTEP without the neighbour entry.
    await sb.run(nodes.b.ns, ['ip', 'link', 'del', 'flannel.1']);
    await kernelVtep(sb, nodes.b, nodes.a, weftMac, { staticNeighbour: false });
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    const neigh = await sb.run(nodes.b.ns, ['ip', 'neigh', 'show', nodes.a.vtepIp, 'dev', 'flannel.1']);
    expect(neigh).toContain(`lladdr ${weftMac}`);
    expect(neigh).not.toContain('PERMANENT');
  });

  it('stops cleanly', async () => {
    expect(await weft.stop()).toBe(0);
  });
});
