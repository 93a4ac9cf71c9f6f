/**
 * A node that runs only the Linux kernel's vxlan device, set up as Flannel
 * sets up flannel.1 (or flannel-v6.1 on an IPv6 underlay): VNI 1, port 8472,
 * nolearning, and toward one peer a static neighbour entry (its VTEP IP ->
 * its VTEP MAC), an FDB entry (its VTEP MAC -> its underlay IP) and a route
 * for its pod subnet via its VTEP, onlink.
 */
import type { NetnsSandbox } from './netns.ts';
import { startWeft, twoNodes } from './cluster.ts';
import type { OverlayNode, TwoNodes, WeftProcess } from './cluster.ts';

export const KERNEL_MAC = '0e:6b:00:00:00:02';

export interface KernelVtepOptions {
  /** The device's name; Flannel's flannel.1 by default. */
  dev?: string;
  /** Its MAC; KERNEL_MAC by default. */
  mac?: string;
  /** The overlay MTU: the underlay's less 50 over IPv4, 70 over IPv6. */
  mtu?: number;
  /**
   * With a static neighbour entry for the peer's VTEP (Flannel's way), or
   * without, so that the kernel asks through the tunnel (ARP, or neighbour
   * discovery for an IPv6 VTEP): its broadcasts go to the all-zeros FDB
   * entry, i.e. to the peer.
   */
  staticNeighbour?: boolean;
  /** More `ip link add ... type vxlan` options, e.g. remote checksum offload: ['udpcsum', 'remcsumtx', 'remcsumrx']. */
  vxlanOptions?: readonly string[];
}

export async function kernelVtep(sb: NetnsSandbox, self: OverlayNode, peer: OverlayNode, peerMac: string, o: KernelVtepOptions = {}): Promise<string> {
  const ns = self.ns;
  const dev = o.dev ?? 'flannel.1';
  await sb.run(ns, ['ip', 'link', 'add', dev, 'type', 'vxlan', 'id', '1', 'local', self.underlayIp, 'dev', 'ul0', 'dstport', '8472', 'nolearning', ...(o.vxlanOptions ?? [])]);
  await sb.run(ns, ['ip', 'link', 'set', dev, 'address', o.mac ?? KERNEL_MAC, 'mtu', String(o.mtu ?? 1450), 'up']);
  await sb.run(ns, ['ip', 'addr', 'add', `${self.vtepIp}/32`, 'dev', dev]);
  if (o.staticNeighbour ?? true) {
    await sb.run(ns, ['ip', 'neigh', 'replace', peer.vtepIp, 'lladdr', peerMac, 'dev', dev, 'nud', 'permanent']);
  } else {
    await sb.run(ns, ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', dev, 'dst', peer.underlayIp]);
  }
  await sb.run(ns, ['bridge', 'fdb', 'append', peerMac, 'dev', dev, 'dst', peer.underlayIp]);
  await sb.run(ns, ['ip', 'route', 'add', peer.subnet, 'via', peer.vtepIp, 'dev', dev, 'onlink']);
  if (self.vtepIp6 !== undefined && peer.vtepIp6 !== undefined && peer.subnet6 !== undefined) {
    // Dual-stack: the same facts for IPv6 (without a static entry the kernel asks by neighbour discovery).
    await sb.run(ns, ['ip', 'addr', 'add', `${self.vtepIp6}/128`, 'dev', dev, 'nodad']);
    if (o.staticNeighbour ?? true) await sb.run(ns, ['ip', 'neigh', 'replace', peer.vtepIp6, 'lladdr', peerMac, 'dev', dev, 'nud', 'permanent']);
    await sb.run(ns, ['ip', 'route', 'add', peer.subnet6, 'via', peer.vtepIp6, 'dev', dev, 'onlink']);
    // The kernel sends a neighbour solicitation only from a link-local address
    // that has passed duplicate address detection: until the device's has, it
    // asks nobody and the first packets are lost. A device that has been up a
    // while is past that; wait for it here (a condition, bounded) as for one.
    for (let i = 0; i < 100 && (await sb.run(ns, ['ip', '-6', 'addr', 'show', 'dev', dev, 'tentative'])).trim() !== ''; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return dev;
}

/**
 * Two nodes on an IPv4 underlay: node-a runs weft with node-b as its peer,
 * node-b only the kernel's vxlan device toward it (kernelVtep).
 *
 * `rco`: both sides use remote checksum offload (the kernel with `udpcsum
 * remcsumtx remcsumrx`, weft told the peer finishes checksums). Without it,
 * node-b's veth gets its tx checksum offload turned off. A veth is not a wire:
 * with the offload on, the kernel's vxlan hands it inner TCP segments whose
 * checksum is only a partial sum, which a NIC would finish on the way out; a
 * UDP socket (weft) receives them as they are, and the kernel drops them when
 * weft writes them to its TUN device. Off, the veth behaves like a NIC that
 * finished the sum. With RCO the partial sum is announced in the header, so
 * the offload stays on.
 */
export async function weftAndKernel(sb: NetnsSandbox, o: { rco?: boolean } = {}): Promise<{ nodes: TwoNodes; weft: WeftProcess; weftMac: string }> {
  const nodes = await twoNodes(sb);
  const { a, b } = nodes;
  const rco = o.rco ?? false;
  const weft = await startWeft(sb, a, [{ name: b.name, endpoint: `${b.underlayIp}:8472`, subnet: b.subnet, vtepMac: KERNEL_MAC, ...(rco ? { finishesChecksums: true } : {}) }]);
  const weftMac = String(weft.ready.vtepMac);
  await kernelVtep(sb, b, a, weftMac, rco ? { vxlanOptions: ['udpcsum', 'remcsumtx', 'remcsumrx'] } : {});
  if (!rco) await sb.run(b.ns, ['ethtool', '-K', 'ul0', 'tx', 'off']);
  return { nodes, weft, weftMac };
}
