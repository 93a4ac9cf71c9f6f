/**
 * Pod subnet allocation without a coordinator. Each node owns one subnet
 * (default /24) of the cluster CIDR (default 10.244.0.0/16, Flannel's and
 * kubeadm's usual pod CIDR) and announces it in its signed record.
 *
 * A node picks a subnet that no record it knows claims, starting its scan at
 * a hash of its name so that nodes joining together rarely pick the same one.
 * When two records still claim one subnet, every node applies the same rule
 * to the same pair of records, so all agree on the winner without talking:
 * a configured subnet beats an allocated one, then the earlier claim wins
 * (a node already serving pods keeps them; a conflict only arises between
 * nodes that claimed concurrently, before either had pods), then the lower
 * name. The loser picks again.
 *
 * A dead or departed node's subnet stays taken for a grace period: its pods'
 * addresses may still be in flight or cached, and it may come back (a
 * restart reads its lease and reclaims the same subnet).
 *
 * Dual-stack: one allocator per address family, each over its own cluster
 * CIDR, each reading and writing only its family's subnet, claim time and
 * configured flag in the record (the IPv4 ones are v1's fields, the IPv6
 * ones v2's). The rule above is applied to each family on its own, so
 * losing an IPv6 conflict never moves a node's IPv4 subnet or its seniority
 * there, and an IPv4-only cluster allocates exactly as before.
 */
import type { Member } from '../gossip/member.ts';
import { MemberState } from '../gossip/member.ts';
import { RecordFlag } from '../gossip/record.ts';
import type { NodeRecord, RecordFields } from '../gossip/record.ts';
import { WeftError } from '../errors.ts';
import { formatCidr, parseCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import { readLease, writeLease } from './lease-file.ts';

export const DEFAULT_CLUSTER_CIDR = '10.244.0.0/16';
export const DEFAULT_SUBNET_BITS = 24;
/**
 * The IPv6 cluster when IPv6 is enabled without one: a unique local prefix
 * (RFC 4193, fd00::/8), the one kind and kubeadm's dual-stack examples use,
 * so that its digits echo the IPv4 default. RFC 4193 asks for a random
 * 40-bit global ID to avoid clashes between sites that later merge; a
 * cluster joined to others should choose its own.
 */
export const DEFAULT_CLUSTER_CIDR6 = 'fd00:10:244::/56';
/** /64 per node: RFC 4291's interface identifiers are 64 bits, and SLAAC and most tooling expect a /64 link. */
export const DEFAULT_SUBNET6_BITS = 64;
/** 5 min: longer than any detection and partition-heal time, short enough that a dead node's space is reused the same hour. */
export const DEFAULT_GRACE_MS = 300_000;

export interface Claim {
  readonly name: string;
  readonly index: number;
  readonly claimedAt: number;
  readonly configured: boolean;
}

export function subnetCount(cluster: Cidr, bits: number): number {
  return 2 ** (bits - cluster.bits);
}

/** Address bits of a family. */
function widthOf(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function toBig(addr: Uint8Array): bigint {
  let n = 0n;
  for (const b of addr) n = (n << 8n) | BigInt(b);
  return n;
}

function fromBig(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** The `index`th /`bits` of the cluster CIDR (either family; cold path, so BigInt for IPv6's 128 bits). */
export function subnetAt(cluster: Cidr, bits: number, index: number): Cidr {
  const n = toBig(cluster.addr) + (BigInt(index) << BigInt(widthOf(cluster.family) - bits));
  return { family: cluster.family, addr: fromBig(n, cluster.addr.length), bits };
}

/** The index of `subnet` in the cluster's list, or -1 when it is not one of them. */
export function subnetIndex(cluster: Cidr, bits: number, subnet: Cidr): number {
  if (subnet.family !== cluster.family || subnet.bits !== bits) return -1;
  const off = toBig(subnet.addr) - toBig(cluster.addr);
  const size = 1n << BigInt(widthOf(cluster.family) - bits);
  if (off < 0n || off % size !== 0n) return -1;
  const i = Number(off / size);
  return i < subnetCount(cluster, bits) ? i : -1;
}

/** This family's subnet in a record (the first: gossip claims one per family). */
export function subnetOf(record: NodeRecord, family: 4 | 6): Cidr | undefined {
  return record.subnets.find((s) => s.family === family);
}

/** Where a record keeps each family's claim: the claim time and the configured flag. */
function claimOf(record: NodeRecord, family: 4 | 6): { claimedAt: number; configured: boolean } {
  return family === 4
    ? { claimedAt: record.subnetClaimedAt, configured: (record.flags & RecordFlag.SubnetConfigured) !== 0 }
    : { claimedAt: record.subnet6ClaimedAt ?? 0, configured: (record.flags & RecordFlag.Subnet6Configured) !== 0 };
}

/** Whether claim a beats claim b for the same subnet. Total and the same on every node. */
export function beats(a: Claim, b: Claim): boolean {
  if (a.configured !== b.configured) return a.configured;
  if (a.claimedAt !== b.claimedAt) return a.claimedAt < b.claimedAt;
  return a.name < b.name;
}

/** A start index from the name (FNV-1a), spreading concurrent joiners over the space. */
export function startIndex(name: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}

/** The first index from `start` (wrapping) not in `taken`, or -1 when the cluster CIDR is full. */
export function pickFree(count: number, taken: ReadonlySet<number>, start: number): number {
  for (let k = 0; k < count; k++) {
    const i = (start + k) % count;
    if (!taken.has(i)) return i;
  }
  return -1;
}

/** What the allocator needs from membership (Membership satisfies it). */
export interface MembershipView {
  readonly name: string;
  readonly record: NodeRecord;
  all(): Member[];
  updateSelf(patch: Partial<RecordFields>): void;
}

/** One subnet per enabled family, as a node holds them. */
export interface FamilySubnets {
  readonly v4: Cidr | undefined;
  readonly v6: Cidr | undefined;
}

export interface AllocatorOptions {
  membership: MembershipView;
  /** Monotonic clock of the membership (member state times are on it). */
  now: () => number;
  /** Wall clock for claim times, which are compared across nodes. */
  wallNow: () => number;
  /** The family's cluster CIDR (default the IPv4 10.244.0.0/16); its family is the allocator's. */
  cluster?: Cidr;
  /** Default /24 for IPv4, /64 for IPv6. */
  subnetBits?: number;
  graceMs?: number;
  /** An operator-chosen subnet: always used, and it wins conflicts against allocated ones. */
  configured?: Cidr;
  leaseFile?: string;
}

export class SubnetAllocator {
  readonly cluster: Cidr;
  readonly family: 4 | 6;
  readonly bits: number;
  readonly graceMs: number;
  readonly count: number;
  conflictsLost = 0;

  constructor(private readonly o: AllocatorOptions) {
    this.cluster = o.cluster ?? parseCidr(DEFAULT_CLUSTER_CIDR);
    this.family = this.cluster.family;
    this.bits = o.subnetBits ?? (this.family === 4 ? DEFAULT_SUBNET_BITS : DEFAULT_SUBNET6_BITS);
    this.graceMs = o.graceMs ?? DEFAULT_GRACE_MS;
    if (this.family === 4 && (this.bits < this.cluster.bits || this.bits > 30)) {
      throw new WeftError('CONFIG_INVALID', `subnet size /${this.bits} must be inside the IPv4 cluster CIDR ${formatCidr(this.cluster)} and at most /30`);
    }
    // 2^24 subnets at most: the scan for a free one stays bounded and an index stays exact as a number.
    if (this.family === 6 && (this.bits < this.cluster.bits || this.bits > 126 || this.bits - this.cluster.bits > 24)) {
      throw new WeftError('CONFIG_INVALID', `subnet size /${this.bits} must be inside the IPv6 cluster CIDR ${formatCidr(this.cluster)}, at most /126 and at most 24 bits longer`);
    }
    this.count = subnetCount(this.cluster, this.bits);
    if (o.configured !== undefined && subnetIndex(this.cluster, this.bits, o.configured) < 0) {
      throw new WeftError('CONFIG_INVALID', `configured subnet ${formatCidr(o.configured)} is not a /${this.bits} inside ${formatCidr(this.cluster)}`);
    }
  }

  /** Our current subnet index, or -1. */
  current(): number {
    const s = subnetOf(this.o.membership.record, this.family);
    return s === undefined ? -1 : subnetIndex(this.cluster, this.bits, s);
  }

  /** Others' claims that hold their subnet: live members, and dead or departed ones within the grace period. */
  claims(): Claim[] {
    const now = this.o.now();
    const out: Claim[] = [];
    for (const m of this.o.membership.all()) {
      if (m.name === this.o.membership.name) continue;
      if (!m.isLive && !(m.state === MemberState.Dead || m.state === MemberState.Left)) continue;
      if (!m.isLive && now - m.since >= this.graceMs) continue;
      const r = m.record;
      const s = subnetOf(r, this.family);
      if (s === undefined) continue;
      const index = subnetIndex(this.cluster, this.bits, s);
      if (index < 0) continue;
      out.push({ name: r.name, index, ...claimOf(r, this.family) });
    }
    return out;
  }

  /** Decide our subnet now (configured, else our lease if still ours, else a free one) and announce it. */
  allocate(): Cidr {
    const claims = this.claims();
    if (this.o.configured !== undefined) return this.claim(subnetIndex(this.cluster, this.bits, this.o.configured), this.o.wallNow(), true);
    const lease = this.o.leaseFile === undefined ? null : readLease(this.o.leaseFile);
    if (lease !== null && formatCidr(lease.cluster) === formatCidr(this.cluster)) {
      const i = subnetIndex(this.cluster, this.bits, lease.subnet);
      const mine: Claim = { name: this.o.membership.name, index: i, claimedAt: lease.claimedAt, configured: false };
      if (i >= 0 && !claims.some((c) => c.index === i && beats(c, mine))) return this.claim(i, lease.claimedAt, false);
    }
    return this.pick(claims);
  }

  /** Re-check after the map changed: if another claim on our subnet beats ours, pick again. True if we moved. */
  check(): boolean {
    const i = this.current();
    if (i < 0) return false;
    const r = this.o.membership.record;
    const mine: Claim = { name: r.name, index: i, ...claimOf(r, this.family) };
    const claims = this.claims();
    if (!claims.some((c) => c.index === i && beats(c, mine))) return false;
    if (mine.configured) return false; // an operator's choice is kept; the other configured node holds it
    this.conflictsLost++;
    this.pick(claims);
    return true;
  }

  private pick(claims: Claim[]): Cidr {
    const taken = new Set(claims.map((c) => c.index));
    const i = pickFree(this.count, taken, startIndex(this.o.membership.name, this.count));
    if (i < 0) throw new WeftError('IPAM_EXHAUSTED', `no free /${this.bits} left in ${formatCidr(this.cluster)}; use a larger cluster CIDR or a smaller subnet size`);
    return this.claim(i, this.o.wallNow(), false);
  }

  private claim(index: number, claimedAt: number, configured: boolean): Cidr {
    const subnet = subnetAt(this.cluster, this.bits, index);
    const r = this.o.membership.record;
    // The other family's subnet stays; IPv4 first, as v1 records and subnets[0] readers expect.
    const subnets = [...r.subnets.filter((s) => s.family !== this.family), subnet].sort((a, b) => a.family - b.family);
    const flag = this.family === 4 ? RecordFlag.SubnetConfigured : RecordFlag.Subnet6Configured;
    const flags = (r.flags & ~flag) | (configured ? flag : 0);
    if (this.family === 4) {
      const vtep = subnet.addr;
      // The VTEP IP is the subnet's network address, as in Flannel.
      this.o.membership.updateSelf({ subnets, subnetClaimedAt: claimedAt, flags, vtepIp: `${vtep[0]}.${vtep[1]}.${vtep[2]}.${vtep[3]}` });
    } else {
      this.o.membership.updateSelf({ subnets, subnet6ClaimedAt: claimedAt, flags });
    }
    if (this.o.leaseFile !== undefined) writeLease(this.o.leaseFile, { cluster: this.cluster, subnet, claimedAt });
    return subnet;
  }
}
