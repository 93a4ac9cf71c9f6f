/**
 * The contract between the data plane and an encapsulation (VXLAN,
 * WireGuard). The data plane owns the peers, the route table and the checks
 * every encapsulation needs (the IP header going out, one longest-prefix
 * lookup, the inner source coming in); an encapsulation owns its socket and
 * its protocol: it makes the peers it reaches, wraps a packet toward one of
 * them, and unwraps what its socket receives.
 */
import type { Transport } from '../transport/transport.ts';
import type { EncapsulationKind, Peer, PeerSpec } from './peer.ts';

/** What the data plane did with a received datagram. */
export const Received = {
  /** The slot now holds an inner IP packet for the TUN device; the caller owns it. */
  Deliver: 0,
  /** Kept or answered (an ARP reply, a handshake, a keepalive); nothing for the caller. */
  Consumed: 1,
  /** Dropped and counted; the slot was released. */
  Dropped: 2,
} as const;
export type Received = (typeof Received)[keyof typeof Received];

/** The table's indexes, as an encapsulation may read them. */
export interface PeerDirectory {
  /** The peer whose endpoint has this underlay address, among encapsulations that know senders by address. */
  byAddress(address: string): Peer | undefined;
  /** The peer with this public key (lowercase hex). */
  byKey(keyHex: string): Peer | undefined;
  /** Every peer, in insertion order. */
  all(): IterableIterator<Peer>;
}

export interface Encapsulation {
  readonly kind: EncapsulationKind;
  /** Bytes it adds over an IPv4 underlay, counting outer IP and UDP: the TUN MTU is the underlay MTU minus this. */
  readonly overhead: number;
  /**
   * Whether its integrity check covers the inner packet (WireGuard's
   * Poly1305 does; VXLAN has none, and a kernel peer may send no UDP
   * checksum), so received TCP segments need no checksum check before the
   * device merges them.
   */
  readonly authenticatesPayload: boolean;
  /**
   * Whether senders are known by their underlay address (VXLAN), rather
   * than by a key: the table then keeps its peers' addresses unique.
   */
  readonly sendersByAddress: boolean;
  /** Drop inner packets from unknown senders or from outside the sender's subnets. */
  readonly sourceCheck: boolean;
  /** The socket its datagrams go out of and come in on. */
  readonly transport: Transport;
  /** After decapsulate returned Deliver: the peer it came from, when known. */
  readonly sender: Peer | undefined;

  /** Given once by the data plane before any peer arrives. */
  bind(directory: PeerDirectory): void;
  /** A new peer from its spec: checks the encapsulation's own fields (throws CONFIG_INVALID). */
  createPeer(spec: PeerSpec): Peer;
  /**
   * Apply a changed spec to the peer in place and return it, or return a new
   * peer when the change makes it someone else (WireGuard: a new key).
   */
  updatePeer(peer: Peer, spec: PeerSpec): Peer;
  /** The peer is gone: drop what waits for it and forget its sessions. */
  removePeer(peer: Peer): void;
  /** Handle a datagram its socket received into `slot`. See Received for who owns the slot afterwards. */
  decapsulate(slot: number, fromAddress: string, fromPort: number): Received;
  /** Drops by reason, name -> count. */
  drops(): Record<string, number>;
}
