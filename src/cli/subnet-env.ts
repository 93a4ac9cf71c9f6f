/**
 * Flannel's subnet.env, which CNI's flannel plugin and weft-cni read: the
 * cluster network, this node's subnet as its gateway address (the first
 * after the network address, as Flannel writes it), the MTU pods should
 * use. A dual-stack node adds Flannel's IPv6 pair after the IPv4 one,
 * FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET, in the same form; an
 * IPv4-only node writes exactly the four lines it always did, and an
 * IPv6-only one the IPv6 pair without the IPv4 one (as Flannel does with
 * EnableIPv4 off).
 */
import { formatCidr, formatIpv6 } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';

/** What the file says: each family's cluster CIDR and this node's subnet in it. */
export interface SubnetEnvNetwork {
  /** Both set unless the pod network is IPv6 only. */
  clusterCidr: Cidr | undefined;
  subnet: Cidr | undefined;
  /** Both set in a dual-stack or IPv6-only cluster; undefined in an IPv4-only one. */
  clusterCidr6: Cidr | undefined;
  subnet6: Cidr | undefined;
}

/** The IPv6 subnet's first address after its network address, with the prefix length: fd00:10:244:1::1/64. */
function gateway6(subnet: Cidr): string {
  const a = subnet.addr.slice();
  for (let i = a.length - 1; i >= 0; i--) {
    a[i] = (a[i]! + 1) & 0xff;
    if (a[i] !== 0) break;
  }
  return `${formatIpv6(a)}/${subnet.bits}`;
}

export function subnetEnvText(net: SubnetEnvNetwork, mtu: number): string {
  let text = '';
  if (net.clusterCidr !== undefined && net.subnet !== undefined) {
    const a = net.subnet.addr;
    const gateway = `${a[0]}.${a[1]}.${a[2]}.${a[3]! + 1}/${net.subnet.bits}`;
    text += `FLANNEL_NETWORK=${formatCidr(net.clusterCidr)}\nFLANNEL_SUBNET=${gateway}\n`;
  }
  if (net.clusterCidr6 !== undefined && net.subnet6 !== undefined) {
    text += `FLANNEL_IPV6_NETWORK=${formatCidr(net.clusterCidr6)}\nFLANNEL_IPV6_SUBNET=${gateway6(net.subnet6)}\n`;
  }
  return `${text}FLANNEL_MTU=${mtu}\nFLANNEL_IPMASQ=false\n`;
}
