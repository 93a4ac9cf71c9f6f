/**
 * The networks in the config, per address family: the underlay this node is
 * reached on (parseUnderlay, below), and the pod network: the cluster CIDR
 * and this node's subnet. IPv4 is as it always was; IPv6 is added the way
 * Kubernetes spells dual-stack (`--cluster-cidr=10.244.0.0/16,fd00:10:244::/56`):
 *
 *   "clusterCidr": "10.244.0.0/16"                          IPv4 only (the default)
 *   "clusterCidr": "10.244.0.0/16,fd00:10:244::/56"         dual-stack (or a list of the two)
 *   "ipv6": true                                            dual-stack with the default fd00:10:244::/56
 *                                                           (Flannel's EnableIPv6)
 *   "subnet": "10.244.1.0/24,fd00:10:244:1::/64"            this node's subnets, one per family
 *   "clusterCidr": "fd00:10:244::/56"                       IPv6 only: no IPv4 cluster, subnet
 *                                                           or VTEP address (Flannel with EnableIPv4 off)
 */
import { isIP } from 'node:net';
import { DEFAULT_CLUSTER_CIDR, DEFAULT_CLUSTER_CIDR6, DEFAULT_SUBNET6_BITS } from '../ipam/allocator.ts';
import { formatCidr, formatIpv6, parseCidr, parseIpv6 } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import { boolean, cidr, fail, integer, object, onlyKeys, overlaps, string } from './config-fields.ts';
import type { Json } from './config-fields.ts';

export interface PodNetwork {
  /** The IPv4 cluster CIDR, or undefined in an IPv6-only pod network. */
  clusterCidr: Cidr | undefined;
  /** The IPv6 cluster CIDR, or undefined when the cluster is IPv4 only. */
  clusterCidr6: Cidr | undefined;
  /** Configured, or undefined when gossip allocates it. */
  subnet: Cidr | undefined;
  /** Configured, or undefined when gossip allocates it (or IPv6 is off). */
  subnet6: Cidr | undefined;
}

/** The fewest bits an IPv6 cluster may have: at most 2^16 node /64s, as Kubernetes allows per node CIDR mask. */
export const MIN_CLUSTER6_BITS = DEFAULT_SUBNET6_BITS - 16;

const DUAL_EXAMPLE = '10.244.0.0/16,fd00:10:244::/56';

/** One CIDR, a comma-separated pair or a list of two: at most one per family. */
export function perFamily(v: unknown, field: string, example: string): { 4?: Cidr; 6?: Cidr } {
  const items = typeof v === 'string' && v.includes(',') ? v.split(',').map((x) => x.trim()) : Array.isArray(v) ? v : [v];
  if (items.length === 0 || items.length > 2) fail(field, `one CIDR, or one IPv4 and one IPv6, such as "${example}"`, v);
  const out: { 4?: Cidr; 6?: Cidr } = {};
  for (const [i, item] of items.entries()) {
    // A bad entry is shown a valid one of its own family.
    const parts = example.split(',');
    const one = typeof item === 'string' && item.includes(':') ? (parts[1] ?? parts[0]!) : parts[0]!;
    const c = cidr(item, items.length > 1 && Array.isArray(v) ? `${field}[${i}]` : field, one);
    if (out[c.family] !== undefined) fail(field, `at most one IPv${c.family} CIDR (one per family), such as "${example}"`, v);
    out[c.family] = c;
  }
  return out;
}

/** The pod network's CIDRs, IPv4's first: either or both, by what the cluster has. */
export function clusterCidrsOf(net: { clusterCidr: Cidr | undefined; clusterCidr6: Cidr | undefined }): Cidr[] {
  return subnetsOf({ ...(net.clusterCidr ? { 4: net.clusterCidr } : {}), ...(net.clusterCidr6 ? { 6: net.clusterCidr6 } : {}) });
}

/** The CIDRs of a per-family pair, IPv4 first. */
export function subnetsOf(pair: { 4?: Cidr; 6?: Cidr }): Cidr[] {
  return [pair[4], pair[6]].filter((c): c is Cidr => c !== undefined);
}

/** Prefixes a pod network must not take: multicast (ff00::/8), link-local (fe80::/10), loopback and unspecified. */
function unusable6(c: Cidr): boolean {
  const a = c.addr;
  if (a[0] === 0xff || (a[0] === 0xfe && (a[1]! & 0xc0) === 0x80)) return true;
  return a.every((b, i) => i === 15 || b === 0) && a[15]! <= 1;
}

/** Validate clusterCidr, ipv6 and subnet. `hasGossip`: subnets may be left to the allocator. */
export function parsePodNetwork(root: Json, hasGossip: boolean): PodNetwork {
  const clusters = perFamily(root.clusterCidr ?? DEFAULT_CLUSTER_CIDR, 'clusterCidr', DUAL_EXAMPLE);
  // No IPv4 CIDR listed: an IPv6-only pod network.
  const clusterCidr = clusters[4];
  const ipv6 = boolean(root.ipv6, 'ipv6', clusters[6] !== undefined);
  if (!ipv6 && clusters[6] !== undefined) fail('ipv6', 'true, or leave it out, when clusterCidr lists an IPv6 CIDR', root.ipv6);
  const clusterCidr6 = ipv6 ? (clusters[6] ?? parseCidr(DEFAULT_CLUSTER_CIDR6)) : undefined;
  if (clusterCidr6 !== undefined && (clusterCidr6.bits < MIN_CLUSTER6_BITS || clusterCidr6.bits > DEFAULT_SUBNET6_BITS)) {
    fail('clusterCidr', `an IPv6 CIDR from /${MIN_CLUSTER6_BITS} to /${DEFAULT_SUBNET6_BITS} (each node takes a /${DEFAULT_SUBNET6_BITS}), such as fd00:10:244::/56`, formatCidr(clusterCidr6));
  }
  if (clusterCidr6 !== undefined && unusable6(clusterCidr6)) {
    fail('clusterCidr', 'a unicast IPv6 prefix, not multicast, link-local or loopback: a unique local one such as fd00:10:244::/56', formatCidr(clusterCidr6));
  }

  if (root.subnet === undefined && !hasGossip) fail('subnet', 'this node\'s pod subnet such as 10.244.1.0/24 (or a "gossip" section, which allocates one)', undefined);
  const subnets = root.subnet === undefined ? {} : perFamily(root.subnet, 'subnet', '10.244.1.0/24,fd00:10:244:1::/64');
  const subnet = subnets[4];
  const subnet6 = subnets[6];
  if (clusterCidr !== undefined && root.subnet !== undefined && subnet === undefined) {
    fail('subnet', 'an IPv4 subnet, alone or with an IPv6 one (the VTEP address is the IPv4 one\'s network address)', root.subnet);
  }
  if (clusterCidr === undefined && subnet !== undefined) {
    fail('subnet', `an IPv6 subnet only, such as fd00:10:244:1::/64, in an IPv6-only pod network (or add an IPv4 CIDR to clusterCidr, such as "${DUAL_EXAMPLE}")`, root.subnet);
  }
  if (clusterCidr !== undefined && subnet !== undefined && (!overlaps(clusterCidr, subnet) || subnet.bits < clusterCidr.bits)) {
    fail('subnet', `a subnet inside clusterCidr ${formatCidr(clusterCidr)}`, root.subnet);
  }
  if (subnet6 !== undefined) {
    if (clusterCidr6 === undefined) fail('subnet', `an IPv6 subnet only in a dual-stack cluster: add an IPv6 CIDR to clusterCidr, such as "${DUAL_EXAMPLE}", or set "ipv6": true`, root.subnet);
    if (!overlaps(clusterCidr6, subnet6) || subnet6.bits < clusterCidr6.bits) fail('subnet', `an IPv6 subnet inside ${formatCidr(clusterCidr6)}`, root.subnet);
    // Gossip hands out /64s, so a configured one must be one of them to be compared with theirs.
    if (hasGossip && subnet6.bits !== DEFAULT_SUBNET6_BITS) fail('subnet', `an IPv6 /${DEFAULT_SUBNET6_BITS} under gossip, such as fd00:10:244:1::/64`, root.subnet);
  }
  if (!hasGossip && clusterCidr6 !== undefined && subnet6 === undefined) {
    const example = clusterCidr === undefined ? 'fd00:10:244:1::/64' : '10.244.1.0/24,fd00:10:244:1::/64';
    fail('subnet', `an IPv6 subnet as well in a ${clusterCidr === undefined ? 'IPv6-only' : 'dual-stack'} cluster without gossip, such as "${example}"`, root.subnet);
  }
  return { clusterCidr, clusterCidr6, subnet, subnet6 };
}

/** Where this node is on the underlay. */
export interface Underlay {
  /** Where its UDP sockets bind: the one configured address, or '::' (dual-stack) when there is one per family. */
  address: string;
  /** The configured addresses, one per family, as given: what gossip announces to peers (status shows the first first). */
  addresses: readonly string[];
  mtu: number;
}

const UNDERLAY_EXAMPLE = '192.168.50.1,fd00:50::1';

/**
 * The "underlay" section. `address` is one IP address, or one per family
 * ("192.168.50.1,fd00:50::1", or a list of two), as clusterCidr takes its
 * pair: a node on both underlay families (dual underlay) binds its sockets
 * to '::' and announces both addresses, so each peer reaches it in a family
 * the peer has (IPv6 when the peer has both too). Under gossip the
 * addresses are announced, so they must be this node's own, not '0.0.0.0'
 * or '::'.
 */
export function parseUnderlay(v: unknown, hasGossip: boolean): Underlay {
  const u = object(v, 'underlay');
  onlyKeys(u, 'underlay', ['address', 'mtu']);
  const raw = u.address;
  const items = typeof raw === 'string' && raw.includes(',') ? raw.split(',').map((x) => x.trim()) : Array.isArray(raw) ? raw : [raw];
  if (items.length === 0 || items.length > 2) fail('underlay.address', `this node's underlay IP address, or one per family such as "${UNDERLAY_EXAMPLE}"`, raw);
  const addresses: string[] = [];
  for (const item of items) {
    const text = string(item, 'underlay.address', '192.168.50.1');
    const family = isIP(text);
    if (family === 0) fail('underlay.address', `this node's underlay IP address, such as 192.168.50.1, or one per family such as "${UNDERLAY_EXAMPLE}"`, raw);
    if (addresses.some((a) => isIP(a) === family)) fail('underlay.address', `at most one IPv${family} address (one per family), such as "${UNDERLAY_EXAMPLE}"`, raw);
    // Canonical text: peers and the kernel name an IPv6 address so, and senders are matched by it.
    addresses.push(family === 6 ? formatIpv6(parseIpv6(text), 0) : text);
  }
  const unspecified = addresses.find((a) => a === '0.0.0.0' || a === '::');
  if (unspecified !== undefined && addresses.length > 1) {
    fail('underlay.address', `this node's own address in each family, such as "${UNDERLAY_EXAMPLE}" (with two, the sockets bind to '::' and serve both)`, raw);
  }
  if (unspecified !== undefined && hasGossip) {
    fail('underlay.address', `this node's own address, which gossip announces to its peers (not ${unspecified}); to be reached on both families give one per family, such as "${UNDERLAY_EXAMPLE}"`, raw);
  }
  return { address: addresses.length > 1 ? '::' : addresses[0]!, addresses, mtu: integer(u.mtu, 'underlay.mtu', 576, 65535, 1500) };
}

/** The address families of this node's underlay, as configured ('::' serves both). */
export function underlayFamilies(underlay: Pick<Underlay, 'address' | 'addresses'>): (4 | 6)[] {
  if (underlay.address === '::' && underlay.addresses.length === 1) return [6, 4];
  return underlay.addresses.map((a) => (isIP(a) === 6 ? 6 : 4));
}
