/**
 * One container on the node's bridge, as Flannel's plugin has it made
 * (through bridge and host-local), done here directly:
 *
 *   node:      <bridge> (cni0) with the gateway address (FLANNEL_SUBNET) and FLANNEL_MTU
 *              veth<hash> on the bridge          weft0 routes the cluster CIDR (weft's own route)
 *   container: <ifname> (eth0) <address>/<subnet bits>, MTU FLANNEL_MTU
 *              <cluster CIDR> via gateway, default via gateway (unless it has one)
 *
 * Pods of one node reach each other on the bridge; everything else goes to
 * the gateway, where the node routes the cluster CIDR into weft's device.
 * Names and MAC addresses are derived, not random: the host end's name from
 * the attachment (so DEL finds it with no state), each MAC from its IPv4
 * address under the locally administered prefix 0a:58 (the pod) or 0e:58
 * (the host end), so a result is the same bytes every time.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { formatIpv4 } from '../wire/addr.ts';
import { IpCommand, saysExists } from './ip-command.ts';
import type { Attachment } from './net-config.ts';
import { appendAttachment } from './result.ts';
import type { Result, ResultInterface } from './result.ts';
import { CniError, ErrorCode } from './spec.ts';
import { cidrText } from './subnet-env.ts';
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
  address: number;
}

/** The bridge with the gateway address and the pods' MTU; made if missing, kept if there. Returns its MAC. */
function ensureBridge(host: IpCommand, bridge: string, net: NodeNetwork): string {
  const made = host.run(['link', 'add', bridge, 'address', macFor(POD_MAC, net.gateway), 'mtu', String(net.mtu), 'type', 'bridge']);
  // Another ADD running at the same time may have made it first.
  if (made.code !== 0 && !saysExists(made)) throw new CniError(ErrorCode.LINK_FAILED, `cannot create bridge ${bridge}`, made.stderr.trim());
  host.ok(['addr', 'replace', `${formatIpv4(net.gateway)}/${net.subnet.bits}`, 'dev', bridge], `cannot give ${bridge} the gateway address`);
  host.ok(['link', 'set', bridge, 'mtu', String(net.mtu), 'up'], `cannot bring ${bridge} up`);
  const mac = host.json(['link', 'show', 'dev', bridge])[0]?.address;
  return typeof mac === 'string' ? mac : '';
}

/** Create the attachment; on failure, what was made is removed again and the error rethrown. */
export function attach(req: AttachRequest, previous: Result, dns: Record<string, unknown> | undefined): Result {
  const { attachment, netns, bridge, net, address } = req;
  if (!existsSync(netns)) {
    throw new CniError(ErrorCode.INVALID_ENVIRONMENT, 'invalid CNI_NETNS', `${netns} does not exist; the runtime creates the container's network namespace before ADD`);
  }
  const host = new IpCommand();
  const pod = new IpCommand(netns);
  const hostEnd = hostVethName(attachment);
  const mtu = String(net.mtu);
  const gateway = formatIpv4(net.gateway);
  const podMac = macFor(POD_MAC, address);
  const hostMac = macFor(HOST_MAC, address);
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
  try {
    host.ok(['link', 'set', hostEnd, 'master', bridge, 'up'], `cannot put ${hostEnd} on ${bridge}`);
    // A container attached to another network first keeps that network's default route.
    withDefault = pod.json(['route', 'show', 'default']).length === 0;
    pod.batch(
      [
        `link set ${attachment.ifname} up`,
        `addr add ${formatIpv4(address)}/${net.subnet.bits} dev ${attachment.ifname}`,
        `route add ${cidrText(net.clusterCidr)} via ${gateway} dev ${attachment.ifname}`,
        ...(withDefault ? [`route add default via ${gateway} dev ${attachment.ifname}`] : []),
      ],
      `cannot configure ${attachment.ifname} in the container`,
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
  const routes = [{ dst: cidrText(net.clusterCidr), gw: gateway }, ...(withDefault ? [{ dst: '0.0.0.0/0', gw: gateway }] : [])];
  return appendAttachment(previous, interfaces, { address: `${formatIpv4(address)}/${net.subnet.bits}`, gateway, interfaceOffset: 2 }, routes, dns);
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
