/**
 * Remote checksum offload (RCO) between weft and the Linux kernel's vxlan
 * device (`udpcsum remcsumtx remcsumrx`): weft leaves each TCP segment's
 * checksum partial and says so in the VXLAN header, the kernel finishes it;
 * the kernel does the same toward weft, which hands the segment on partial to
 * its TUN device. If either side misread the other's RCO bits, the pods'
 * TCP would see bad checksums and the transfers below would stall.
 *
 * Unlike vxlan-kernel.test.ts, node-b's veth keeps its tx checksum offload:
 * with RCO the partial inner checksum that offload leaves is announced in
 * the header, so weft needs no "finished by a NIC" stand-in.
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
import { weftAndKernel } from '../helpers/kernel-vxlan.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;

/** The TCP pseudo-header sum (RFC 9293 §3.1) of an IPv4 packet, folded, not complemented: what a partial checksum field holds. */
function pseudoSumV4(ip: Uint8Array): number {
  const ihl = (ip[0]! & 0x0f) * 4;
  const tcpLen = ((ip[2]! << 8) | ip[3]!) - ihl;
  let s = 6 + tcpLen;
  for (let i = 12; i < 20; i += 2) s += (ip[i]! << 8) | ip[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

describe.skipIf(!root)('VXLAN: weft <-> Linux kernel vxlan with remote checksum offload', () => {
  const sb = new NetnsSandbox();
  let nodes: TwoNodes;
  let weft: WeftProcess;
  const dir = mkdtempSync(join(tmpdir(), 'weft-vxlan-rco-'));

  beforeAll(async () => {
    ({ nodes, weft } = await weftAndKernel(sb, { rco: true }));
  });

  afterAll(async () => {
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pods ping each other in both directions', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
  });

  it('moves 20 MB over TCP from the weft pod to the kernel pod, byte for byte', () => expectTcpIntact(sb, nodes.a, nodes.b, MB20));

  it('moves 20 MB over TCP from the kernel pod to the weft pod, byte for byte', () => expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5202));

  it('sends TCP segments with the RCO bits and the pseudo-header sum in the inner checksum', async () => {
    const file = join(dir, 'rco.pcap');
    // Full-sized frames from weft: TCP data segments of the transfer below.
    const { frames } = await captureDuring(sb, nodes.b.ns, file, 20, 'udp and src host 10.99.0.1 and dst port 8472 and greater 1000', () =>
      expectTcpIntact(sb, nodes.a, nodes.b, 4 * 1024 * 1024, 5203),
    );
    expect(frames.length).toBe(20);
    for (const { data } of frames) {
      const vx = data.subarray(14 + 20 + 8);
      const inner = vx.subarray(8 + 14);
      expect(inner[9]).toBe(6); // TCP
      const ihl = (inner[0]! & 0x0f) * 4;
      // I flag and R (RCO) flag; VNI 1; checksum start (14 + ihl) / 2, TCP field (high bit clear).
      expect(Array.from(vx.subarray(0, 8))).toEqual([0x08, 0x20, 0, 0, 0, 0, 1, (14 + ihl) / 2]);
      const field = (inner[ihl + 16]! << 8) | inner[ihl + 17]!;
      expect(field).toBe(pseudoSumV4(inner));
    }
  });

  it('stops cleanly', async () => {
    expect(await weft.stop()).toBe(0);
  });
});
