/**
 * The node's network as weft publishes it: Flannel's subnet.env, written by
 * `weft up` once the node holds its subnet and its device is up, and removed
 * when it stops (src/cli/up.ts). weft-cni reads it at every ADD, so the
 * conflist never repeats the subnet, and a node that moved to another subnet
 * (a lost lease) is followed without editing anything.
 */
import { readFileSync } from 'node:fs';
import { formatIpv4, parseCidr, parseIpv4 } from '../wire/addr.ts';
import { CniError, ErrorCode } from './spec.ts';

export interface NodeNetwork {
  /** The cluster CIDR (FLANNEL_NETWORK), routed into weft's device on the node. */
  clusterCidr: { network: number; bits: number };
  /** This node's subnet (FLANNEL_SUBNET without the host part). */
  subnet: { network: number; bits: number };
  /** The gateway: the bridge's address, the one FLANNEL_SUBNET names. */
  gateway: number;
  /** The pods' MTU: weft's device MTU (FLANNEL_MTU). */
  mtu: number;
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
    throw bad(path, `${key}=${text} is not an IPv4 prefix such as 10.244.1.1/24 (weft-cni attaches IPv4 pods)`);
  }
}

export function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

export function parseSubnetEnv(path: string, text: string): NodeNetwork {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const network = ipv4Cidr(path, 'FLANNEL_NETWORK', values.get('FLANNEL_NETWORK'));
  const subnet = ipv4Cidr(path, 'FLANNEL_SUBNET', values.get('FLANNEL_SUBNET'));
  const mtuText = values.get('FLANNEL_MTU');
  const mtu = Number(mtuText);
  if (mtuText === undefined || !Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw bad(path, `FLANNEL_MTU=${mtuText ?? ''} is not an MTU from 576 to 65535`);
  if (subnet.bits > 30) throw bad(path, `FLANNEL_SUBNET=${values.get('FLANNEL_SUBNET')} leaves no addresses for pods (a /30 or larger is needed)`);
  const subnetNet = (subnet.addr & maskOf(subnet.bits)) >>> 0;
  if (subnet.addr === subnetNet) throw bad(path, `FLANNEL_SUBNET=${values.get('FLANNEL_SUBNET')} names the network address; it must name the gateway, such as ${formatIpv4(subnetNet + 1)}/${subnet.bits}`);
  return {
    clusterCidr: { network: (network.addr & maskOf(network.bits)) >>> 0, bits: network.bits },
    subnet: { network: subnetNet, bits: subnet.bits },
    gateway: subnet.addr,
    mtu,
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
