/**
 * CHECK (SPEC.md section 2): is the attachment still as ADD left it? The
 * previous result names what to look for; what this plugin made and the
 * result lists (the container's interface, its address, its routes, the
 * host end on the bridge) and what the result does not list (the address
 * reservation) must all be there. Routes a later plugin in the chain added
 * are not this plugin's to judge, so only the ones ADD wrote are checked.
 * On a dual-stack node that is both families: both reservations, both
 * addresses, both families' routes; on an IPv6-only node the IPv6 ones.
 */
import { AddressStore } from './address-store.ts';
import { hostVethName } from './attach.ts';
import { IpCommand } from './ip-command.ts';
import type { Attachment, NetConfig } from './net-config.ts';
import { fromPrevious } from './result.ts';
import { CniError, ErrorCode } from './spec.ts';
import { formatIpv6Value } from './subnet-env.ts';
import { formatIpv4 } from '../wire/addr.ts';

function failed(msg: string, details: string): CniError {
  return new CniError(ErrorCode.CHECK_FAILED, msg, details);
}

export function check(a: Attachment, netns: string, config: NetConfig): void {
  if (config.prevResult === undefined) {
    throw new CniError(ErrorCode.INVALID_CONFIG, 'invalid network configuration: prevResult', 'CHECK needs "prevResult", the result of the ADD; a runtime passes the one it cached');
  }
  const prev = fromPrevious(config.prevResult);
  const index = prev.interfaces.findIndex((i) => i.name === a.ifname && i.sandbox === netns);
  if (index < 0) throw failed(`prevResult has no interface ${a.ifname} in ${netns}`, 'the result given is not the one ADD returned for this container; pass the cached ADD result');
  const mine = prev.ips.filter((ip) => ip.interface === index);
  const ips = mine.map((ip) => String(ip.address));
  const gateways = new Set(mine.map((ip) => String(ip.gateway)));

  const store = new AddressStore(config.dataDir, config.name);
  // On a dual-stack node the attachment holds an address of each family, on
  // an IPv6-only one an IPv6 address alone; one made while the node was
  // IPv4-only holds no IPv6 one, and has none to check.
  const reserved = store.find(a);
  const reserved6 = store.find6(a);
  if (reserved === undefined && reserved6 === undefined) {
    throw failed(`no address is reserved for ${a.containerId}/${a.ifname}`, `${config.dataDir}/${config.name} holds no reservation for it (released by GC or by hand?); remove the container and create it again`);
  }
  for (const address of [...(reserved === undefined ? [] : [formatIpv4(reserved)]), ...(reserved6 === undefined ? [] : [formatIpv6Value(reserved6)])]) {
    if (!ips.some((ip) => ip.split('/')[0] === address)) {
      throw failed(`the reserved address ${address} is not in prevResult`, `prevResult lists ${ips.join(', ') || 'no address'} for ${a.ifname}; the reservation and the container disagree`);
    }
  }

  const pod = new IpCommand(netns);
  const link = pod.json(['addr', 'show', 'dev', a.ifname])[0];
  if (link === undefined) throw failed(`interface ${a.ifname} is missing`, `${netns} has no ${a.ifname}; remove the container and create it again`);
  const present = ((link.addr_info ?? []) as Array<{ local?: string; prefixlen?: number }>).map((x) => `${x.local}/${x.prefixlen}`);
  for (const ip of ips) {
    if (!present.includes(ip)) throw failed(`address ${ip} is missing from ${a.ifname}`, `${a.ifname} has ${present.join(', ') || 'no address'}; remove the container and create it again`);
  }
  // `ip route` shows one family at a time; the result writes each default as its family's /0.
  const routesOf = (family: '-4' | '-6', any: string) =>
    pod
      .json([family, 'route', 'show', 'dev', a.ifname])
      .filter((r) => r.gateway !== undefined)
      .map((r) => `${r.dst === 'default' ? any : String(r.dst)} via ${String(r.gateway)}`);
  const routes = [...(reserved === undefined ? [] : routesOf('-4', '0.0.0.0/0')), ...(reserved6 === undefined ? [] : routesOf('-6', '::/0'))];
  for (const r of prev.routes.filter((route) => gateways.has(String(route.gw)))) {
    const want = `${String(r.dst)} via ${String(r.gw)}`;
    if (!routes.includes(want)) throw failed(`route ${want} is missing`, `${a.ifname} in ${netns} has routes: ${routes.join('; ') || 'none via a gateway'}`);
  }

  const hostEnd = new IpCommand().json(['link', 'show', 'dev', hostVethName(a)])[0];
  if (hostEnd === undefined) throw failed(`host interface ${hostVethName(a)} is missing`, 'the node end of the veth pair is gone; remove the container and create it again');
  if (hostEnd.master !== config.bridge) throw failed(`${hostVethName(a)} is not on ${config.bridge}`, `it is on ${String(hostEnd.master ?? 'no bridge')}; ip link set ${hostVethName(a)} master ${config.bridge}`);
}
