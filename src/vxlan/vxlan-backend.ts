/**
 * The VXLAN backend (RFC 7348), wire-compatible with the Linux vxlan device
 * as Flannel configures it.
 *
 * Why it looks the way it does. Flannel's vxlan backend first relied on the
 * kernel's L2/L3 miss notifications to fill ARP and FDB entries on demand;
 * that raced with the first packets and needed a daemon round trip per new
 * destination, so Flannel moved to static entries written ahead of time: for
 * each remote node one neighbour entry (its VTEP IP -> its VTEP MAC), one FDB
 * entry (its VTEP MAC -> its underlay IP) and one route (its pod subnet via
 * its VTEP IP, onlink). weft is the userspace mirror of that: its peer table
 * holds the same three facts, so a frame to a pod goes out with the owning
 * node's VTEP MAC as the inner destination and its underlay address as the
 * outer one, and a kernel configured the Flannel way takes it as its own.
 * weft still answers ARP for its own VTEP address, so a kernel peer that was
 * given only a default FDB entry (no static neighbour) resolves it too.
 *
 * The packet work is in place: the inner Ethernet header and the VXLAN
 * header are written into the slot's headroom in front of the IP packet
 * (encap), or skipped over (decap). The kernel adds the outer IP and UDP.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import type { Backend, PeerSpec, PeerStatus } from '../dataplane/backend.ts';
import { Received } from '../dataplane/backend.ts';
import { ReasonCounters, newPeerTraffic } from '../dataplane/counters.ts';
import type { PeerTraffic } from '../dataplane/counters.ts';
import { WeftError } from '../errors.ts';
import { RouteTable } from '../route/route-table.ts';
import type { Transport, UdpEndpoint } from '../transport/transport.ts';
import { formatIpv4, formatMac } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import { ARP_LEN, ARP_OP_REQUEST, ARP_THA_OFFSET, ArpVerdict, arpOp, arpTargetIp, checkArp, writeArpReplyInPlace } from '../wire/arp.ts';
import {
  ETH_HEADER_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  isBroadcastMac,
  macEquals,
  readEtherType,
  writeEthernetHeader,
} from '../wire/ethernet.ts';
import { IpVerdict, IPV4_DST_OFFSET, IPV4_SRC_OFFSET, IPV6_DST_OFFSET, IPV6_SRC_OFFSET, checkIpPacket, ipPacketLength } from '../wire/ip.ts';
import {
  VXLAN_DEFAULT_VNI,
  VXLAN_HEADER_LEN,
  VXLAN_MAX_VNI,
  VXLAN_OVERHEAD_IPV4,
  VXLAN_PORT_LINUX_FLANNEL,
  VxlanVerdict,
  checkVxlanHeader,
  readVni,
  writeVxlanHeader,
} from '../wire/vxlan.ts';

/** VXLAN header plus inner Ethernet header: what encap writes in front of the IP packet. */
const ENCAP_LEN = VXLAN_HEADER_LEN + ETH_HEADER_LEN;

/** Why a packet was dropped. The index is the counter slot; names appear in status and metrics. */
export const VxlanDrop = {
  /** Datagram shorter than a VXLAN header and an Ethernet header. */
  Short: 0,
  /** The I flag is clear (RFC 7348 section 5). */
  BadFlags: 1,
  /** A VNI other than ours. */
  WrongVni: 2,
  /** Inner EtherType is not IPv4, IPv6 or ARP. */
  UnknownEthertype: 3,
  /** Inner destination MAC is neither our VTEP's nor broadcast. */
  NotForUs: 4,
  /** Inner source address is outside the sending node's subnets. */
  SpoofedSource: 5,
  /** Datagram from an underlay address that is no known peer (with the source check on). */
  UnknownSender: 6,
  /** Outbound packet whose destination is in no peer's subnet. */
  NoRoute: 7,
  /** A malformed inner IP packet, either direction. */
  BadIp: 8,
  /** ARP that is not a request for our VTEP address, or is malformed. */
  ArpIgnored: 9,
  /** No room in front of the packet for the headers (a ring configured with too little headroom). */
  NoHeadroom: 10,
} as const;

const DROP_NAMES = [
  'short',
  'bad_flags',
  'wrong_vni',
  'unknown_ethertype',
  'not_for_us',
  'spoofed_source',
  'unknown_sender',
  'no_route',
  'bad_ip',
  'arp_ignored',
  'no_headroom',
] as const;
export type VxlanDropName = (typeof DROP_NAMES)[number];

export interface VxlanOptions {
  ring: PacketRing;
  transport: Transport;
  /** Our VTEP MAC: the inner Ethernet source of what we send and the destination we accept. */
  vtepMac: Uint8Array;
  /** Our VTEP IPv4 address (Flannel: the network address of the node's subnet); the ARP target we answer. */
  vtepIp: number;
  /** Default 1 (Flannel's and Linux's). */
  vni?: number;
  /** The UDP port peers listen on, for replies to senders we know only by address. Default 8472. */
  port?: number;
  /** Drop inner packets whose source is outside the sending peer's subnets. Default true. */
  sourceCheck?: boolean;
}

interface VxlanPeer {
  readonly name: string;
  endpoint: UdpEndpoint;
  subnets: readonly Cidr[];
  vtepMac: Uint8Array;
  readonly traffic: PeerTraffic;
}

export class VxlanBackend implements Backend {
  readonly kind = 'vxlan';
  readonly overhead = VXLAN_OVERHEAD_IPV4;
  readonly dropCounters = new ReasonCounters(DROP_NAMES);
  /** ARP requests for our VTEP that we answered. */
  arpReplies = 0;

  private readonly ring: PacketRing;
  private readonly transport: Transport;
  private readonly vtepMac: Uint8Array;
  private readonly vtepIp: number;
  private readonly vni: number;
  private readonly port: number;
  private readonly sourceCheck: boolean;
  private readonly byName = new Map<string, VxlanPeer>();
  /** Peers by underlay address: the sender of a datagram, for the inner source check. */
  private readonly byAddress = new Map<string, VxlanPeer>();
  private readonly routes = new RouteTable<VxlanPeer>();

  constructor(options: VxlanOptions) {
    const vni = options.vni ?? VXLAN_DEFAULT_VNI;
    if (!Number.isInteger(vni) || vni < 0 || vni > VXLAN_MAX_VNI) {
      throw new WeftError('CONFIG_INVALID', `vxlan.vni must be an integer from 0 to ${VXLAN_MAX_VNI}, got ${vni}`);
    }
    if (options.vtepMac.length !== 6 || (options.vtepMac[0]! & 1) !== 0) {
      throw new WeftError('CONFIG_INVALID', 'vxlan.vtepMac must be a 6-byte unicast MAC address');
    }
    this.ring = options.ring;
    this.transport = options.transport;
    this.vtepMac = options.vtepMac;
    this.vtepIp = options.vtepIp >>> 0;
    this.vni = vni;
    this.port = options.port ?? VXLAN_PORT_LINUX_FLANNEL;
    this.sourceCheck = options.sourceCheck ?? true;
  }

  // ---- packet path -------------------------------------------------------

  send(slot: number): void {
    const ring = this.ring;
    const bytes = ring.bytes;
    const off = ring.offset[slot]!;
    const len = ring.length[slot]!;
    if (checkIpPacket(bytes, off, len) !== IpVerdict.Ok) return this.drop(slot, VxlanDrop.BadIp);
    const v4 = bytes[off]! >> 4 === 4;
    const peer = v4 ? this.routes.lookupV4At(bytes, off + IPV4_DST_OFFSET) : this.routes.lookupV6At(bytes, off + IPV6_DST_OFFSET);
    if (peer === undefined) return this.drop(slot, VxlanDrop.NoRoute);
    const start = ring.prepend(slot, ENCAP_LEN);
    if (start < 0) return this.drop(slot, VxlanDrop.NoHeadroom);
    writeVxlanHeader(bytes, start, this.vni);
    writeEthernetHeader(bytes, start + VXLAN_HEADER_LEN, peer.vtepMac, this.vtepMac, v4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
    peer.traffic.txPackets++;
    peer.traffic.txBytes += len;
    this.transport.send(slot, peer.endpoint);
  }

  receive(slot: number, fromAddress: string, _fromPort: number): Received {
    const ring = this.ring;
    const bytes = ring.bytes;
    const off = ring.offset[slot]!;
    const len = ring.length[slot]!;
    if (len < ENCAP_LEN) return this.dropped(slot, VxlanDrop.Short);
    if (checkVxlanHeader(bytes, off, len) !== VxlanVerdict.Ok) return this.dropped(slot, VxlanDrop.BadFlags);
    if (readVni(bytes, off) !== this.vni) return this.dropped(slot, VxlanDrop.WrongVni);
    const eth = off + VXLAN_HEADER_LEN;
    const etherType = readEtherType(bytes, eth);
    if (!macEquals(bytes, eth, this.vtepMac)) {
      // Broadcast is for ARP only; unicast to another MAC or multicast is not ours.
      if (!(etherType === ETHERTYPE_ARP && isBroadcastMac(bytes, eth))) return this.dropped(slot, VxlanDrop.NotForUs);
    }
    if (etherType === ETHERTYPE_ARP) return this.answerArp(slot, eth + ETH_HEADER_LEN, len - ENCAP_LEN, fromAddress);
    if (etherType !== ETHERTYPE_IPV4 && etherType !== ETHERTYPE_IPV6) return this.dropped(slot, VxlanDrop.UnknownEthertype);

    const ip = off + ENCAP_LEN;
    const ipLen = len - ENCAP_LEN;
    if (checkIpPacket(bytes, ip, ipLen) !== IpVerdict.Ok) return this.dropped(slot, VxlanDrop.BadIp);
    const version = bytes[ip]! >> 4;
    if (version === 4 ? etherType !== ETHERTYPE_IPV4 : etherType !== ETHERTYPE_IPV6) return this.dropped(slot, VxlanDrop.BadIp);
    const peer = this.byAddress.get(fromAddress);
    if (this.sourceCheck) {
      if (peer === undefined) return this.dropped(slot, VxlanDrop.UnknownSender);
      const ok =
        version === 4
          ? this.routes.matchesV4At(bytes, ip + IPV4_SRC_OFFSET, peer)
          : this.routes.matchesV6At(bytes, ip + IPV6_SRC_OFFSET, peer);
      if (!ok) return this.dropped(slot, VxlanDrop.SpoofedSource);
    }
    // Strip the headers and any Ethernet padding behind the IP packet.
    const ipTotal = ipPacketLength(bytes, ip);
    ring.offset[slot] = ip;
    ring.length[slot] = ipTotal;
    if (peer !== undefined) {
      peer.traffic.rxPackets++;
      peer.traffic.rxBytes += ipTotal;
    }
    return Received.Deliver;
  }

  /** Answer an ARP request for our VTEP address in place and send it back; drop anything else. */
  private answerArp(slot: number, arp: number, arpLen: number, fromAddress: string): Received {
    const bytes = this.ring.bytes;
    if (checkArp(bytes, arp, arpLen) !== ArpVerdict.Ok) return this.dropped(slot, VxlanDrop.ArpIgnored);
    if (arpOp(bytes, arp) !== ARP_OP_REQUEST || arpTargetIp(bytes, arp) !== this.vtepIp) {
      return this.dropped(slot, VxlanDrop.ArpIgnored);
    }
    const eth = arp - ETH_HEADER_LEN;
    writeArpReplyInPlace(bytes, arp, this.vtepMac);
    // The reply goes to the requester's MAC, which the rewritten ARP body now
    // holds as its target hardware address; source and EtherType stay ARP's.
    bytes.copyWithin(eth, arp + ARP_THA_OFFSET, arp + ARP_THA_OFFSET + 6);
    bytes.set(this.vtepMac, eth + 6);
    const start = this.ring.offset[slot]!;
    this.ring.length[slot] = eth + ETH_HEADER_LEN + ARP_LEN - start;
    // A kernel sends from an ephemeral source port but listens on the VXLAN port.
    const peer = this.byAddress.get(fromAddress);
    this.arpReplies++;
    this.transport.send(slot, peer ? peer.endpoint : { address: fromAddress, port: this.port });
    return Received.Consumed;
  }

  private drop(slot: number, reason: number): void {
    this.dropCounters.add(reason);
    this.ring.release(slot);
  }

  private dropped(slot: number, reason: number): Received {
    this.drop(slot, reason);
    return Received.Dropped;
  }

  // ---- peers (cold path) -------------------------------------------------

  addPeer(spec: PeerSpec): void {
    if (this.byName.has(spec.name)) {
      throw new WeftError('PEER_EXISTS', `peer "${spec.name}" is already configured; update it instead`);
    }
    const vtepMac = this.requireMac(spec);
    const endpoint = this.requireEndpoint(spec);
    this.checkAddressFree(endpoint.address, spec.name);
    const peer: VxlanPeer = { name: spec.name, endpoint, subnets: spec.subnets, vtepMac, traffic: newPeerTraffic() };
    for (const cidr of spec.subnets) this.checkSubnetFree(cidr, spec.name);
    this.byName.set(spec.name, peer);
    this.byAddress.set(endpoint.address, peer);
    for (const cidr of spec.subnets) this.routes.insert(cidr, peer);
  }

  updatePeer(spec: PeerSpec): void {
    const peer = this.byName.get(spec.name);
    if (peer === undefined) throw new WeftError('PEER_UNKNOWN', `peer "${spec.name}" is not configured; add it first`);
    const vtepMac = this.requireMac(spec);
    const endpoint = this.requireEndpoint(spec);
    this.checkAddressFree(endpoint.address, spec.name);
    for (const cidr of spec.subnets) this.checkSubnetFree(cidr, spec.name);
    // Mutate in place: the route table keeps pointing at the same peer object.
    this.routes.removeValue(peer);
    this.byAddress.delete(peer.endpoint.address);
    peer.endpoint = endpoint;
    peer.subnets = spec.subnets;
    peer.vtepMac = vtepMac;
    this.byAddress.set(endpoint.address, peer);
    for (const cidr of spec.subnets) this.routes.insert(cidr, peer);
  }

  removePeer(name: string): boolean {
    const peer = this.byName.get(name);
    if (peer === undefined) return false;
    this.routes.removeValue(peer);
    this.byName.delete(name);
    if (this.byAddress.get(peer.endpoint.address) === peer) this.byAddress.delete(peer.endpoint.address);
    return true;
  }

  peers(): PeerStatus[] {
    return [...this.byName.values()].map((p) => ({ name: p.name, endpoint: p.endpoint, subnets: p.subnets, traffic: { ...p.traffic } }));
  }

  drops(): Record<string, number> {
    return this.dropCounters.toObject();
  }

  /** Our VTEP identity, for status output and for configuring kernel peers. */
  describe(): { vtepMac: string; vtepIp: string; vni: number; port: number } {
    return { vtepMac: formatMac(this.vtepMac, 0), vtepIp: formatIpv4(this.vtepIp), vni: this.vni, port: this.port };
  }

  private requireMac(spec: PeerSpec): Uint8Array {
    const mac = spec.vtepMac;
    if (mac === undefined || mac.length !== 6 || (mac[0]! & 1) !== 0) {
      throw new WeftError('CONFIG_INVALID', `peer "${spec.name}": vtepMac must be a unicast MAC address such as 0e:00:00:00:00:02`);
    }
    return mac;
  }

  private requireEndpoint(spec: PeerSpec): UdpEndpoint {
    if (spec.endpoint === undefined) {
      throw new WeftError('CONFIG_INVALID', `peer "${spec.name}": a VXLAN peer needs an endpoint (its underlay address and port)`);
    }
    return spec.endpoint;
  }

  private checkAddressFree(address: string, name: string): void {
    const other = this.byAddress.get(address);
    if (other !== undefined && other.name !== name) {
      throw new WeftError('CONFIG_INVALID', `peer "${name}": underlay address ${address} already belongs to peer "${other.name}"`);
    }
  }

  private checkSubnetFree(cidr: Cidr, name: string): void {
    for (const other of this.byName.values()) {
      if (other.name === name) continue;
      for (const s of other.subnets) {
        if (s.family === cidr.family && s.bits === cidr.bits && s.addr.every((b, i) => b === cidr.addr[i])) {
          throw new WeftError('CONFIG_INVALID', `peer "${name}": subnet is already owned by peer "${other.name}"`);
        }
      }
    }
  }
}
