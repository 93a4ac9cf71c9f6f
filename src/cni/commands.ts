/**
 * The six CNI commands, each from parsed parameters and configuration to the
 * text for stdout ('' when the command prints nothing). Every failure is a
 * CniError; main.ts turns it into the error JSON and the exit status.
 */
import { AddressStore } from './address-store.ts';
import { attach, detach } from './attach.ts';
import { check } from './check.ts';
import type { Parameters } from './environment.ts';
import { configVersion, parseNetConfig } from './net-config.ts';
import type { NetConfig } from './net-config.ts';
import { fromPrevious, resultJson } from './result.ts';
import { CniError, ErrorCode, LATEST_VERSION, versionAtLeast, versionJson } from './spec.ts';
import type { CniVersion } from './spec.ts';
import { cidr6Text, cidrText, readSubnetEnv } from './subnet-env.ts';
import { request } from '../transport/control-client.ts';

/** The oldest configuration version that has each command (SPEC.md: CHECK came with 0.4.0, STATUS and GC with 1.1.0). */
const SINCE: Partial<Record<Parameters['command'], CniVersion>> = { CHECK: '0.4.0', STATUS: '1.1.0', GC: '1.1.0' };

function requireVersion(command: Parameters['command'], version: CniVersion): void {
  const since = SINCE[command];
  if (since !== undefined && !versionAtLeast(version, since)) {
    throw new CniError(ErrorCode.INCOMPATIBLE_VERSION, `config version ${version} does not allow ${command}`, `${command} needs cniVersion ${since} or later; raise "cniVersion" in the conflist if the runtime supports it`);
  }
}

export async function runCommand(p: Parameters, stdin: Record<string, unknown> | undefined): Promise<string> {
  if (p.command === 'VERSION') {
    // Any version is echoed: the runtime asks which versions exist before choosing one.
    const asked = stdin?.cniVersion;
    return versionJson(typeof asked === 'string' ? asked : LATEST_VERSION);
  }
  if (stdin === undefined) throw new CniError(ErrorCode.IO_FAILURE, 'no network configuration on stdin', `${p.command} reads the network configuration (JSON) from stdin, which was empty`);
  configVersion(stdin); // error 1 before anything else, whatever else is wrong
  const config = parseNetConfig(stdin);
  requireVersion(p.command, config.cniVersion);
  const attachment = { containerId: p.containerId, ifname: p.ifname };
  const store = new AddressStore(config.dataDir, config.name);
  switch (p.command) {
    case 'ADD':
      return add(p, config, store);
    case 'DEL':
      // Best effort and idempotent (SPEC.md): the namespace, the pair or the
      // reservation may be gone already, and weft need not run.
      detach(attachment);
      store.release(attachment);
      return '';
    case 'CHECK':
      check(attachment, p.netns, config);
      return '';
    case 'STATUS':
      await status(config, store);
      return '';
    case 'GC':
      return gc(config, store);
  }
}

function add(p: Parameters, config: NetConfig, store: AddressStore): string {
  const net = readSubnetEnv(config.subnetEnv);
  const previous = fromPrevious(config.prevResult);
  const attachment = { containerId: p.containerId, ifname: p.ifname };
  // The first family's reservation comes before the try: an ADD repeated fails there (100) and
  // leaves the first ADD's reservation alone. IPv4's first; an IPv6-only node's first is IPv6's.
  const address = net.v4 === undefined ? undefined : store.reserve(net.v4, attachment);
  const only6 = net.v4 === undefined && net.v6 !== undefined ? store.reserve6(net.v6, attachment) : undefined;
  try {
    // Each family's address is reserved on its own; a failure in either gives back both (release is per attachment).
    const address6 = only6 ?? (net.v6 === undefined ? undefined : store.reserve6(net.v6, attachment));
    const result = attach({ attachment, netns: p.netns, bridge: config.bridge, net, address, address6 }, previous, config.dns);
    return resultJson(result, config.cniVersion);
  } catch (err) {
    store.release(attachment);
    throw err;
  }
}

function gc(config: NetConfig, store: AddressStore): string {
  if (config.validAttachments === undefined) {
    // Without the list, every reservation would look stale: refuse rather than release them all.
    throw new CniError(ErrorCode.INVALID_CONFIG, 'invalid network configuration: cni.dev/valid-attachments', 'GC needs the list of attachments still in use ("cni.dev/valid-attachments"; [] when there are none)');
  }
  const valid = config.validAttachments;
  // Both families' reservations: an attachment whose IPv4 file is gone but IPv6 one is not is still a leak.
  const stale = store.attachments().filter((a) => !valid.some((v) => v.containerId === a.containerId && v.ifname === a.ifname));
  for (const a of stale) detach(a); // the SPEC lets GC assume the namespace is gone; a host end left behind is ours to remove
  store.collect(valid);
  return '';
}

/** Ready for ADD: weft runs (its control socket answers, when the conflist names it), holds a subnet, and has free addresses. */
async function status(config: NetConfig, store: AddressStore): Promise<void> {
  const unavailable = (msg: string, details: string) => new CniError(ErrorCode.NOT_AVAILABLE, msg, details);
  let net;
  try {
    net = readSubnetEnv(config.subnetEnv);
  } catch (err) {
    const why = err instanceof CniError ? err.details : (err as Error).message;
    throw unavailable('weft is not running on this node or has no subnet yet', why);
  }
  if (config.controlSocket !== undefined) {
    let answer: unknown;
    try {
      answer = await request(config.controlSocket, 'status', 3000);
    } catch (err) {
      throw unavailable('weft is not running on this node', `${(err as Error).message}; subnet.env at ${config.subnetEnv} is left from a node that stopped without cleaning up (weft up starts it again)`);
    }
    const subnet = (answer as { node?: { subnet?: unknown } } | undefined)?.node?.subnet;
    const want = net.v4 === undefined ? undefined : cidrText(net.v4.subnet);
    if (subnet !== want) {
      throw unavailable('weft has not settled its subnet', `the node reports subnet ${String(subnet ?? 'none')} but ${config.subnetEnv} says ${want ?? 'none'}; wait for weft to write subnet.env again`);
    }
    const subnet6 = (answer as { node?: { subnet6?: unknown } } | undefined)?.node?.subnet6;
    const want6 = net.v6 === undefined ? undefined : cidr6Text(net.v6.subnet);
    if (subnet6 !== want6) {
      throw unavailable('weft has not settled its subnet', `the node reports IPv6 subnet ${String(subnet6 ?? 'none')} but ${config.subnetEnv} says ${want6 ?? 'none'}; wait for weft to write subnet.env again`);
    }
  }
  if (net.v4 !== undefined) {
    const size = 2 ** (32 - net.v4.subnet.bits) - 3; // without network, broadcast and gateway
    if (store.list().length >= size) throw unavailable(`no free address in ${cidrText(net.v4.subnet)}`, `all ${size} pod addresses of this node are reserved; remove containers or run the runtime's GC`);
  }
  if (net.v6 !== undefined) {
    // Only a small IPv6 subnet can run out (a /64 never will), but an ADD on a full one would fail all the same.
    const size6 = (1n << BigInt(128 - net.v6.subnet.bits)) - 2n; // without the network address and the gateway
    if (BigInt(store.list6().length) >= size6) {
      throw unavailable(`no free address in ${cidr6Text(net.v6.subnet)}`, `all ${size6} IPv6 pod addresses of this node are reserved; remove containers or run the runtime's GC`);
    }
  }
}
