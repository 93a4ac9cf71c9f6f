/**
 * The gossip control plane in a running node: membership on its own UDP
 * socket, the subnet allocator, and the bridge from membership events to the
 * data plane's add / update / remove calls. Peers appear when their record
 * arrives and disappear only when they are declared dead or leave (never
 * while merely suspected), so routes follow the cluster without flapping.
 *
 * Dual-stack: one allocator per enabled family. A peer's spec carries every
 * subnet its record names, IPv4 and IPv6, so the data plane routes and
 * checks sources for both.
 *
 * Underlay families: a node may be on IPv4, IPv6 or both (dual underlay:
 * its socket on '::', both addresses in its record). Each record is read
 * with the address this node reaches it at (decodeReachable: a family both
 * have, IPv6 when both have both), for gossip and the data plane alike. A
 * peer sharing no family with this node has no direct path: it stays a
 * member (probed through others), but is not handed to the data plane (its
 * pods' packets are counted as no_route) and status lists it as unreachable.
 */
import type { PeerControl, PeerSpec } from '../dataplane/peer.ts';
import { RealClock } from '../gossip/clock.ts';
import { loadOrCreateIdentity } from '../gossip/identity.ts';
import { Keyring } from '../gossip/keyring.ts';
import { MemberState, Membership } from '../gossip/membership.ts';
import type { GossipPeer, MemberEvent } from '../gossip/membership.ts';
import { RecordFlag, decodeReachable } from '../gossip/record.ts';
import type { NodeRecord } from '../gossip/record.ts';
import { UdpGossipTransport } from '../gossip/udp-transport.ts';
import { SubnetAllocator, subnetOf } from '../ipam/allocator.ts';
import type { FamilySubnets } from '../ipam/allocator.ts';
import { leasePath } from '../ipam/lease-file.ts';
import type { Cidr } from '../wire/addr.ts';
import { formatCidr } from '../wire/addr.ts';
import { isIP } from 'node:net';

export interface GossipControlOptions {
  name: string;
  /** This node's underlay address (IPv4 or IPv6): where peers send both gossip and data. */
  address: string;
  /**
   * A dual underlay: one address per family, both announced (the gossip
   * socket then binds to '::'); `address` is ignored.
   */
  addresses?: readonly string[] | undefined;
  port: number;
  seeds: ReadonlyArray<{ address: string; port: number }>;
  keys: readonly Uint8Array[];
  stateDir: string;
  /** The data plane's UDP port here (VXLAN or WireGuard), announced to peers. */
  dataPort: number;
  location: string;
  vtepMac: Uint8Array;
  wgPublicKey: Uint8Array | null;
  /** Announce that peers may leave TCP checksums partial for us (RecordFlag.FinishesChecksums). */
  finishesChecksums?: boolean;
  /** The IPv4 cluster CIDR: undefined in an IPv6-only pod network (then cluster6 is set). */
  cluster: Cidr | undefined;
  /** An operator-chosen subnet: announced as configured, it wins conflicts. */
  configuredSubnet: Cidr | undefined;
  /** The IPv6 cluster CIDR of a dual-stack cluster: this node then claims an IPv6 /64 too. */
  cluster6?: Cidr | undefined;
  /** An operator-chosen IPv6 subnet (a /64 of cluster6). */
  configuredSubnet6?: Cidr | undefined;
}

export interface GossipStatus {
  members: Record<'alive' | 'suspect' | 'dead' | 'left', number>;
  incarnation: number;
  drops: Record<string, number>;
  /** Live peers on no underlay family of this node's: name -> their underlay address. No direct path. */
  unreachable: Record<string, string>;
}

/** This node's underlay families, and what its record announces. */
function underlayOf(o: GossipControlOptions): { bind: string; families: (4 | 6)[]; announce: { address: string; address6?: string } } {
  const addresses = o.addresses !== undefined && o.addresses.length > 0 ? o.addresses : [o.address];
  const families = addresses.map((a) => (isIP(a) === 6 ? 6 : 4) as 4 | 6);
  if (addresses.length === 1) return { bind: addresses[0]!, families, announce: { address: addresses[0]! } };
  const v4 = addresses.find((a) => isIP(a) === 4)!;
  const v6 = addresses.find((a) => isIP(a) === 6)!;
  return { bind: '::', families, announce: { address: v4, address6: v6 } };
}

/** A gossip peer as the data plane takes it: the record's WireGuard key and location included. */
export function peerSpecOf(peer: GossipPeer, record: NodeRecord): PeerSpec {
  return {
    ...peer,
    ...(record.wgPublicKey !== null ? { publicKey: record.wgPublicKey } : {}),
    location: record.location,
    finishesChecksums: (record.flags & RecordFlag.FinishesChecksums) !== 0,
  };
}

export class GossipControl {
  /** Peer records the data plane refused (apply): wire input, so counted, never thrown. */
  private peersRejected = 0;
  /** Live peers sharing no underlay family with this node, by name: their address. */
  private readonly unreachable = new Map<string, string>();

  private constructor(
    /** This node's underlay families (a peer is reached on the first it has). */
    private readonly families: readonly (4 | 6)[],
    private readonly transport: UdpGossipTransport,
    readonly membership: Membership,
    /** The IPv4 subnet's allocator; none in an IPv6-only pod network. */
    readonly allocator: SubnetAllocator | undefined,
    /** The IPv6 subnet's, in a dual-stack cluster. */
    readonly allocator6: SubnetAllocator | undefined,
  ) {}

  static async start(o: GossipControlOptions): Promise<GossipControl> {
    const underlay = underlayOf(o);
    const transport = await UdpGossipTransport.bind(underlay.bind, o.port);
    const clock = new RealClock();
    const identity = loadOrCreateIdentity(o.stateDir);
    const [primary, ...old] = o.keys;
    const membership = new Membership({
      clock,
      transport,
      keyring: new Keyring(primary!, old),
      secretKey: identity.secretKey,
      // Seconds since the epoch: a restarted node speaks above what it said in its previous life.
      incarnation: Math.floor(Date.now() / 1000) % 2 ** 31,
      // Every record names the address we reach it at, in a family we have.
      decode: decodeReachable(underlay.families),
      self: {
        name: o.name,
        flags: o.finishesChecksums === true ? RecordFlag.FinishesChecksums : 0,
        wgPublicKey: o.wgPublicKey,
        ...underlay.announce,
        gossipPort: transport.port,
        dataPort: o.dataPort,
        vtepMac: o.vtepMac,
        vtepIp: '0.0.0.0',
        subnetClaimedAt: 0,
        location: o.location,
        subnets: [],
      },
    });
    const allocatorFor = (cluster: Cidr, configured: Cidr | undefined): SubnetAllocator => new SubnetAllocator({
      membership,
      now: () => clock.now(),
      wallNow: () => Date.now(),
      cluster,
      ...(configured ? { configured } : {}),
      leaseFile: leasePath(o.stateDir, cluster.family),
    });
    if (o.cluster === undefined && o.cluster6 === undefined) throw new RangeError('a cluster CIDR of at least one family');
    const allocator = o.cluster === undefined ? undefined : allocatorFor(o.cluster, o.configuredSubnet);
    const allocator6 = o.cluster6 === undefined ? undefined : allocatorFor(o.cluster6, o.configuredSubnet6);
    membership.start();
    membership.join(o.seeds);
    return new GossipControl(underlay.families, transport, membership, allocator, allocator6);
  }

  private allocators(): SubnetAllocator[] {
    return [this.allocator, this.allocator6].filter((a) => a !== undefined);
  }

  /**
   * Claim our subnets, one per enabled family: wait (up to `waitMs`) for the
   * map to arrive from a seed, so the claims see the others', then allocate
   * (a configured subnet is announced as such). A node with no seeds (the
   * first) claims at once. The IPv4 allocator also sets the VTEP address
   * (an IPv6-only node announces none: 0.0.0.0).
   */
  async claimSubnet(waitMs: number, hasSeeds: boolean): Promise<FamilySubnets> {
    const deadline = Date.now() + waitMs;
    while (hasSeeds && this.membership.liveCount <= 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // One more round of anti-entropy brings the records the first contact did not carry.
    if (hasSeeds) await new Promise((r) => setTimeout(r, 300));
    return { v4: this.allocator?.allocate(), v6: this.allocator6?.allocate() };
  }

  /**
   * Feed the data plane: the peers known now, then every change. `changed` runs
   * after each (routes, logs); `subnetMoved` when a conflict moved one of our
   * own (either family).
   */
  attach(dataplane: PeerControl, changed: (e: MemberEvent | null) => void, subnetMoved: (subnet: Cidr) => void, adjust: (spec: PeerSpec) => PeerSpec = (x) => x): void {
    for (const m of this.membership.all()) {
      if (m.name === this.membership.name || !m.isLive) continue;
      this.apply(dataplane, 'peer-added', m.name, adjust(peerSpecOf({ name: m.record.name, endpoint: { address: m.record.address, port: m.record.dataPort }, subnets: m.record.subnets, vtepMac: m.record.vtepMac }, m.record)));
    }
    changed(null);
    this.membership.on((e) => {
      for (const a of this.allocators()) {
        const before = subnetOf(this.membership.record, a.family);
        if (!a.check()) continue;
        const now = subnetOf(this.membership.record, a.family);
        if (now !== undefined && (before === undefined || formatCidr(before) !== formatCidr(now))) subnetMoved(now);
      }
      this.apply(dataplane, e.type, e.name, adjust(peerSpecOf(e.peer, e.record)));
      changed(e);
    });
  }

  private apply(dataplane: PeerControl, type: MemberEvent['type'], name: string, spec: PeerSpec): void {
    const address = spec.endpoint?.address;
    const direct = type === 'peer-removed' || address === undefined || this.families.includes(isIP(address) === 6 ? 6 : 4);
    if (direct) this.unreachable.delete(name);
    else this.unreachable.set(name, address);
    try {
      // No direct path: not a data plane peer (its pods' packets count as no_route there).
      if (type === 'peer-removed' || !direct) {
        if (dataplane.hasPeer(name)) dataplane.removePeer(name);
      }
      else if (dataplane.hasPeer(name)) dataplane.updatePeer(spec);
      else dataplane.addPeer(spec);
    } catch {
      // A record the data plane cannot take (a subnet still held by another peer
      // during a conflict, a WireGuard peer without a key): skipped until its
      // next change, and counted among gossip's drops (peer-rejected).
      this.peersRejected++;
    }
  }

  status(): GossipStatus {
    const members = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.membership.all()) {
      if (m.state === MemberState.Alive) members.alive++;
      else if (m.state === MemberState.Suspect) members.suspect++;
      else if (m.state === MemberState.Dead) members.dead++;
      else members.left++;
    }
    return {
      members,
      incarnation: this.membership.incarnation,
      drops: { ...this.membership.drops.toObject(), 'peer-rejected': this.peersRejected },
      unreachable: Object.fromEntries(this.unreachable),
    };
  }

  /** Leave gracefully (peers drop our routes at once instead of after suspicion), then close. */
  async stop(): Promise<void> {
    this.membership.leave();
    await new Promise((r) => setTimeout(r, 300));
    this.membership.stop();
    this.transport.close();
  }
}
