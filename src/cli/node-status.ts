/**
 * The running node's status: one typed snapshot, built in one place
 * (nodeStatus), that `weft status` (text and --json), the SIGUSR1 log line
 * and every metrics scrape read. Each part owns its section and its type:
 *
 *   node, kind, drops,   the data plane (BuiltDataplane.status(): identity,
 *   arpReplies,          drops, VXLAN's ARP replies, WireGuard's handshake
 *   handshakes           events; one section per backend, told apart by `kind`)
 *   peers                the peer table's peers (PeerStatus)
 *   router               the router (RouterStats); its too-big count joins drops
 *   tunStats, offload    the TUN device (TunStats, OffloadStats when offloading)
 *   transport            the main socket (TransportStats, and batch status when it batches)
 *   ring                 the packet ring (RingStatus)
 *   kernelDrops          the kernel's receive drops for weft's sockets
 *   peerRoutes           PeerRoutes: the kernel routes for peer subnets
 *   gossip               GossipControl (GossipStatus), when gossip runs
 *
 * The JSON the control socket returns is this object as it stands.
 */
import type { RingStatus } from '../buf/packet-ring.ts';
import { encodeKey } from '../crypto/keys.ts';
import type { EncapsulationKind, PeerStatus } from '../dataplane/peer.ts';
import type { GossipStatus } from '../node/gossip-control.ts';
import type { RouterStats } from '../node/router.ts';
import type { TransportBatchStatus, TransportStats } from '../transport/transport.ts';
import type { WaitCounts, WaitHistogram } from '../transport/wait-histogram.ts';
import type { TunStats } from '../tun/tun-device.ts';
import type { OffloadStats } from '../tun/tun-offload.ts';
import { endpointText, formatCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import type { HandshakeStats } from '../wireguard/wg-state.ts';
import type { BackendStatus, Counts, Drops, MixedIdentity, VxlanIdentity, WireguardIdentity } from './dataplane-factory.ts';
import type { NodeConfig } from './config.ts';

export type { BackendStatus, Counts, Drops } from './dataplane-factory.ts';

export interface StatusPeer {
  name: string;
  /** The encapsulation that carries this peer's traffic. */
  backend: EncapsulationKind;
  endpoint: string | null;
  subnets: string[];
  txBytes: number;
  rxBytes: number;
  txPackets: number;
  rxPackets: number;
  publicKey?: string;
  /** Wall-clock ms of the last handshake; 0 for never (WireGuard only). */
  lastHandshakeWallMs?: number;
  persistentKeepalive?: number;
}

/** The node itself, common to every backend; each backend's identity is added to it. */
export interface NodeInfo {
  name: string;
  backend: NodeConfig['backend'];
  /** The node's IPv4 subnet; absent in an IPv6-only pod network. */
  subnet?: string;
  /** A dual-stack or IPv6-only node's IPv6 subnet. */
  subnet6?: string;
  location: string;
  /** The IPv4 cluster CIDR; absent in an IPv6-only pod network. */
  clusterCidr?: string;
  /** The IPv6 cluster CIDR of a dual-stack or IPv6-only cluster. */
  clusterCidr6?: string;
  tun: string;
  mtu: number;
  /** TUN offloads: not asked for, in use, or asked for and refused. */
  offload: 'off' | 'on' | 'refused by the kernel';
  /** The data path thread's scheduling: "SCHED_RR 10", or "normal", with why a priority asked for was refused. */
  scheduling: string;
  /** A node with WireGuard peers: what seals its transport data ("ChaCha20-Poly1305 by OpenSSL 3.0.19"). */
  aead?: string;
  /** Where peers reach this node: its (first configured) underlay address and data port. */
  underlay: string;
  /** A dual underlay's other endpoint, of the other family. */
  underlaySecond?: string;
  startedAt: string;
}

/** The node's subnets and cluster CIDRs as status and the ready line name them: each family it has. */
export function networkFields(net: { subnet: Cidr | undefined; subnet6: Cidr | undefined; clusterCidr: Cidr | undefined; clusterCidr6: Cidr | undefined }): Pick<NodeStatus['node'], 'subnet' | 'subnet6' | 'clusterCidr' | 'clusterCidr6'> {
  return {
    ...(net.subnet !== undefined ? { subnet: formatCidr(net.subnet) } : {}),
    ...(net.subnet6 !== undefined ? { subnet6: formatCidr(net.subnet6) } : {}),
    ...(net.clusterCidr !== undefined ? { clusterCidr: formatCidr(net.clusterCidr) } : {}),
    ...(net.clusterCidr6 !== undefined ? { clusterCidr6: formatCidr(net.clusterCidr6) } : {}),
  };
}

/** Datagrams the kernel dropped for weft's sockets before weft read them, by socket. */
export type KernelDrops = { data: number; gossip?: number };

/** The main socket's counters, with the batch fields when it batches. */
export type TransportStatus = TransportStats & Partial<TransportBatchStatus>;

/** The sections every node has, whatever its backend. */
export interface CommonStatus {
  peers: StatusPeer[];
  /** The data plane's and encapsulations' drops and the router's too_big, by reason. */
  drops: Drops;
  kernelDrops: KernelDrops;
  router: RouterStats;
  tunStats: TunStats;
  offload?: OffloadStats;
  transport: TransportStatus;
  /** How long received messages waited in the data socket's queue (a transport with arrival stamps). */
  receiveWait?: WaitCounts;
  ring: RingStatus;
  peerRoutes: string[];
  gossip?: GossipStatus;
}

export interface VxlanNodeStatus extends CommonStatus {
  kind: 'vxlan';
  node: NodeInfo & VxlanIdentity;
  arpReplies: number;
}

export interface WireguardNodeStatus extends CommonStatus {
  kind: 'wireguard';
  node: NodeInfo & WireguardIdentity;
  handshakes: Counts<HandshakeStats>;
}

export interface MixedNodeStatus extends CommonStatus {
  kind: 'mixed';
  node: NodeInfo & MixedIdentity;
  arpReplies: number;
  handshakes: Counts<HandshakeStats>;
}

/** The whole snapshot: the common sections and the backend's, by `kind`. */
export type NodeStatus = VxlanNodeStatus | WireguardNodeStatus | MixedNodeStatus;

/** What nodeStatus reads: each part's own status, taken now. */
export interface StatusParts {
  node: NodeInfo;
  backend: BackendStatus;
  peers: readonly PeerStatus[];
  router: RouterStats;
  tun: TunStats;
  offload: OffloadStats | null;
  transport: { readonly stats: TransportStats; readonly batch?: TransportBatchStatus; readonly receiveWaits?: WaitHistogram };
  ring: RingStatus;
  kernelDrops: KernelDrops;
  peerRoutes: string[];
  gossip: GossipStatus | undefined;
}

/** One peer as status shows it; WireGuard peers carry their key, handshake time and keepalive. */
export function statusPeer(p: PeerStatus): StatusPeer {
  const out: StatusPeer = {
    name: p.name,
    backend: p.backend,
    endpoint: p.endpoint ? endpointText(p.endpoint.address, p.endpoint.port) : null,
    subnets: p.subnets.map(formatCidr),
    ...p.traffic,
  };
  if (p.publicKey !== undefined) out.publicKey = encodeKey(p.publicKey);
  if (p.lastHandshakeWallMs !== undefined) out.lastHandshakeWallMs = p.lastHandshakeWallMs;
  if (p.persistentKeepalive !== undefined) out.persistentKeepalive = p.persistentKeepalive;
  return out;
}

/** The snapshot, copied out of the parts' live counters. */
export function nodeStatus(parts: StatusParts): NodeStatus {
  const b = parts.backend;
  const common: CommonStatus = {
    peers: parts.peers.map(statusPeer),
    // Packets too big for the underlay are the router's to count; they belong with the drops.
    drops: { ...b.drops, too_big: parts.router.tooBig },
    kernelDrops: { ...parts.kernelDrops },
    router: { ...parts.router },
    tunStats: { ...parts.tun },
    ...(parts.offload ? { offload: parts.offload } : {}),
    transport: { ...parts.transport.stats, ...parts.transport.batch },
    ...(parts.transport.receiveWaits ? { receiveWait: parts.transport.receiveWaits.snapshot() } : {}),
    ring: { ...parts.ring },
    peerRoutes: [...parts.peerRoutes],
    ...(parts.gossip ? { gossip: parts.gossip } : {}),
  };
  switch (b.kind) {
    case 'vxlan':
      return { kind: b.kind, node: { ...parts.node, ...b.node }, ...common, arpReplies: b.arpReplies };
    case 'wireguard':
      return { kind: b.kind, node: { ...parts.node, ...b.node }, ...common, handshakes: { ...b.handshakes } };
    case 'mixed':
      return { kind: b.kind, node: { ...parts.node, ...b.node }, ...common, arpReplies: b.arpReplies, handshakes: { ...b.handshakes } };
  }
}
