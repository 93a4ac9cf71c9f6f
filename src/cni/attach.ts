/**
 * One container on the node's bridge, as Flannel's plugin has it made
 * (through bridge and host-local), done here directly:
 *
 *   node:      <bridge> (cni0) with the gateway address (FLANNEL_SUBNET) and FLANNEL_MTU
 *              veth<hash> on the bridge          weft0 routes the cluster CIDR (weft's own route)
 *   container: <ifname> (eth0) <address>/<subnet bits>, MTU FLANNEL_MTU
 *              <cluster CIDR> via gateway, default via gateway (unless it has one)
 *
 * A dual-stack node (subnet.env with FLANNEL_IPV6_*) adds the IPv6 side of
 * each: the bridge also holds the IPv6 gateway, the pod an address of the
 * node's IPv6 subnet and the IPv6 cluster CIDR and default routes via it.
 * An IPv6-only node (the IPv6 pair alone) has only that side.
 * IPv6 addresses are added with nodad: duplicate address detection would
 * keep a fresh address tentative (unusable) for a second or more, and the
 * address store already guarantees it is unique on this bridge.
 *
 * Pods of one node reach each other on the bridge; everything else goes to
 * the gateway, where the node routes the cluster CIDR into weft's device.
 * Names and MAC addresses are derived, not random: the host end's name from
 * the attachment (so DEL finds it with no state), each MAC from its IPv4
 * address (an IPv6-only pod's: the low 32 bits of its IPv6 one, unique in
 * the node's subnet) under the locally administered prefix 0a:58 (the pod)
 * or 0e:58 (the host end), so a result is the same bytes every time.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { formatIpv4 } from '../wire/addr.ts';
import { IpCommand, saysExists } from './ip-command.ts';
import type { Attachment } from './net-config.ts';
import { appendAttachment } from './result.ts';
import type { Result, ResultInterface } from './result.ts';
import { CniError, ErrorCode } from './spec.ts';
import { cidr6Text, cidrText, formatIpv6Value } from './subnet-env.ts';
import type { NodeNetwork } from './subnet-env.ts';

/** The host end of an attachment's veth: "veth" and 8 hex digits of a hash of (container ID, ifname). */
export function hostVethName(a: Attachment): string {
  return `veth${createHash('sha256').update(`${a.containerId}/${a.ifname}`).digest('hex').slice(0, 8)}`;
}

/** A MAC for an IPv4 address: `first` (a locally administered unicast octet), 0x58, then the address. */
export function macFor(first: number, address: number): string {
  const bytes = [first, 0x58, address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const POD_MAC = 0x0a;
const HOST_MAC = 0x0e;

export interface AttachRequest {
  attachment: Attachment;
  netns: string;
  bridge: string;
  net: NodeNetwork;
  /** The pod's IPv4 address: set exactly when the node has IPv4 pods (net.v4). */
  address: number | undefined;
  /** The pod's IPv6 address: set exactly when the node has IPv6 pods (net.v6). */
  address6: bigint | undefined;
}

/** The number an address's MACs are made from: the IPv4 address, or an IPv6-only pod's low 32 bits. */
function macSeed(v4: number | undefined, v6: bigint | undefined): number {
  return v4 ?? Number((v6 ?? 0n) & 0xffffffffn);
}

/** The bridge with the gateway address and the pods' MTU; made if missing, kept if there. Returns its MAC. */
function ensureBridge(host: IpCommand, bridge: string, net: NodeNetwork): string {
  const made = host.run(['link', 'add', bridge, 'address', macFor(POD_MAC, macSeed(net.v4?.gateway, net.v6?.gateway)), 'mtu', String(net.mtu), 'type', 'bridge']);
  // Another ADD running at the same time may have made it first.
  if (made.code !== 0 && !saysExists(made)) throw new CniError(ErrorCode.LINK_FAILED, `cannot create bridge ${bridge}`, made.stderr.trim());
  if (net.v4 !== undefined) host.ok(['addr', 'replace', `${formatIpv4(net.v4.gateway)}/${net.v4.subnet.bits}`, 'dev', bridge], `cannot give ${bridge} the gateway address`);
  if (net.v6 !== undefined) {
    host.ok(['addr', 'replace', `${formatIpv6Value(net.v6.gateway)}/${net.v6.subnet.bits}`, 'dev', bridge, 'nodad'], `cannot give ${bridge} the IPv6 gateway address`);
  }
  host.ok(['link', 'set', bridge, 'mtu', String(net.mtu), 'up'], `cannot bring ${bridge} up`);
  const mac = host.json(['link', 'show', 'dev', bridge])[0]?.address;
  return typeof mac === 'string' ? mac : '';
}

/** Create the attachment; on failure, what was made is removed again and the error rethrown. */
export function attach(req: AttachRequest, previous: Result, dns: Record<string, unknown> | undefined): Result {
  const { attachment, netns, bridge, net, address, address6 } = req;
  const v4 = net.v4 !== undefined && address !== undefined ? { net: net.v4, address: formatIpv4(address), gateway: formatIpv4(net.v4.gateway) } : undefined;
  const v6 = net.v6 !== undefined && address6 !== undefined ? { net: net.v6, address: formatIpv6Value(address6), gateway: formatIpv6Value(net.v6.gateway) } : undefined;
  if (!existsSync(netns)) {
    throw new CniError(ErrorCode.INVALID_ENVIRONMENT, 'invalid CNI_NETNS', `${netns} does not exist; the runtime creates the container's network namespace before ADD`);
  }
  const host = new IpCommand();
  const pod = new IpCommand(netns);
  const hostEnd = hostVethName(attachment);
  const mtu = String(net.mtu);
  const podMac = macFor(POD_MAC, macSeed(address, address6));
  const hostMac = macFor(HOST_MAC, macSeed(address, address6));
  const bridgeMac = ensureBridge(host, bridge, net);
  // A host end left by an ADD that was killed midway carries this attachment's name: it is ours.
  host.run(['link', 'del', hostEnd]);
  const made = host.run(['link', 'add', hostEnd, 'mtu', mtu, 'address', hostMac, 'type', 'veth', 'peer', 'name', attachment.ifname, 'mtu', mtu, 'address', podMac, 'netns', netns]);
  if (made.code !== 0) {
    if (saysExists(made)) {
      throw new CniError(ErrorCode.ALREADY_ATTACHED, `interface ${attachment.ifname} already exists in the container`, `${netns} has an interface named ${attachment.ifname}; the runtime must ask for a free name (CNI_IFNAME)`);
    }
    throw new CniError(ErrorCode.LINK_FAILED, `cannot create the veth pair ${hostEnd}/${attachment.ifname}`, made.stderr.trim());
  }
  let withDefault = false;
  let withDefault6 = false;
  try {
    host.ok(['link', 'set', hostEnd, 'master', bridge, 'up'], `cannot put ${hostEnd} on ${bridge}`);
    // A container attached to another network first keeps that network's default route, per family.
    withDefault = v4 !== undefined && pod.json(['route', 'show', 'default']).length === 0;
    withDefault6 = v6 !== undefined && pod.json(['-6', 'route', 'show', 'default']).length === 0;
    const ifname = attachment.ifname;
    pod.batch(
      [
        `link set ${ifname} up`,
        ...(v4 === undefined
          ? []
          : [
              `addr add ${v4.address}/${v4.net.subnet.bits} dev ${ifname}`,
              `route add ${cidrText(v4.net.clusterCidr)} via ${v4.gateway} dev ${ifname}`,
              ...(withDefault ? [`route add default via ${v4.gateway} dev ${ifname}`] : []),
            ]),
        ...(v6 === undefined
          ? []
          : [
              `addr add ${v6.address}/${v6.net.subnet.bits} dev ${ifname} nodad`,
              // ip takes the family from the addresses: a batch line cannot carry -6.
              `route add ${cidr6Text(v6.net.clusterCidr)} via ${v6.gateway} dev ${ifname}`,
              ...(withDefault6 ? [`route add default via ${v6.gateway} dev ${ifname}`] : []),
            ]),
      ],
      `cannot configure ${ifname} in the container`,
    );
  } catch (err) {
    host.run(['link', 'del', hostEnd]);
    throw err;
  }
  const interfaces: ResultInterface[] = [
    { name: bridge, mac: bridgeMac, mtu: net.mtu },
    { name: hostEnd, mac: hostMac, mtu: net.mtu },
    { name: attachment.ifname, mac: podMac, mtu: net.mtu, sandbox: netns },
  ];
  const routes: Array<{ dst: string; gw: string }> = [];
  const ips: Array<{ address: string; gateway: string; interfaceOffset: number }> = [];
  if (v4 !== undefined) {
    ips.push({ address: `${v4.address}/${v4.net.subnet.bits}`, gateway: v4.gateway, interfaceOffset: 2 });
    routes.push({ dst: cidrText(v4.net.clusterCidr), gw: v4.gateway }, ...(withDefault ? [{ dst: '0.0.0.0/0', gw: v4.gateway }] : []));
  }
  if (v6 !== undefined) {
    ips.push({ address: `${v6.address}/${v6.net.subnet.bits}`, gateway: v6.gateway, interfaceOffset: 2 });
    routes.push({ dst: cidr6Text(v6.net.clusterCidr), gw: v6.gateway }, ...(withDefault6 ? [{ dst: '::/0', gw: v6.gateway }] : []));
  }
  return appendAttachment(previous, interfaces, ips, routes, dns);
}

/**
 * Remove the attachment's veth pair (its host end names it; deleting one end
 * deletes both). Nothing there is fine: DEL and GC may come after the
 * namespace, and with it the pair, is gone.
 */
export function detach(a: Attachment): void {
  const r = new IpCommand().run(['link', 'del', hostVethName(a)]);
  if (r.code !== 0 && !/Cannot find device|does not exist/u.test(r.stderr)) {
    throw new CniError(ErrorCode.LINK_FAILED, `cannot delete ${hostVethName(a)}`, r.stderr.trim());
  }
}
