/**
 * The contract between the router and an encapsulation backend (VXLAN,
 * WireGuard). The router owns the TUN device and listens on the transports
 * (one per backend under "mixed"); a backend owns its peers, turns IP
 * packets into datagrams and sends them through its own transport, and
 * turns received datagrams back into IP packets.
 *
 * Peers arrive through addPeer / updatePeer / removePeer, the same calls
 * whether they come from a static file or from gossip, so the data plane
 * never knows where its peers came from.
 */
import type { Cidr } from '../wire/addr.ts';
import type { UdpEndpoint } from '../transport/transport.ts';
import type { PeerTraffic } from './counters.ts';

/** What a backend did with a received datagram. */
export const Received = {
  /** The slot now holds an inner IP packet for the TUN device; the caller owns it. */
  Deliver: 0,
  /** The backend kept or answered it (an ARP reply, a handshake); nothing for the caller. */
  Consumed: 1,
  /** Dropped and counted; the slot was released. */
  Dropped: 2,
} as const;
export type Received = (typeof Received)[keyof typeof Received];

/** A remote node as the data plane sees it. Backend-specific fields are optional. */
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
  /** The peer's location label (a cloud, a datacenter): the mixed backend picks VXLAN or WireGuard by it. */
  readonly location?: string;
}

/** A peer as a backend reports it. Backend-specific fields are optional, as in PeerSpec. */
export interface PeerStatus {
  readonly name: string;
  readonly endpoint: UdpEndpoint | undefined;
  readonly subnets: readonly Cidr[];
  readonly traffic: PeerTraffic;
  /** Mixed: the protocol that carries this peer's traffic (the owning backend's kind). */
  readonly backend?: string;
  /** WireGuard: its static public key (32 bytes). */
  readonly publicKey?: Uint8Array;
  /** WireGuard: wall-clock ms of the last handshake; 0 for never. */
  readonly lastHandshakeWallMs?: number;
  /** WireGuard: persistent keepalive interval in seconds; 0 is off. */
  readonly persistentKeepalive?: number;
}

export interface Backend {
  readonly kind: string;
  /** Bytes the backend adds over an IPv4 underlay, counting outer IP and UDP: the TUN MTU is the underlay MTU minus this. */
  readonly overhead: number;
  /** Encapsulate the IP packet in `slot` and send it. Takes the slot: it is sent or dropped and counted. */
  send(slot: number): void;
  /** Handle a datagram received into `slot`. See Received for who owns the slot afterwards. */
  receive(slot: number, fromAddress: string, fromPort: number): Received;
  addPeer(spec: PeerSpec): void;
  updatePeer(spec: PeerSpec): void;
  removePeer(name: string): boolean;
  peers(): PeerStatus[];
  /** Drops by reason, name -> count. */
  drops(): Record<string, number>;
}
