/**
 * The data plane between the TUN device and the encapsulations: the packet
 * checks every encapsulation shares, done once. Out: check the IP header,
 * one longest-prefix lookup on the inner destination, hand the slot to the
 * peer that owns it (its encapsulation wraps and sends it). In: the
 * encapsulation that owns the socket unwraps the datagram and names its
 * sender; the inner source must lie in that sender's subnets.
 *
 * Peers arrive through addPeer / updatePeer / removePeer, the same calls
 * whether they come from a static file, gossip or wg set.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import { WeftError } from '../errors.ts';
import { IPV4_DST_OFFSET, IPV4_SRC_OFFSET, IPV6_DST_OFFSET, IPV6_SRC_OFFSET, IpVerdict, checkIpPacket } from '../wire/ip.ts';
import { ReasonCounters } from './counters.ts';
import { Received } from './encapsulation.ts';
import type { Encapsulation } from './encapsulation.ts';
import type { PeerControl, PeerSpec, PeerStatus } from './peer.ts';
import { PeerTable } from './peer-table.ts';

/** Why the data plane itself dropped a packet. The index is the counter slot. */
const DataplaneDrop = {
  /** An outbound packet that is not a well-formed IPv4 or IPv6 packet. */
  BadIp: 0,
  /** An outbound packet whose destination is in no peer's subnet. */
  NoRoute: 1,
  /** A datagram from an underlay address that is no known peer (with the source check on). */
  UnknownSender: 2,
  /** An inner source outside the sending peer's subnets. */
  SpoofedSource: 3,
} as const;
const DROP_NAMES = ['bad_ip', 'no_route', 'unknown_sender', 'spoofed_source'] as const;

export interface DataplaneOptions {
  ring: PacketRing;
  /** The encapsulations this node speaks, each on its own socket; the first is the default. */
  encapsulations: readonly Encapsulation[];
  /** Which encapsulation reaches a peer. Default: the only one (or the first). */
  choose?: (spec: PeerSpec) => Encapsulation;
}

export class Dataplane implements PeerControl {
  readonly table: PeerTable;
  readonly encapsulations: readonly Encapsulation[];
  readonly dropCounters = new ReasonCounters(DROP_NAMES);
  private readonly ring: PacketRing;
  private readonly primary: Encapsulation;

  constructor(options: DataplaneOptions) {
    const first = options.encapsulations[0];
    if (first === undefined) throw new WeftError('CONFIG_INVALID', 'a data plane needs at least one encapsulation');
    this.ring = options.ring;
    this.primary = first;
    this.encapsulations = options.encapsulations;
    this.table = new PeerTable(options.choose ?? (() => first));
    for (const e of this.encapsulations) e.bind(this.table);
  }

  /**
   * The encapsulations for a node: one, or under "mixed" VXLAN for peers in
   * `location` and WireGuard for the rest. A spec may name its own (`via`).
   */
  static byLocation(location: string, near: Encapsulation, far: Encapsulation): (spec: PeerSpec) => Encapsulation {
    return (spec) => {
      if (spec.via !== undefined) return spec.via === near.kind ? near : far;
      return spec.location === undefined || spec.location === location ? near : far;
    };
  }

  // ---- packet path -------------------------------------------------------

  /** Send the IP packet in `slot` toward the peer owning its destination. Takes the slot. */
  send(slot: number): void {
    const ring = this.ring;
    const bytes = ring.bytes;
    const off = ring.offset[slot]!;
    if (checkIpPacket(bytes, off, ring.length[slot]!) !== IpVerdict.Ok) return this.drop(slot, DataplaneDrop.BadIp);
    const peer = bytes[off]! >> 4 === 4 ? this.table.routes.lookupV4At(bytes, off + IPV4_DST_OFFSET) : this.table.routes.lookupV6At(bytes, off + IPV6_DST_OFFSET);
    if (peer === undefined) return this.drop(slot, DataplaneDrop.NoRoute);
    peer.send(slot);
  }

  /**
   * Handle a datagram that `encapsulation`'s socket (the first one's by
   * default) received into `slot`. See Received for who owns the slot afterwards.
   */
  receive(slot: number, fromAddress: string, fromPort: number, encapsulation: Encapsulation = this.primary): Received {
    const r = encapsulation.decapsulate(slot, fromAddress, fromPort);
    if (r !== Received.Deliver) return r;
    const peer = encapsulation.sender;
    if (peer === undefined) {
      if (!encapsulation.sourceCheck) return Received.Deliver;
      this.drop(slot, DataplaneDrop.UnknownSender);
      return Received.Dropped;
    }
    if (encapsulation.sourceCheck) {
      const bytes = this.ring.bytes;
      const ip = this.ring.offset[slot]!;
      const routes = this.table.routes;
      const ok = bytes[ip]! >> 4 === 4 ? routes.matchesV4At(bytes, ip + IPV4_SRC_OFFSET, peer) : routes.matchesV6At(bytes, ip + IPV6_SRC_OFFSET, peer);
      if (!ok) {
        this.drop(slot, DataplaneDrop.SpoofedSource);
        return Received.Dropped;
      }
    }
    peer.traffic.rxPackets++;
    return Received.Deliver;
  }

  private drop(slot: number, reason: number): void {
    this.dropCounters.add(reason);
    this.ring.release(slot);
  }

  // ---- peers (cold path) -------------------------------------------------

  addPeer(spec: PeerSpec): void {
    this.table.add(spec);
  }

  updatePeer(spec: PeerSpec): void {
    this.table.update(spec);
  }

  removePeer(name: string): boolean {
    return this.table.remove(name);
  }

  hasPeer(name: string): boolean {
    return this.table.get(name) !== undefined;
  }

  peers(): PeerStatus[] {
    return this.table.peers();
  }

  /**
   * Drops by reason: the data plane's and each encapsulation's, summed where
   * names agree; with more than one encapsulation theirs carry its kind
   * (`wireguard_bad_auth`).
   */
  drops(): Record<string, number> {
    const out: Record<string, number> = this.dropCounters.toObject();
    const prefix = this.encapsulations.length > 1;
    for (const e of this.encapsulations) {
      for (const [name, n] of Object.entries(e.drops())) {
        const key = prefix ? `${e.kind}_${name}` : name;
        out[key] = (out[key] ?? 0) + n;
      }
    }
    return out;
  }
}
