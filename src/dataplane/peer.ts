/**
 * A remote node as the data plane sees it. A peer arrives as a `PeerSpec`
 * (from the config file, gossip or wg set: the data plane never knows
 * which), and lives as a `Peer`: the encapsulation that reaches it makes the
 * object, keeps its own protocol state on it (VXLAN its VTEP MAC, WireGuard
 * its keys and sessions), and sends toward it. The peer table holds the
 * object in its route table, so an outbound packet costs one lookup and one
 * call.
 */
import type { UdpEndpoint } from '../transport/transport.ts';
import type { Cidr } from '../wire/addr.ts';
import { newPeerTraffic } from './counters.ts';
import type { PeerTraffic } from './counters.ts';
import type { Encapsulation } from './encapsulation.ts';

/** The encapsulations weft speaks. */
export type EncapsulationKind = 'vxlan' | 'wireguard';

/** A node's backend: one encapsulation, or "mixed" (both, chosen per peer by location). */
export type BackendName = EncapsulationKind | 'mixed';

/** The encapsulations a backend runs, in order: "mixed" runs both, VXLAN's socket first. */
export function encapsulationKinds(backend: BackendName): EncapsulationKind[] {
  return backend === 'mixed' ? ['vxlan', 'wireguard'] : [backend];
}

/** A remote node as configured. Encapsulation-specific fields are optional. */
export interface PeerSpec {
  /** Stable node name; the key for update and remove. */
  readonly name: string;
  /**
   * Where its encapsulated traffic goes: the node's underlay address and UDP
   * port. VXLAN needs it; a WireGuard peer may have none until it connects.
   */
  readonly endpoint?: UdpEndpoint;
  /** The pod subnets it owns: outbound routes, and the inner sources accepted from it. */
  readonly subnets: readonly Cidr[];
  /** VXLAN: the MAC of its VTEP (the inner Ethernet destination). */
  readonly vtepMac?: Uint8Array;
  /** WireGuard: its static public key (32 bytes). */
  readonly publicKey?: Uint8Array;
  /** WireGuard: the optional preshared key shared with it (32 bytes). */
  readonly presharedKey?: Uint8Array;
  /** WireGuard: persistent keepalive interval in seconds; 0 or absent is off. */
  readonly persistentKeepalive?: number;
  /** The peer's location label (a cloud, a datacenter): under "mixed" it picks the encapsulation. */
  readonly location?: string;
  /** The encapsulation this peer must use whatever its location (wg set adds WireGuard peers). */
  readonly via?: EncapsulationKind;
  /**
   * It finishes TCP checksums we leave partial (src/offload/partial-checksum.ts):
   * a weft node whose record says so, or a Linux vxlan device with remote
   * checksum offload on receive (`remcsumrx`). Default false: every checksum
   * leaves whole.
   */
  readonly finishesChecksums?: boolean;
}

/** Where peer changes go, from every control path (config file, gossip, wg set): the data plane. */
export interface PeerControl {
  /** Throws PEER_EXISTS, or CONFIG_INVALID naming the field, when the peer cannot be taken. */
  addPeer(spec: PeerSpec): void;
  /** Throws PEER_UNKNOWN, or CONFIG_INVALID naming the field. */
  updatePeer(spec: PeerSpec): void;
  /** False when there was no such peer. */
  removePeer(name: string): boolean;
  hasPeer(name: string): boolean;
}

/** A peer as status, metrics and wg show read it. Encapsulation-specific fields are optional. */
export interface PeerStatus {
  readonly name: string;
  readonly endpoint: UdpEndpoint | undefined;
  readonly subnets: readonly Cidr[];
  readonly traffic: PeerTraffic;
  /** The encapsulation that carries this peer's traffic. */
  readonly backend: EncapsulationKind;
  /** WireGuard: its static public key (32 bytes). */
  readonly publicKey?: Uint8Array;
  /** WireGuard: the preshared key, when one is set. */
  readonly presharedKey?: Uint8Array;
  /** WireGuard: wall-clock ms of the last handshake; 0 for never. */
  readonly lastHandshakeWallMs?: number;
  /** WireGuard: persistent keepalive interval in seconds; 0 is off. */
  readonly persistentKeepalive?: number;
}

/**
 * One peer, made by its encapsulation. The table owns the name, subnets and
 * indexes; the subclass owns the protocol state and the way out.
 */
export abstract class Peer {
  /** The encapsulation that made this peer and reaches it. */
  abstract readonly encapsulation: Encapsulation;
  /** Where its datagrams go; WireGuard moves it when the peer roams. */
  endpoint: UdpEndpoint | undefined;
  /** The subnets it owns: the table's routes to it and the inner sources accepted from it. */
  subnets: readonly Cidr[];
  /** Its public key, when it has one (WireGuard, and every gossip peer's record). */
  publicKey: Uint8Array | undefined;
  /** Counted by the encapsulation: bytes as its datagrams carry them, inner packets delivered. */
  readonly traffic: PeerTraffic = newPeerTraffic();
  /** PeerSpec.finishesChecksums: whether a partial TCP checksum may leave for it as it is. */
  finishesChecksums: boolean;

  constructor(
    readonly name: string,
    spec: PeerSpec,
  ) {
    this.endpoint = spec.endpoint;
    this.subnets = spec.subnets;
    this.publicKey = spec.publicKey;
    this.finishesChecksums = spec.finishesChecksums ?? false;
  }

  /** Encapsulate the IP packet in `slot` toward this peer and send it. Takes the slot. */
  abstract send(slot: number): void;

  /** The status fields every peer has; subclasses add their own. */
  status(): PeerStatus {
    return { name: this.name, endpoint: this.endpoint, subnets: this.subnets, traffic: { ...this.traffic }, backend: this.encapsulation.kind };
  }
}
