/**
 * The node's network as weft publishes it: Flannel's subnet.env, written by
 * `weft up` once the node holds its subnet and its device is up, and removed
 * when it stops (src/cli/up.ts). weft-cni reads it at every ADD, so the
 * conflist never repeats the subnet, and a node that moved to another subnet
 * (a lost lease) is followed without editing anything.
 */
import { readFileSync } from 'node:fs';
import { formatIpv4, formatIpv6, parseCidr, parseIpv4, parseIpv6 } from '../wire/addr.ts';
import { CniError, ErrorCode } from './spec.ts';

export interface NodeNetwork {
  /** The IPv4 side (FLANNEL_NETWORK, FLANNEL_SUBNET); undefined on an IPv6-only node. */
  v4: NodeNetwork4 | undefined;
  /** The pods' MTU: weft's device MTU (FLANNEL_MTU). */
  mtu: number;
  /** A dual-stack or IPv6-only node's IPv6 side (FLANNEL_IPV6_NETWORK, FLANNEL_IPV6_SUBNET); undefined on an IPv4-only node. */
  v6: NodeNetwork6 | undefined;
}

export interface NodeNetwork4 {
  /** The cluster CIDR (FLANNEL_NETWORK), routed into weft's device on the node. */
  clusterCidr: { network: number; bits: number };
  /** This node's subnet (FLANNEL_SUBNET without the host part). */
  subnet: { network: number; bits: number };
  /** The gateway: the bridge's address, the one FLANNEL_SUBNET names. */
  gateway: number;
}

/**
 * IPv6 addresses as 128-bit bigints: a /64 holds 2^64 of them, past what a
 * JavaScript number counts exactly, and the store walks them by adding one.
 */
export interface NodeNetwork6 {
  clusterCidr: { network: bigint; bits: number };
  subnet: { network: bigint; bits: number };
  /** The bridge's IPv6 address, the one FLANNEL_IPV6_SUBNET names (weft writes the subnet's ::1). */
  gateway: bigint;
}

function bad(path: string, details: string): CniError {
  return new CniError(ErrorCode.INVALID_CONFIG, `unusable ${path}`, `${details}; weft writes this file itself (subnetEnv in its config), so check that "subnetEnv" in the conflist names the file of this node's weft`);
}

function ipv4Cidr(path: string, key: string, text: string | undefined): { addr: number; bits: number } {
  if (text === undefined) throw bad(path, `${key} is missing`);
  try {
    // parseCidr checks the whole form; the address part (host bits kept) is the gateway.
    const { bits } = parseCidr(text, { strict: false });
    return { addr: parseIpv4(text.slice(0, text.indexOf('/'))), bits };
  } catch {
    throw bad(path, `${key}=${text} is not an IPv4 prefix such as 10.244.1.1/24`);
  }
}

export function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

const ALL6 = (1n << 128n) - 1n;

export function maskOf6(bits: number): bigint {
  return bits === 0 ? 0n : (ALL6 << BigInt(128 - bits)) & ALL6;
}

export function ipv6Value(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** RFC 5952 text, as iproute2 prints it and the result carries it. */
export function formatIpv6Value(v: bigint): string {
  const bytes = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return formatIpv6(bytes);
}

function ipv6Cidr(path: string, key: string, text: string): { addr: bigint; bits: number } {
  const example = key === 'FLANNEL_IPV6_NETWORK' ? 'fd00:10:244::/56' : 'fd00:10:244:1::1/64';
  try {
    const { family, bits } = parseCidr(text, { strict: false });
    if (family !== 6) throw new Error('not IPv6');
    return { addr: ipv6Value(parseIpv6(text.slice(0, text.indexOf('/')))), bits };
  } catch {
    throw bad(path, `${key}=${text} is not an IPv6 prefix such as ${example}`);
  }
}

/**
 * Flannel's IPv6 pair. Both absent: an IPv4-only node, as before. One
 * without the other, or either malformed, is an unusable file, not a
 * quietly IPv4-only node: weft writes the two together.
 */
function parseIpv6Side(path: string, values: ReadonlyMap<string, string>): NodeNetwork6 | undefined {
  const networkText = values.get('FLANNEL_IPV6_NETWORK');
  const subnetText = values.get('FLANNEL_IPV6_SUBNET');
  if (networkText === undefined && subnetText === undefined) return undefined;
  if (networkText === undefined) throw bad(path, `FLANNEL_IPV6_SUBNET=${subnetText} is given without FLANNEL_IPV6_NETWORK; a dual-stack node writes both, such as FLANNEL_IPV6_NETWORK=fd00:10:244::/56`);
  if (subnetText === undefined) throw bad(path, `FLANNEL_IPV6_NETWORK=${networkText} is given without FLANNEL_IPV6_SUBNET; a dual-stack node writes both, such as FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64`);
  const network = ipv6Cidr(path, 'FLANNEL_IPV6_NETWORK', networkText);
  const subnet = ipv6Cidr(path, 'FLANNEL_IPV6_SUBNET', subnetText);
  if (subnet.bits > 126) throw bad(path, `FLANNEL_IPV6_SUBNET=${subnetText} leaves no addresses for pods (a /126 or larger is needed)`);
  const subnetNet = subnet.addr & maskOf6(subnet.bits);
  if (subnet.addr === subnetNet) throw bad(path, `FLANNEL_IPV6_SUBNET=${subnetText} names the network address; it must name the gateway, such as ${formatIpv6Value(subnetNet + 1n)}/${subnet.bits}`);
  return {
    clusterCidr: { network: network.addr & maskOf6(network.bits), bits: network.bits },
    subnet: { network: subnetNet, bits: subnet.bits },
    gateway: subnet.addr,
  };
}

export function parseSubnetEnv(path: string, text: string): NodeNetwork {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const mtuText = values.get('FLANNEL_MTU');
  const mtu = Number(mtuText);
  const v6 = parseIpv6Side(path, values);
  // Neither IPv4 key, beside the IPv6 pair: an IPv6-only node (as Flannel writes it with EnableIPv4 off).
  const v4 = v6 !== undefined && !values.has('FLANNEL_NETWORK') && !values.has('FLANNEL_SUBNET') ? undefined : parseIpv4Side(path, values);
  if (mtuText === undefined || !Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw bad(path, `FLANNEL_MTU=${mtuText ?? ''} is not an MTU from 576 to 65535`);
  // An IPv6-only pod needs the IPv6 minimum MTU.
  if (v4 === undefined && mtu < 1280) throw bad(path, `FLANNEL_MTU=${mtuText} is below IPv6's minimum 1280, and this node's pods are IPv6 only`);
  return { v4, mtu, v6 };
}

function parseIpv4Side(path: string, values: ReadonlyMap<string, string>): NodeNetwork4 {
  const network = ipv4Cidr(path, 'FLANNEL_NETWORK', values.get('FLANNEL_NETWORK'));
  const subnet = ipv4Cidr(path, 'FLANNEL_SUBNET', values.get('FLANNEL_SUBNET'));
  if (subnet.bits > 30) throw bad(path, `FLANNEL_SUBNET=${values.get('FLANNEL_SUBNET')} leaves no addresses for pods (a /30 or larger is needed)`);
  const subnetNet = (subnet.addr & maskOf(subnet.bits)) >>> 0;
  if (subnet.addr === subnetNet) throw bad(path, `FLANNEL_SUBNET=${values.get('FLANNEL_SUBNET')} names the network address; it must name the gateway, such as ${formatIpv4(subnetNet + 1)}/${subnet.bits}`);
  return {
    clusterCidr: { network: (network.addr & maskOf(network.bits)) >>> 0, bits: network.bits },
    subnet: { network: subnetNet, bits: subnet.bits },
    gateway: subnet.addr,
  };
}

/** Read the node's subnet.env; its absence means weft does not run here (yet): try again later. */
export function readSubnetEnv(path: string): NodeNetwork {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CniError(ErrorCode.TRY_AGAIN_LATER, 'weft is not running on this node', `${path} does not exist: weft writes it once it runs and holds a subnet (weft up), and removes it when it stops`);
    }
    throw new CniError(ErrorCode.IO_FAILURE, `cannot read ${path}`, `${(err as Error).message}; weft-cni runs as root, as the runtime does`);
  }
  return parseSubnetEnv(path, text);
}

export function cidrText(c: { network: number; bits: number }): string {
  return `${formatIpv4(c.network)}/${c.bits}`;
}

export function cidr6Text(c: { network: bigint; bits: number }): string {
  return `${formatIpv6Value(c.network)}/${c.bits}`;
}
