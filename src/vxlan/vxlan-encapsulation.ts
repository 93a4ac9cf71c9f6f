/**
 * The VXLAN encapsulation (RFC 7348), wire-compatible with the Linux vxlan device
 * as Flannel configures it.
 *
 * Why it looks the way it does. Flannel's vxlan backend first relied on the
 * kernel's L2/L3 miss notifications to fill ARP and FDB entries on demand;
 * that raced with the first packets and needed a daemon round trip per new
 * destination, so Flannel moved to static entries written ahead of time: for
 * each remote node one neighbour entry (its VTEP IP -> its VTEP MAC), one FDB
 * entry (its VTEP MAC -> its underlay IP) and one route (its pod subnet via
 * its VTEP IP, onlink). weft is the userspace mirror of that: its peer table
 * (src/dataplane) holds the same three facts, so a frame to a pod goes out with the owning
 * node's VTEP MAC as the inner destination and its underlay address as the
 * outer one, and a kernel configured the Flannel way takes it as its own.
 * weft still answers ARP for its own VTEP address, so a kernel peer that was
 * given only a default FDB entry (no static neighbour) resolves it too.
 *
 * Checksums: a TCP packet whose checksum the TUN read left partial
 * (PacketRing.csum) goes to a peer that finishes checksums (a weft node, a
 * kernel vxlan with remcsumrx) as it is, with the remote checksum offload
 * bits set (RCO, src/wire/vxlan.ts); to any other peer it is finished here
 * first. A received RCO frame with TCP inside is handed on partial (the
 * outer UDP checksum, which the kernel verified, covered its bytes); one with
 * UDP inside, or a start that is not the TCP header's, is finished here.
 *
 * The packet work is in place: the inner Ethernet header and the VXLAN
 * header are written into the slot's headroom in front of the IP packet
 * (encap), or skipped over (decap). The kernel adds the outer IP and UDP.
 */
import { CsumState } from '../buf/packet-ring.ts';
import type { PacketRing } from '../buf/packet-ring.ts';
import { ReasonCounters } from '../dataplane/counters.ts';
import { Received } from '../dataplane/encapsulation.ts';
import type { Encapsulation, PeerDirectory } from '../dataplane/encapsulation.ts';
import { Peer } from '../dataplane/peer.ts';
import type { PeerSpec } from '../dataplane/peer.ts';
import { WeftError } from '../errors.ts';
import { finishChecksumAt, finishPartialChecksum, tcpHeaderStart } from '../offload/partial-checksum.ts';
import { TCP_CHECKSUM_OFFSET } from '../wire/tcp.ts';
import type { Transport, UdpEndpoint } from '../transport/transport.ts';
import { formatIpv4, formatMac } from '../wire/addr.ts';
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
import { IPV6_HEADER_LEN, IpVerdict, checkIpPacket, ipPacketLength } from '../wire/ip.ts';
import { NDP_ADVERTISEMENT_LEN, isSolicitationFor, solicitationSourceMac, writeAdvertisementInPlace } from '../wire/ndp.ts';
import {
  VXLAN_DEFAULT_VNI,
  VXLAN_HEADER_LEN,
  VXLAN_MAX_VNI,
  VXLAN_OVERHEAD_IPV4,
  VXLAN_PORT_LINUX_FLANNEL,
  VxlanVerdict,
  checkVxlanHeader,
  readRcoFieldOffset,
  readRcoStart,
  readVni,
  writeVxlanHeader,
  writeVxlanRcoTcp,
} from '../wire/vxlan.ts';

/** VXLAN header plus inner Ethernet header: what encap writes in front of the IP packet. */
const ENCAP_LEN = VXLAN_HEADER_LEN + ETH_HEADER_LEN;

/**
 * Why a packet was dropped here. The index is the counter slot; names
 * appear in status and metrics. Routing, unknown senders and spoofed inner
 * sources are the data plane's drops (src/dataplane/dataplane.ts).
 */
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
  /** A malformed inner IP packet, or one whose version disagrees with the EtherType. */
  BadIp: 5,
  /** ARP that is not a request for our VTEP address, or is malformed. */
  ArpIgnored: 6,
  /** No room in front of the packet for the headers (a ring configured with too little headroom). */
  NoHeadroom: 7,
  /** IPv6 multicast that is not a neighbour solicitation for our VTEP address. */
  NdpIgnored: 8,
  /** Remote checksum offload naming a checksum field outside the inner packet, or before its IP payload. */
  BadRco: 9,
} as const;

const DROP_NAMES = ['short', 'bad_flags', 'wrong_vni', 'unknown_ethertype', 'not_for_us', 'bad_ip', 'arp_ignored', 'no_headroom', 'ndp_ignored', 'bad_rco'] as const;
export type VxlanDropName = (typeof DROP_NAMES)[number];

export interface VxlanOptions {
  ring: PacketRing;
  transport: Transport;
  /** Our VTEP MAC: the inner Ethernet source of what we send and the destination we accept. */
  vtepMac: Uint8Array;
  /** Our VTEP IPv4 address (Flannel: the network address of the node's subnet); the ARP target we answer. */
  vtepIp: number;
  /** Our VTEP IPv6 address (16 bytes), when the node has an IPv6 subnet: the neighbour solicitations we answer. */
  vtepIp6?: Uint8Array;
  /** Default 1 (Flannel's and Linux's). */
  vni?: number;
  /** The UDP port peers listen on, for replies to senders we know only by address. Default 8472. */
  port?: number;
  /** Drop inner packets whose source is outside the sending peer's subnets. Default true. */
  sourceCheck?: boolean;
}

/** A peer reached over VXLAN: its VTEP MAC, and the way out through our socket. */
export class VxlanPeer extends Peer {
  declare endpoint: UdpEndpoint;

  constructor(
    spec: PeerSpec,
    endpoint: UdpEndpoint,
    public vtepMac: Uint8Array,
    readonly encapsulation: VxlanEncapsulation,
  ) {
    super(spec.name, spec);
    this.endpoint = endpoint;
  }

  send(slot: number): void {
    this.encapsulation.encapsulate(slot, this);
  }
}

export class VxlanEncapsulation implements Encapsulation {
  readonly kind = 'vxlan';
  readonly overhead = VXLAN_OVERHEAD_IPV4;
  readonly authenticatesPayload = false;
  readonly sendersByAddress = true;
  readonly sourceCheck: boolean;
  readonly transport: Transport;
  readonly dropCounters = new ReasonCounters(DROP_NAMES);
  sender: Peer | undefined = undefined;
  /** ARP requests for our VTEP that we answered. */
  arpReplies = 0;
  /** Neighbour solicitations for our VTEP that we answered. */
  ndpReplies = 0;

  private readonly ring: PacketRing;
  private readonly vtepMac: Uint8Array;
  private vtepIp: number;
  private vtepIp6: Uint8Array | undefined;
  private readonly vni: number;
  private readonly port: number;
  private directory: PeerDirectory | undefined;

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
    if (options.vtepIp6 !== undefined && options.vtepIp6.length !== 16) throw new WeftError('CONFIG_INVALID', 'vxlan: the VTEP IPv6 address must be 16 bytes');
    this.vtepIp6 = options.vtepIp6;
    this.vni = vni;
    this.port = options.port ?? VXLAN_PORT_LINUX_FLANNEL;
    this.sourceCheck = options.sourceCheck ?? true;
  }

  bind(directory: PeerDirectory): void {
    this.directory = directory;
  }

  // ---- packet path -------------------------------------------------------

  /** Write the VXLAN and inner Ethernet headers in front of the (checked) IP packet and send it. Takes the slot. */
  encapsulate(slot: number, peer: VxlanPeer): void {
    const ring = this.ring;
    const bytes = ring.bytes;
    const len = ring.length[slot]!;
    const ip = ring.offset[slot]!;
    const v4 = bytes[ip]! >> 4 === 4;
    // Where a partial TCP checksum's sum starts, for a peer that finishes it (RCO); -1: whole checksums.
    const tcp = peer.finishesChecksums && ring.csum[slot] === CsumState.Partial ? tcpHeaderStart(bytes, ip, len) : -1;
    if (tcp < 0) finishPartialChecksum(ring, slot);
    const start = ring.prepend(slot, ENCAP_LEN);
    if (start < 0) return this.drop(slot, VxlanDrop.NoHeadroom);
    writeVxlanHeader(bytes, start, this.vni);
    if (tcp >= 0) writeVxlanRcoTcp(bytes, start, ETH_HEADER_LEN + tcp);
    writeEthernetHeader(bytes, start + VXLAN_HEADER_LEN, peer.vtepMac, this.vtepMac, v4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
    peer.traffic.txPackets++;
    peer.traffic.txBytes += len;
    this.transport.send(slot, peer.endpoint);
  }

  decapsulate(slot: number, fromAddress: string, _fromPort: number): Received {
    const ring = this.ring;
    const bytes = ring.bytes;
    const off = ring.offset[slot]!;
    const len = ring.length[slot]!;
    this.sender = undefined;
    if (len < ENCAP_LEN) return this.dropped(slot, VxlanDrop.Short);
    if (checkVxlanHeader(bytes, off, len) !== VxlanVerdict.Ok) return this.dropped(slot, VxlanDrop.BadFlags);
    if (readVni(bytes, off) !== this.vni) return this.dropped(slot, VxlanDrop.WrongVni);
    const eth = off + VXLAN_HEADER_LEN;
    const etherType = readEtherType(bytes, eth);
    const toUs = macEquals(bytes, eth, this.vtepMac);
    // IPv6 multicast (33:33:...) may be a neighbour solicitation for our VTEP; checked below.
    const multicast6 = etherType === ETHERTYPE_IPV6 && bytes[eth] === 0x33 && bytes[eth + 1] === 0x33 && this.vtepIp6 !== undefined;
    if (!toUs && !multicast6) {
      // Broadcast is for ARP only; unicast to another MAC or other multicast is not ours.
      if (!(etherType === ETHERTYPE_ARP && isBroadcastMac(bytes, eth))) return this.dropped(slot, VxlanDrop.NotForUs);
    }
    if (etherType === ETHERTYPE_ARP) return this.answerArp(slot, eth + ETH_HEADER_LEN, len - ENCAP_LEN, fromAddress);
    if (etherType !== ETHERTYPE_IPV4 && etherType !== ETHERTYPE_IPV6) return this.dropped(slot, VxlanDrop.UnknownEthertype);

    const ip = off + ENCAP_LEN;
    if (checkIpPacket(bytes, ip, len - ENCAP_LEN) !== IpVerdict.Ok) return this.dropped(slot, VxlanDrop.BadIp);
    if (bytes[ip]! >> 4 === 4 ? etherType !== ETHERTYPE_IPV4 : etherType !== ETHERTYPE_IPV6) return this.dropped(slot, VxlanDrop.BadIp);
    if (this.vtepIp6 !== undefined && etherType === ETHERTYPE_IPV6 && isSolicitationFor(bytes, ip, ipPacketLength(bytes, ip), this.vtepIp6)) {
      return this.answerSolicitation(slot, eth, ip, fromAddress);
    }
    if (!toUs) return this.dropped(slot, VxlanDrop.NdpIgnored);
    // Strip the headers and any Ethernet padding behind the IP packet.
    const ipTotal = ipPacketLength(bytes, ip);
    ring.offset[slot] = ip;
    ring.length[slot] = ipTotal;
    const rco = readRcoStart(bytes, off);
    if (rco >= 0 && !this.takeRco(slot, ip, ipTotal, rco - ETH_HEADER_LEN, readRcoFieldOffset(bytes, off))) return this.dropped(slot, VxlanDrop.BadRco);
    // VXLAN carries no identity: the sender is whoever owns the underlay address.
    const peer = this.directory!.byAddress(fromAddress);
    if (peer !== undefined) peer.traffic.rxBytes += ipTotal;
    this.sender = peer;
    return Received.Deliver;
  }

  /**
   * A frame whose sender left a checksum partial (RCO), its sum starting
   * `start` bytes into the IP packet: TCP's, at its TCP header, is marked
   * and handed on partial; any other is finished here. False when the field
   * would lie outside the IP payload.
   */
  private takeRco(slot: number, ip: number, len: number, start: number, fieldOffset: number): boolean {
    const bytes = this.ring.bytes;
    const minStart = bytes[ip]! >> 4 === 4 ? (bytes[ip]! & 0x0f) << 2 : IPV6_HEADER_LEN;
    if (start < minStart || start + fieldOffset + 2 > len) return false;
    if (fieldOffset === TCP_CHECKSUM_OFFSET && tcpHeaderStart(bytes, ip, len) === start) this.ring.csum[slot] = CsumState.Partial;
    else finishChecksumAt(bytes, ip, len, start, fieldOffset);
    return true;
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
    const peer = this.directory!.byAddress(fromAddress);
    this.arpReplies++;
    this.transport.send(slot, peer?.endpoint ?? { address: fromAddress, port: this.port });
    return Received.Consumed;
  }

  /**
   * Answer a neighbour solicitation for our VTEP address in place with an
   * advertisement, to the MAC it asked from, and send it back.
   */
  private answerSolicitation(slot: number, eth: number, ip: number, fromAddress: string): Received {
    const ring = this.ring;
    const bytes = ring.bytes;
    const start = ring.offset[slot]!;
    const total = ip + IPV6_HEADER_LEN + NDP_ADVERTISEMENT_LEN - start;
    // The advertisement may be longer than a solicitation without options.
    if (total > ring.length[slot]! + ring.tailroomOf(slot)) return this.dropped(slot, VxlanDrop.NdpIgnored);
    // Its destination MAC: the source link-layer option, else the frame's source.
    if (!solicitationSourceMac(bytes, ip, ipPacketLength(bytes, ip), bytes, eth)) bytes.copyWithin(eth, eth + 6, eth + 12);
    bytes.set(this.vtepMac, eth + 6);
    writeAdvertisementInPlace(bytes, ip, this.vtepMac);
    ring.length[slot] = total;
    this.ndpReplies++;
    const peer = this.directory!.byAddress(fromAddress);
    this.transport.send(slot, peer?.endpoint ?? { address: fromAddress, port: this.port });
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

  createPeer(spec: PeerSpec): VxlanPeer {
    return new VxlanPeer(spec, this.requireEndpoint(spec), this.requireMac(spec), this);
  }

  /** The table hands back only peers this encapsulation made. */
  updatePeer(peer: VxlanPeer, spec: PeerSpec): VxlanPeer {
    const vtepMac = this.requireMac(spec);
    peer.endpoint = this.requireEndpoint(spec);
    peer.subnets = spec.subnets;
    peer.publicKey = spec.publicKey;
    peer.vtepMac = vtepMac;
    peer.finishesChecksums = spec.finishesChecksums ?? false;
    return peer;
  }

  removePeer(_peer: VxlanPeer): void {
    // Nothing waits for a VXLAN peer.
  }

  drops(): Record<string, number> {
    return this.dropCounters.toObject();
  }

  /** Our VTEP addresses after the node's subnet moved: the ARP and neighbour discovery targets we answer. */
  readdress(vtepIp: number, vtepIp6: Uint8Array | undefined): void {
    this.vtepIp = vtepIp >>> 0;
    this.vtepIp6 = vtepIp6;
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
}

