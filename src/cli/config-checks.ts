/**
 * Checks that need more than the config text: the MTU against the underlay
 * and the packet ring, the state directory, and what already exists on this
 * machine (a device or route of the same name, a live socket). `weft up`
 * runs them all before its first side effect, so a node that cannot start
 * says why and leaves nothing behind; each error names the config field and
 * the fix.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, statSync, statfsSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { encapsulationKinds } from '../dataplane/peer.ts';
import type { EncapsulationKind, PeerSpec } from '../dataplane/peer.ts';
import { WeftError } from '../errors.ts';
import { isLive } from '../transport/unix-socket.ts';
import { WIREGUARD_OVERHEAD_IPV4 } from '../wireguard/transport-data.ts';
import { uapiPath } from '../wireguard/uapi-server.ts';
import { endpointText, formatCidr } from '../wire/addr.ts';
import { VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_IPV6 } from '../wire/vxlan.ts';
import type { NodeConfig } from './config.ts';
import { clusterCidrsOf, underlayFamilies } from './config-network.ts';

/** An IPv6 outer header is 20 bytes longer than IPv4's. */
const IPV6_EXTRA = 40 - 20;

/** What each encapsulation adds over an IPv4 and over an IPv6 underlay (outer IP and UDP included). */
const OVERHEAD: Record<EncapsulationKind, readonly [number, number]> = {
  vxlan: [VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_IPV6],
  wireguard: [WIREGUARD_OVERHEAD_IPV4, WIREGUARD_OVERHEAD_IPV4 + IPV6_EXTRA],
};

/**
 * Encapsulation overhead on this underlay: VXLAN 50 / WireGuard 60 over
 * IPv4, 70 / 80 over IPv6; one TUN MTU serves every encapsulation the
 * backend runs, so the largest decides.
 */
export function overheadFor(backend: NodeConfig['backend'], underlayAddress: string): number {
  const family = isIP(underlayAddress) === 6 ? 1 : 0;
  return Math.max(...encapsulationKinds(backend).map((kind) => OVERHEAD[kind][family]));
}

/**
 * The overhead the TUN MTU is derived with: one MTU serves every peer, so a
 * node that may send over IPv6 (an IPv6 underlay address, one per family,
 * or '::', which reaches both) takes IPv6's, the larger, even for the peers
 * it reaches over IPv4. A node on IPv4 alone cannot send to an IPv6 peer and
 * keeps IPv4's: its larger packets reach a dual-underlay peer over IPv4,
 * whose outer header fits them.
 */
export function underlayOverhead(backend: NodeConfig['backend'], underlay: NodeConfig['underlay']): number {
  return Math.max(...underlayFamilies(underlay).map((f) => overheadFor(backend, f === 6 ? '::' : '0.0.0.0')));
}

/** The underlay interface as found on this machine: the one holding the underlay address. */
export interface UnderlayDevice {
  name: string;
  mtu: number;
  /** The underlay address it holds (of a dual underlay, the one on the device of the smaller MTU). */
  holds?: string;
}

/**
 * The TUN MTU (configured, or derived as underlay.mtu minus the overhead),
 * checked: the outer packet must fit the underlay (its configured MTU and,
 * when found, its real interface's). Ring slots are sized from the underlay
 * (capacityFor), so whatever fits the underlay fits a slot.
 */
export function checkMtu(config: NodeConfig, underlay: UnderlayDevice | undefined): number {
  const overhead = underlayOverhead(config.backend, config.underlay);
  const kind = config.backend === 'vxlan' ? 'VXLAN' : config.backend === 'wireguard' ? 'WireGuard' : 'VXLAN/WireGuard';
  const families = underlayFamilies(config.underlay);
  const family = families.length > 1 ? 'IPv4 and IPv6' : families[0] === 6 ? 'IPv6' : 'IPv4';
  const configured = config.tun.mtu;
  if (configured === undefined && underlay !== undefined && config.underlay.mtu > underlay.mtu) {
    throw new WeftError(
      'CONFIG_INVALID',
      `config field "underlay.mtu": ${config.underlay.mtu} exceeds the MTU ${underlay.mtu} of ${underlay.name}, which holds ${underlay.holds ?? config.underlay.address}; set underlay.mtu to ${underlay.mtu} (or less)`,
    );
  }
  const limit = underlay === undefined ? config.underlay.mtu : Math.min(config.underlay.mtu, underlay.mtu);
  const limitText = underlay !== undefined && underlay.mtu <= config.underlay.mtu ? `the underlay MTU ${underlay.mtu} of ${underlay.name}` : `underlay.mtu ${config.underlay.mtu}`;
  const mtu = configured ?? config.underlay.mtu - overhead;
  if (configured !== undefined && configured + overhead > limit) {
    throw new WeftError(
      'CONFIG_INVALID',
      `config field "tun.mtu": ${configured} + ${overhead} bytes of ${kind} overhead (${family} underlay) exceeds ${limitText}; set tun.mtu to ${limit - overhead} or less, or leave it unset to derive it`,
    );
  }
  if (mtu < 576) {
    throw new WeftError('CONFIG_INVALID', `config field "underlay.mtu": ${config.underlay.mtu} leaves a TUN MTU of ${mtu} after ${overhead} bytes of ${kind} overhead, below IPv4's minimum 576; raise underlay.mtu to ${576 + overhead} or more`);
  }
  return mtu;
}

/**
 * Two peers at one endpoint: the backend keys peers by endpoint, so the
 * second would silently not be applied. `fieldOf` names peer i's endpoint field.
 */
export function checkPeerEndpoints(peers: readonly PeerSpec[], fieldOf: (index: number) => string): void {
  const seen = new Map<string, number>();
  for (const [i, p] of peers.entries()) {
    if (p.endpoint === undefined) continue;
    const key = `${p.endpoint.address.toLowerCase()}|${p.endpoint.port}`;
    const first = seen.get(key);
    if (first !== undefined) {
      const shown = endpointText(p.endpoint.address, p.endpoint.port);
      throw new WeftError(
        'CONFIG_INVALID',
        `config field "${fieldOf(i)}": peers "${peers[first]!.name}" (${fieldOf(first)}) and "${p.name}" (${fieldOf(i)}) both have endpoint ${shown}; one node is one peer: remove one of them or correct its endpoint`,
      );
    }
    seen.set(key, i);
  }
}

/** statfs magic numbers of kernel filesystems that hold no files of ours: writes there mean something else, or block. */
const VIRTUAL_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x62656570, 'configfs'],
  [0x1cd1, 'devpts'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
]);

/**
 * The state directory must be a real, writable directory (or creatable in
 * one): keys, the gossip identity and the subnet lease go there. Checked by
 * looking only (access, statfs), so a failed check creates nothing.
 */
export function checkStateDir(stateDir: string): void {
  const fix = 'set stateDir to a writable directory on a disk or tmpfs, such as /var/lib/weft';
  const fail = (why: string, cause?: unknown): never => {
    throw new WeftError('STATE_DIR_UNUSABLE', `config field "stateDir": ${stateDir} ${why}; weft keeps its keys, gossip identity and subnet lease there: ${fix}`, { cause });
  };
  const dir = resolve(stateDir);
  if (/^\/(proc|sys)(\/|$)/u.test(dir)) fail(`is under /${dir.split('/')[1]}, a kernel filesystem`);
  // The directory, or the nearest ancestor that exists (mkdir will make the rest).
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  let type: number;
  try {
    type = Number(statfsSync(existing).type);
  } catch (err) {
    return fail(`cannot be examined (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  const virtual = VIRTUAL_FS.get(type);
  if (virtual !== undefined) fail(`is on ${virtual}, a kernel filesystem`);
  if (!statSync(existing).isDirectory()) fail(existing === dir ? 'is not a directory' : `cannot be created: its parent ${existing} is not a directory`);
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EROFS' ? 'is on a read-only filesystem' : code === 'ENOTDIR' ? 'is not a directory' : `is not writable (${code ?? (err as Error).message})`;
    fail(existing === dir ? why : `cannot be created: its parent ${existing} ${why}`, err);
  }
}

interface IpLink {
  ifname: string;
  mtu: number;
  addr_info?: Array<{ local?: string }>;
}

function ipJson(args: string[]): Promise<unknown> {
  return new Promise((resolve) => {
    execFile('ip', ['-j', ...args], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        resolve(JSON.parse(stdout));
      } catch {
        resolve(undefined);
      }
    });
  });
}

/** What exists in this network namespace: the links (with addresses) and the cluster CIDR's route. Undefined parts when `ip` cannot tell. */
export async function localFacts(config: NodeConfig): Promise<{ underlay: UnderlayDevice | undefined; tunTaken: boolean; clusterRoute: { cidr: string; dev: string } | undefined }> {
  const links = (await ipJson(['addr', 'show'])) as IpLink[] | undefined;
  // Of a dual underlay, the address whose device has the smaller MTU: every packet must fit both.
  let holder: { ifname: string; mtu: number; holds: string } | undefined;
  for (const address of config.underlay.addresses) {
    const link = Array.isArray(links) ? links.find((l) => l.addr_info?.some((a) => a.local === address)) : undefined;
    if (link !== undefined && (holder === undefined || link.mtu < holder.mtu)) holder = { ifname: link.ifname, mtu: link.mtu, holds: address };
  }
  const tunTaken = Array.isArray(links) && links.some((l) => l.ifname === config.tun.name);
  // Each cluster CIDR's route (ip needs -6 to look among IPv6 routes).
  let clusterRoute: { cidr: string; dev: string } | undefined;
  for (const cluster of clusterCidrsOf(config)) {
    const text = formatCidr(cluster);
    const routes = (await ipJson([`-${cluster.family}`, 'route', 'show', 'exact', text])) as Array<{ dev?: string }> | undefined;
    if (clusterRoute === undefined && Array.isArray(routes) && routes.length > 0) clusterRoute = { cidr: text, dev: routes[0]!.dev ?? 'another device' };
  }
  return {
    underlay: holder === undefined ? undefined : { name: holder.ifname, mtu: holder.mtu, holds: holder.holds },
    tunTaken,
    clusterRoute,
  };
}

/**
 * Everything `weft up` checks before it touches the system. Returns the
 * TUN MTU to use, the largest inner packet the underlay carries once
 * encapsulated (a larger one, if the device's MTU is raised by hand, is
 * answered with ICMP "too big" by the router), and the underlay's MTU, which
 * sizes the ring's slots.
 */
export async function preflight(config: NodeConfig): Promise<{ mtu: number; maxPacket: number; underlayMtu: number }> {
  const facts = await localFacts(config);
  const mtu = checkMtu(config, facts.underlay);
  const underlayMtu = facts.underlay === undefined ? config.underlay.mtu : Math.min(config.underlay.mtu, facts.underlay.mtu);
  const maxPacket = underlayMtu - underlayOverhead(config.backend, config.underlay);
  if (config.gossip !== undefined || config.wireguard?.generatedKeyFile !== undefined) checkStateDir(config.stateDir);
  if (facts.tunTaken) {
    throw new WeftError('TUN_NAME_TAKEN', `config field "tun.name": a device named ${config.tun.name} exists in this network namespace already (another weft node?); stop that node, or set tun.name to another name`);
  }
  if (facts.clusterRoute !== undefined) {
    const { cidr, dev } = facts.clusterRoute;
    throw new WeftError(
      'ROUTE_EXISTS',
      `config field "clusterCidr": this network namespace already routes ${cidr} (dev ${dev}; another weft node?); stop that node or remove the route (ip route del ${cidr}), or give this node another clusterCidr`,
    );
  }
  if (config.backend !== 'vxlan') {
    const path = uapiPath(config.tun.name);
    if (await isLive(path)) throw new WeftError('SOCKET_IN_USE', uapiInUse(config.tun.name, path));
  }
  if (await isLive(config.controlSocket)) throw new WeftError('SOCKET_IN_USE', controlInUse(config.controlSocket));
  return { mtu, maxPacket, underlayMtu };
}

/** /var/run/wireguard is one directory for every network namespace: a live socket there may be a device in another one. */
export function uapiInUse(tunName: string, path: string): string {
  return `config field "tun.name": ${path} is served by a running WireGuard device named ${tunName} (weft or wireguard-go, perhaps in another network namespace: they all share /var/run/wireguard); set tun.name to a name no other WireGuard device on this machine uses`;
}

export function controlInUse(path: string): string {
  return `${path} is served by another weft: a node with this name runs already; stop it, or give this node another name (or controlSocket)`;
}
