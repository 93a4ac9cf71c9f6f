/**
 * The parts `weft up` assembles a node from, each made by one function that
 * reads what it needs from the configuration and registers how it is undone:
 * the packet ring (sized from the underlay and from what the other parts
 * stage in it), one UDP socket per encapsulation, gossip, and the TUN
 * device with its link. `up` only puts them in order (up.ts).
 */
import { writeFileSync } from 'node:fs';
import { DEFAULT_TAILROOM, MIN_HEADROOM, PacketRing, capacityFor } from '../buf/packet-ring.ts';
import { publicKey } from '../crypto/x25519.ts';
import { GossipControl } from '../node/gossip-control.ts';
import { BatchUdpTransport } from '../transport/batch-udp-transport.ts';
import { DgramTransport } from '../transport/dgram-transport.ts';
import type { Transport } from '../transport/transport.ts';
import { GRO_STAGING_BYTES } from '../transport/udp-gro-stage.ts';
import { Link } from '../tun/link.ts';
import { openTun } from '../tun/native-tun.ts';
import type { NativeTun } from '../tun/native-tun.ts';
import { TUN_STAGING_BYTES } from '../tun/tun-offload.ts';
import { endpointText, formatCidr, formatIpv4, formatIpv6 } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import type { NodeConfig, ResolvedConfig } from './config.ts';
import { clusterCidrsOf } from './config-network.ts';
import { dataPort, encapsulationsOf, vtepIpOf } from './dataplane-factory.ts';
import type { Logger } from './log.ts';

/** The packet ring's slots stay within this: the default 8,192 of 1.7 KiB take 14 MiB; 9.1 KiB slots (a 9000-byte underlay) get about 7,000, 64 KiB slots 1,000. */
const RING_MAX_BYTES = 64 * 1024 * 1024;

/**
 * What was made so far, each with how to undo it. A node stopping, or a
 * start that fails half-way, unwinds it backwards, so nothing is left behind.
 */
export class Undo {
  private readonly steps: Array<[string, () => void | Promise<void>]> = [];

  constructor(private readonly log: Logger) {}

  push(what: string, fn: () => void | Promise<void>): void {
    this.steps.push([what, fn]);
  }

  /** Undo everything, newest first; a step that fails is logged and the rest still run. */
  async unwind(): Promise<void> {
    for (const [what, fn] of this.steps.reverse()) {
      try {
        await fn();
      } catch (err) {
        this.log.warn(`cleanup step failed: ${what}`, { error: (err as Error).message });
      }
    }
    this.steps.length = 0;
  }
}

/**
 * The ring: slots hold whatever the underlay carries (jumbo frames
 * included), within RING_MAX_BYTES, so larger slots mean fewer of them. Its
 * staging areas hold the TUN device's super-packets and each socket's GRO
 * runs, so their copies into slots are memmoves.
 */
export function makeRing(config: NodeConfig, underlayMtu: number, log: Logger): PacketRing {
  const sockets = encapsulationsOf(config).length;
  const staging = (config.tun.offload ? TUN_STAGING_BYTES : 0) + (config.transport.gro ? sockets * GRO_STAGING_BYTES : 0);
  const capacity = capacityFor(underlayMtu);
  const slots = Math.min(config.ring.slots, Math.floor(RING_MAX_BYTES / (MIN_HEADROOM + capacity + DEFAULT_TAILROOM)));
  if (slots < config.ring.slots) log.info('ring slots reduced for the underlay MTU', { slots, configured: config.ring.slots, slotCapacity: capacity });
  return new PacketRing({ slots, capacity, staging });
}

/** One UDP socket per encapsulation, in encapsulationsOf's order. `step` runs after each (start-up may be aborted). */
export async function openSockets(config: NodeConfig, ring: PacketRing, undo: Undo, step: () => void): Promise<Transport[]> {
  const transports: Transport[] = [];
  for (const socket of encapsulationsOf(config)) {
    const options = { ring, bindAddress: config.underlay.address, port: socket.port };
    const t = config.transport.type === 'batch'
      ? await BatchUdpTransport.open({ ...options, gso: config.transport.gso, gro: config.transport.gro })
      : await DgramTransport.open(options);
    transports.push(t);
    undo.push(`close the ${socket.kind} UDP socket`, () => t.close());
    step();
  }
  return transports;
}

/** Where this node is on the underlay, for the ready line: each configured address with the socket's port. */
export function underlayText(config: NodeConfig, port: number): string {
  return config.underlay.addresses.map((a) => endpointText(a, port)).join(', ');
}

/** The same for status: the first configured endpoint, and a dual underlay's other one. */
export function underlayStatus(config: NodeConfig, port: number): { underlay: string; underlaySecond?: string } {
  const [first, second] = config.underlay.addresses.map((a) => endpointText(a, port));
  return { underlay: first!, ...(second !== undefined ? { underlaySecond: second } : {}) };
}

/** Join the gossip cluster, when configured: the subnet may be unknown until its map has arrived. */
export async function joinGossip(config: NodeConfig, undo: Undo): Promise<GossipControl | undefined> {
  if (config.gossip === undefined) return undefined;
  const gossip = await GossipControl.start({
    name: config.name,
    address: config.underlay.address,
    // One per family on a dual underlay: both announced, each peer reaches one it has.
    addresses: config.underlay.addresses,
    port: config.gossip.port,
    seeds: config.gossip.seeds,
    keys: config.gossip.keys,
    stateDir: config.stateDir,
    dataPort: dataPort(config),
    location: config.location,
    vtepMac: config.vxlan.vtepMac,
    wgPublicKey: config.wireguard ? publicKey(config.wireguard.privateKey) : null,
    // With TUN offloads every TCP checksum we receive is handed on partial or verified: peers may leave theirs partial.
    finishesChecksums: config.tun.offload,
    cluster: config.clusterCidr,
    configuredSubnet: config.subnet,
    // A dual-stack node claims an IPv6 /64 beside its IPv4 subnet.
    cluster6: config.clusterCidr6,
    configuredSubnet6: config.subnet6,
  });
  undo.push('leave the gossip cluster', () => gossip.stop());
  return gossip;
}

/**
 * The TUN device and its link: the MTU the preflight checked, the node's own
 * overlay address in each family (its subnet's network address, Flannel's
 * VTEP convention), each cluster CIDR routed in, and forwarding on so pod
 * traffic passes between the device and the pods. Received TCP segments are
 * merged for the kernel only after a checksum check unless `verifyChecksums`
 * is false (every encapsulation authenticated every byte already).
 */
export async function openDevice(config: ResolvedConfig, ring: PacketRing, mtu: number, verifyChecksums: boolean, undo: Undo, log: Logger): Promise<{ tun: NativeTun; link: Link }> {
  const tun = openTun({ name: config.tun.name, ...(config.tun.offload ? { offload: { ring, verifyChecksums, leavePartial: true } } : {}) });
  undo.push('close TUN device', () => tun.close());
  const link = new Link(tun.name);
  undo.push('remove addresses and routes', () => link.close());
  await link.setMtu(mtu);
  for (const address of vtepAddresses(config)) await link.addAddress(address);
  await link.setUp();
  for (const cluster of clusterCidrsOf(config)) await link.addRoute(formatCidr(cluster));
  enableForwarding(config.subnet !== undefined, config.subnet6 !== undefined, log);
  return { tun, link };
}

/** The device's own addresses for a configuration: each subnet's network address (the VTEP), one per family it has. */
function vtepAddresses(config: ResolvedConfig): string[] {
  return [
    ...(config.subnet !== undefined ? [`${formatIpv4(vtepIpOf(config))}/32`] : []),
    ...(config.subnet6 !== undefined ? [`${formatIpv6(config.subnet6.addr)}/128`] : []),
  ];
}

/** Swap the device's VTEP addresses from `before`'s subnets to `after`'s (a subnet moved while running). */
export async function moveVtepAddress(link: Link, before: ResolvedConfig, after: ResolvedConfig): Promise<void> {
  const next = vtepAddresses(after);
  const gone = vtepAddresses(before).filter((a) => !next.includes(a));
  for (const a of next) if (!vtepAddresses(before).includes(a)) await link.addAddress(a);
  for (const a of gone) await link.removeAddress(a);
}

/** The pod network's CIDRs: IPv4's and IPv6's, as the cluster has them (config-network.ts). */
export { clusterCidrsOf };

/** Forwarding must be on, per family, for pod traffic to pass between the TUN device and the pods. */
function enableForwarding(ipv4: boolean, ipv6: boolean, log: Logger): void {
  const knobs: string[][] = [];
  if (ipv4) knobs.push(['/proc/sys/net/ipv4/ip_forward', 'net.ipv4.ip_forward']);
  if (ipv6) knobs.push(['/proc/sys/net/ipv6/conf/all/forwarding', 'net.ipv6.conf.all.forwarding']);
  for (const [path, name] of knobs) {
    try {
      writeFileSync(path!, '1\n');
    } catch (err) {
      log.warn(`could not enable forwarding; set ${name}=1 yourself`, { error: (err as Error).message });
    }
  }
}
