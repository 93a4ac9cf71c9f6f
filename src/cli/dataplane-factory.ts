/**
 * The data plane a node's configuration asks for: its encapsulations, each
 * on its own UDP socket, and the rule that picks one per peer (one for the
 * whole node, or under "mixed" VXLAN within this node's location and
 * WireGuard across). `encapsulationsOf` is the one list that the ring's
 * staging, the sockets `up` opens and the MTU's overhead are all read from.
 * With the data plane come its identity for the ready line, its status
 * section, and WireGuard's timer and UAPI socket (wg show / wg set).
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import { readU32BE } from '../bytes/endian.ts';
import { encodeKey } from '../crypto/keys.ts';
import { Dataplane } from '../dataplane/dataplane.ts';
import { encapsulationKinds } from '../dataplane/peer.ts';
import type { EncapsulationKind, PeerSpec } from '../dataplane/peer.ts';
import type { Transport } from '../transport/transport.ts';
import { VxlanEncapsulation } from '../vxlan/vxlan-encapsulation.ts';
import { formatIpv4, formatIpv6, formatMac } from '../wire/addr.ts';
import { uapiDevice } from '../wireguard/uapi-device.ts';
import { UAPI_DIR, UapiServer, uapiPath } from '../wireguard/uapi-server.ts';
import { WireguardEncapsulation } from '../wireguard/wireguard-encapsulation.ts';
import type { HandshakeStats } from '../wireguard/wg-state.ts';
import { uapiInUse } from './config-checks.ts';
import type { NodeConfig, ResolvedConfig } from './config.ts';
import type { Logger } from './log.ts';

/** How peers reach and recognise a VXLAN node: its VTEP. */
export interface VxlanIdentity {
  /** 0.0.0.0 on an IPv6-only node, which has no IPv4 VTEP. */
  vtepIp: string;
  /** A node with an IPv6 subnet: its network address, answered by neighbour discovery. */
  vtepIp6?: string;
  vtepMac: string;
  vni: number;
}

/** How peers reach and recognise a WireGuard node. */
export interface WireguardIdentity {
  publicKey: string;
  listenPort: number;
}

/** Mixed: both, and the location that decides which one a peer gets. */
export interface MixedIdentity extends VxlanIdentity, WireguardIdentity {
  location: string;
}

/** Drops by reason, reason -> count. */
export type Drops = Record<string, number>;

/** Counters with a number per field, readable as entries (a type literal, so Object.entries keeps the type). */
export type Counts<T> = { [K in keyof T]: number };

/** A VXLAN node's status section: its identity for the node section, its drops, the ARP requests it answered. */
export interface VxlanStatus {
  kind: 'vxlan';
  node: VxlanIdentity;
  drops: Drops;
  arpReplies: number;
}

/** A WireGuard node's: its identity, its drops, its handshake events. */
export interface WireguardStatus {
  kind: 'wireguard';
  node: WireguardIdentity;
  drops: Drops;
  handshakes: Counts<HandshakeStats>;
}

/** A mixed node's: both encapsulations' counters (their own drops prefixed with their kind). */
export interface MixedStatus {
  kind: 'mixed';
  node: MixedIdentity;
  drops: Drops;
  arpReplies: number;
  handshakes: Counts<HandshakeStats>;
}

/** The data plane's status section, told apart by the node's backend. */
export type BackendStatus = VxlanStatus | WireguardStatus | MixedStatus;

/** One encapsulation a node runs, and the UDP port its socket listens on. */
export interface SocketPlan {
  kind: EncapsulationKind;
  port: number;
}

/** The encapsulations a configuration runs, in order, each with its port; the first one's socket is the node's data port. */
export function encapsulationsOf(config: NodeConfig): SocketPlan[] {
  return encapsulationKinds(config.backend).map((kind) => ({ kind, port: kind === 'vxlan' ? config.vxlan.port : config.wireguard!.listenPort }));
}

/** The port gossip records announce: the first encapsulation's (VXLAN's under "mixed"). */
export function dataPort(config: NodeConfig): number {
  return encapsulationsOf(config)[0]!.port;
}

/** The IPv4 VTEP address: the IPv4 subnet's network address; 0.0.0.0 (none) in an IPv6-only pod network. */
export function vtepIpOf(config: ResolvedConfig): number {
  return config.subnet === undefined ? 0 : readU32BE(config.subnet.addr, 0);
}

export interface BuiltDataplane {
  dataplane: Dataplane;
  /** Fields for the ready line and status: how peers reach and recognise this node. */
  identity: VxlanIdentity | WireguardIdentity | MixedIdentity;
  /** The data plane's status section: its identity, drops and the encapsulations' own counters. */
  status(): BackendStatus;
  /**
   * A gossip peer as this node reaches it: a record announces one data port
   * (VXLAN's under "mixed"); peers in other locations are reached on the
   * WireGuard port, the same on every node.
   */
  gossipPeer(spec: PeerSpec): PeerSpec;
  /** The node's subnets moved (a conflict settled against it): VXLAN answers for the new VTEP addresses. */
  readdress(config: ResolvedConfig): void;
  /** Start timers and sockets that need the TUN device's final name; `peersChanged` runs after wg set. */
  start(tunName: string, peersChanged: () => void): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Build the data plane over sockets already open, one per entry of
 * encapsulationsOf(config), in that order. `mtu` is the TUN MTU: WireGuard
 * pads up to it and never past it.
 */
export function buildDataplane(config: ResolvedConfig, ring: PacketRing, transports: readonly Transport[], mtu: number, log: Logger): BuiltDataplane {
  const plan = encapsulationsOf(config);
  const transportFor = (kind: EncapsulationKind) => transports[plan.findIndex((p) => p.kind === kind)]!;
  const vtepIp = vtepIpOf(config);
  const vxlan =
    config.backend === 'wireguard'
      ? undefined
      : new VxlanEncapsulation({
          ring,
          transport: transportFor('vxlan'),
          vtepMac: config.vxlan.vtepMac,
          vtepIp,
          // A dual-stack node answers neighbour solicitations for its IPv6 subnet's network address.
          ...(config.subnet6 !== undefined ? { vtepIp6: config.subnet6.addr } : {}),
          vni: config.vxlan.vni,
          port: config.vxlan.port,
          sourceCheck: config.vxlan.sourceCheck,
        });
  const wg = config.wireguard;
  const wireguard =
    config.backend === 'vxlan' ? undefined : new WireguardEncapsulation({ ring, transport: transportFor('wireguard'), privateKey: wg!.privateKey, mtu, timeScale: wg!.timeScale });
  const encapsulations = [vxlan, wireguard].filter((e) => e !== undefined);
  const dataplane = new Dataplane({
    ring,
    encapsulations,
    ...(vxlan && wireguard ? { choose: Dataplane.byLocation(config.location, vxlan, wireguard) } : {}),
  });

  const vxlanIdentity: VxlanIdentity = {
    vtepIp: formatIpv4(vtepIp),
    ...(config.subnet6 !== undefined ? { vtepIp6: formatIpv6(config.subnet6.addr) } : {}),
    vtepMac: formatMac(config.vxlan.vtepMac, 0),
    vni: config.vxlan.vni,
  };
  const wireguardIdentity = (w: WireguardEncapsulation): WireguardIdentity => ({ publicKey: encodeKey(w.publicKey), listenPort: wg!.listenPort });
  const handshakes = (w: WireguardEncapsulation) => ({ ...w.state.handshakes });
  let identity: BuiltDataplane['identity'];
  /** The identities that carry the VTEP address (VXLAN's, and mixed's copy of it). */
  const namingVtep: VxlanIdentity[] = [vxlanIdentity];
  let status: () => BackendStatus;
  if (vxlan && wireguard) {
    const mixed: MixedIdentity = { location: config.location, ...vxlanIdentity, ...wireguardIdentity(wireguard) };
    namingVtep.push(mixed);
    identity = mixed;
    status = () => ({ kind: 'mixed', node: mixed, drops: dataplane.drops(), arpReplies: vxlan.arpReplies, handshakes: handshakes(wireguard) });
  } else if (wireguard) {
    const node = wireguardIdentity(wireguard);
    identity = node;
    status = () => ({ kind: 'wireguard', node, drops: dataplane.drops(), handshakes: handshakes(wireguard) });
  } else {
    identity = vxlanIdentity;
    status = () => ({ kind: 'vxlan', node: vxlanIdentity, drops: dataplane.drops(), arpReplies: vxlan!.arpReplies });
  }

  let uapi: UapiServer | undefined;
  return {
    dataplane,
    identity,
    status,
    readdress: (moved) => {
      vxlan?.readdress(vtepIpOf(moved), moved.subnet6?.addr);
      // The identity objects status and the ready line read name the VTEP too.
      for (const named of namingVtep) {
        named.vtepIp = formatIpv4(vtepIpOf(moved));
        if (moved.subnet6 !== undefined) named.vtepIp6 = formatIpv6(moved.subnet6.addr);
      }
    },
    gossipPeer: (spec) =>
      vxlan && wireguard && spec.location !== config.location && spec.endpoint
        ? { ...spec, endpoint: { address: spec.endpoint.address, port: wg!.listenPort } }
        : spec,
    start: async (tunName, peersChanged) => {
      if (wireguard === undefined) return;
      wireguard.start();
      const device = uapiDevice(dataplane, wireguard, () => wg!.listenPort, (message) => log.warn('wg set refused', { error: message }));
      uapi = await UapiServer.listen(
        tunName,
        {
          state: () => device.state(),
          apply: (change) => {
            const errno = device.apply(change);
            peersChanged();
            return errno;
          },
        },
        UAPI_DIR,
        uapiInUse(tunName, uapiPath(tunName)),
      );
    },
    stop: async () => {
      await uapi?.close();
      wireguard?.stop();
    },
  };
}
