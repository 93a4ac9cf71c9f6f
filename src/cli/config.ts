/**
 * The node configuration file (JSON) and its validation. Every field is
 * checked here, once, before anything touches the system, and an error names
 * the field and shows a valid value: a node that will not start should say
 * exactly why.
 *
 * Example:
 *   {
 *     "name": "node-a",
 *     "backend": "vxlan",
 *     "underlay": { "address": "192.168.50.1", "mtu": 1500 },
 *     (both underlay families: "address": "192.168.50.1,fd00:50::1")
 *     "clusterCidr": "10.244.0.0/16",
 *     "subnet": "10.244.1.0/24",
 *     (dual-stack: "clusterCidr": "10.244.0.0/16,fd00:10:244::/56" and
 *      "subnet": "10.244.1.0/24,fd00:10:244:1::/64"; see config-network.ts)
 *     "tun": { "name": "weft0" },
 *     "vxlan": { "vni": 1, "port": 8472 },
 *     "peers": [
 *       { "name": "node-b", "endpoint": "192.168.50.2:8472", "subnet": "10.244.2.0/24" }
 *     ]
 *   }
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { decodeKey } from '../crypto/keys.ts';
import { parseWgConf } from '../wireguard/conf.ts';
import { checkPeerEndpoints } from './config-checks.ts';
import { boolean, cidr, endpoint, fail, integer, mac, object, onlyKeys, overlaps, string } from './config-fields.ts';
import type { Json } from './config-fields.ts';
import { parsePodNetwork, parseUnderlay, perFamily, subnetsOf } from './config-network.ts';
import type { Underlay } from './config-network.ts';
import type { BackendName, PeerSpec } from '../dataplane/peer.ts';
import { WeftError } from '../errors.ts';
import { SUGGESTED_REALTIME_PRIORITY } from '../node/scheduling.ts';
import { MAX_IFNAME_BYTES } from '../tun/tun-device.ts';
import { deriveVtepMac, formatCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import { VXLAN_DEFAULT_VNI, VXLAN_MAX_VNI, VXLAN_PORT_LINUX_FLANNEL } from '../wire/vxlan.ts';

export interface WireguardConfig {
  privateKey: Uint8Array;
  listenPort: number;
  /** Multiplies every protocol timer; for tests only (1 in production). */
  timeScale: number;
  /** Set when privateKey was generated for this first start: startNode saves it here once every check passed. */
  generatedKeyFile?: string | undefined;
}

export interface GossipConfig {
  /** UDP port of the gossip protocol on the underlay address. */
  port: number;
  /** Members to join: any live one brings the whole map. */
  seeds: Array<{ address: string; port: number }>;
  /** Cluster keys: the first seals what we send, any opens what we receive (rotation). */
  keys: Uint8Array[];
}

export interface NodeConfig {
  name: string;
  /** The location label: peers in the same one talk VXLAN under the mixed backend. */
  location: string;
  /** Keys, the gossip identity and the subnet lease live here. */
  stateDir: string;
  gossip: GossipConfig | undefined;
  backend: BackendName;
  wireguard: WireguardConfig | undefined;
  /** `address` is where the sockets bind; `addresses` what this node is reached at, one per family. */
  underlay: Underlay;
  /** The IPv4 cluster CIDR: undefined in an IPv6-only pod network. */
  clusterCidr: Cidr | undefined;
  /** The IPv6 cluster CIDR: set in a dual-stack or IPv6-only cluster, undefined in an IPv4-only one. */
  clusterCidr6: Cidr | undefined;
  /** Configured, or undefined when gossip allocates it. */
  subnet: Cidr | undefined;
  /** The configured IPv6 subnet, or undefined (gossip allocates it, or the cluster is IPv4 only). */
  subnet6: Cidr | undefined;
  /** offload: TCP segmentation offload through a virtio-net header (see src/tun/tun-offload.ts). */
  tun: { name: string; mtu: number | undefined; offload: boolean };
  vxlan: { vni: number; port: number; vtepMac: Uint8Array; sourceCheck: boolean };
  ring: { slots: number };
  peers: PeerSpec[];
  /** The control socket `weft status` talks to. */
  controlSocket: string;
  /** Where the Flannel-compatible subnet.env for CNI plugins goes. */
  subnetEnv: string;
  /** The Prometheus endpoint, "address:port", or undefined when off. */
  metricsListen: string | undefined;
  /** How datagrams leave and arrive: Node's dgram (portable) or native batches (recvmmsg/sendmmsg). */
  transport: { type: 'dgram' | 'batch'; gso: boolean; gro: boolean };
  /** The event loop's SCHED_RR priority (src/node/scheduling.ts); 0: normal scheduling. */
  scheduling: { priority: number };
}

/**
 * A configuration whose subnets are known: configured, or allocated by gossip
 * at start; one per family of the pod network (`subnet` IPv4, `subnet6` IPv6).
 */
export type ResolvedConfig = NodeConfig;

const NAME_RE = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;

function nodeName(v: unknown, field: string): string {
  const text = string(v, field, 'node-a');
  if (!NAME_RE.test(text)) fail(field, 'a DNS-style name: lowercase letters, digits, "-" and ".", 1 to 63 characters', v);
  return text;
}

/** Validate parsed JSON into a NodeConfig. */
export function parseConfig(raw: unknown, baseDir = process.cwd()): NodeConfig {
  const root = object(raw, '(root)');
  onlyKeys(root, '', ['name', 'location', 'stateDir', 'gossip', 'backend', 'underlay', 'clusterCidr', 'ipv6', 'subnet', 'tun', 'vxlan', 'wireguard', 'ring', 'peers', 'controlSocket', 'subnetEnv', 'metrics', 'transport', 'scheduling']);
  const name = nodeName(root.name, 'name');
  const backend = root.backend ?? 'vxlan';
  if (backend !== 'vxlan' && backend !== 'wireguard' && backend !== 'mixed') {
    fail('backend', '"vxlan", "wireguard", or "mixed" (VXLAN within a location, WireGuard between locations)', backend);
  }

  const gossip = root.gossip === undefined ? undefined : parseGossip(object(root.gossip, 'gossip'), baseDir);
  // One address, or one per family (a dual underlay): see config-network.ts.
  const underlay = parseUnderlay(root.underlay, gossip !== undefined);
  const { clusterCidr, clusterCidr6, subnet, subnet6 } = parsePodNetwork(root, gossip !== undefined);
  const location = root.location === undefined ? 'default' : nodeName(root.location, 'location');

  const t = object(root.tun, 'tun');
  onlyKeys(t, 'tun', ['name', 'mtu', 'offload']);
  const tunName = t.name === undefined ? 'weft0' : string(t.name, 'tun.name', 'weft0');
  if (Buffer.byteLength(tunName) > MAX_IFNAME_BYTES || /[\s/]/.test(tunName)) {
    fail('tun.name', `an interface name of at most ${MAX_IFNAME_BYTES} bytes without spaces or "/"`, tunName);
  }
  const tunMtu = t.mtu === undefined ? undefined : integer(t.mtu, 'tun.mtu', 576, 65535);
  const tunOffload = boolean(t.offload, 'tun.offload', true);

  const vx = object(root.vxlan, 'vxlan');
  onlyKeys(vx, 'vxlan', ['vni', 'port', 'vtepMac', 'sourceCheck']);
  const vni = integer(vx.vni, 'vxlan.vni', 0, VXLAN_MAX_VNI, VXLAN_DEFAULT_VNI);
  const port = integer(vx.port, 'vxlan.port', 1, 65535, VXLAN_PORT_LINUX_FLANNEL);
  const vtepMac = vx.vtepMac === undefined ? deriveVtepMac(name) : mac(vx.vtepMac, 'vxlan.vtepMac');
  const sourceCheck = boolean(vx.sourceCheck, 'vxlan.sourceCheck', true);

  const wgSection = parseWireguard(object(root.wireguard, 'wireguard'), backend !== 'vxlan', baseDir);

  const r = object(root.ring, 'ring');
  onlyKeys(r, 'ring', ['slots']);
  // 8,192 slots (14 MiB at a 1500-byte underlay): the outbound flow queue may hold three quarters of
  // them, and four pod TCP streams (BBR, which ACK bursts make keep more in flight) overflowed 3,072:
  // 110,000 to 130,000 retransmissions per 10 s, 3,800 with this ring (docs/ARCHITECTURE.md, "Queues").
  const slots = integer(r.slots, 'ring.slots', 64, 1 << 20, 8192);

  if (root.peers !== undefined && !Array.isArray(root.peers)) fail('peers', 'a list of peers', root.peers);
  const peers: PeerSpec[] = [];
  const seen = new Map<string, string>();
  for (const [i, entry] of ((root.peers as unknown[] | undefined) ?? []).entries()) {
    const field = `peers[${i}]`;
    const p = object(entry, field);
    onlyKeys(p, field, ['name', 'endpoint', 'subnet', 'vtepMac', 'publicKey', 'presharedKey', 'persistentKeepalive', 'location', 'finishesChecksums']);
    const peerLocation = p.location === undefined ? location : nodeName(p.location, `${field}.location`);
    // Which protocol reaches this peer: the backend's, or under "mixed" its location's.
    const viaWireguard = backend === 'wireguard' || (backend === 'mixed' && peerLocation !== location);
    const defaultPort = viaWireguard ? wgSection.listenPort : port;
    const peerName = nodeName(p.name, `${field}.name`);
    if (peerName === name) fail(`${field}.name`, 'a name other than this node\'s own', peerName);
    if (seen.has(peerName)) fail(`${field}.name`, 'a name not used by another peer', peerName);
    if (!viaWireguard && p.endpoint === undefined) fail(`${field}.endpoint`, 'the peer\'s underlay address and port, such as 192.168.50.2:8472', undefined);
    const ep = p.endpoint === undefined ? undefined : endpoint(p.endpoint, `${field}.endpoint`, defaultPort);
    // One subnet, or one per family ("10.244.2.0/24,fd00:10:244:2::/64") for a dual-stack peer.
    const peerSubnets = subnetsOf(perFamily(p.subnet, `${field}.subnet`, '10.244.2.0/24'));
    for (const peerSubnet of peerSubnets) {
      for (const own of [subnet, subnet6]) {
        if (own !== undefined && overlaps(peerSubnet, own)) fail(`${field}.subnet`, `a subnet that does not overlap this node's ${formatCidr(own)}`, p.subnet);
      }
      for (const other of peers) {
        if (other.subnets.some((s) => overlaps(s, peerSubnet))) fail(`${field}.subnet`, `a subnet that does not overlap peer "${other.name}"`, p.subnet);
      }
    }
    seen.set(peerName, field);
    const wg = viaWireguard ? peerKeys(p, field) : {};
    peers.push({
      name: peerName,
      location: peerLocation,
      ...(ep ? { endpoint: ep } : {}),
      subnets: peerSubnets,
      // weft peers derive their VTEP MAC from their name, so a weft-only cluster need not list MACs.
      vtepMac: p.vtepMac === undefined ? deriveVtepMac(peerName) : mac(p.vtepMac, `${field}.vtepMac`),
      ...wg,
      // A weft node, or a kernel vxlan with remcsumrx: TCP checksums may leave partial (src/offload/partial-checksum.ts).
      ...(p.finishesChecksums === undefined ? {} : { finishesChecksums: boolean(p.finishesChecksums, `${field}.finishesChecksums`, false) }),
    });
  }
  const listed = peers.length;
  for (const peer of wgSection.filePeers) {
    if (seen.has(peer.name)) fail('wireguard.configFile', `peers whose names do not clash with "peers" (${peer.name})`, peer.name);
    peers.push(peer);
  }
  checkPeerEndpoints(peers, (i) => (i < listed ? `peers[${i}].endpoint` : `wireguard.configFile [Peer] ${i - listed + 1} Endpoint`));

  return {
    name,
    location,
    stateDir: root.stateDir === undefined ? '/var/lib/weft' : resolve(baseDir, string(root.stateDir, 'stateDir', '/var/lib/weft')),
    gossip,
    backend,
    wireguard: backend !== 'vxlan' ? { privateKey: wgSection.privateKey!, listenPort: wgSection.listenPort, timeScale: wgSection.timeScale } : undefined,
    underlay,
    clusterCidr,
    clusterCidr6,
    subnet,
    subnet6,
    tun: { name: tunName, mtu: tunMtu, offload: tunOffload },
    vxlan: { vni, port, vtepMac, sourceCheck },
    ring: { slots },
    peers,
    controlSocket: root.controlSocket === undefined ? `/run/weft/${name}.sock` : resolve(baseDir, string(root.controlSocket, 'controlSocket', '/run/weft/node-a.sock')),
    subnetEnv: root.subnetEnv === undefined ? '/run/flannel/subnet.env' : resolve(baseDir, string(root.subnetEnv, 'subnetEnv', '/run/flannel/subnet.env')),
    metricsListen: metricsListen(object(root.metrics, 'metrics')),
    transport: parseTransport(root.transport),
    scheduling: parseScheduling(object(root.scheduling, 'scheduling')),
  };
}

/** scheduling.priority: SCHED_RR 1 to 99 for the data path's thread, 0 (the default) for normal scheduling. */
function parseScheduling(s: Json): { priority: number } {
  onlyKeys(s, 'scheduling', ['priority']);
  if (s.priority === undefined) return { priority: 0 };
  if (typeof s.priority !== 'number' || !Number.isInteger(s.priority) || s.priority < 0 || s.priority > 99) {
    fail('scheduling.priority', `an integer from 0 (normal scheduling, the default) to 99 (SCHED_RR); ${SUGGESTED_REALTIME_PRIORITY} puts weft above every normal task and below the kernel's interrupt threads`, s.priority);
  }
  return { priority: s.priority };
}

/** metrics.listen: "address:port" (default 127.0.0.1:9586, loopback only) or "off". */
function metricsListen(m: Json): string | undefined {
  onlyKeys(m, 'metrics', ['listen']);
  if (m.listen === undefined) return '127.0.0.1:9586';
  const text = string(m.listen, 'metrics.listen', '127.0.0.1:9586');
  if (text === 'off') return undefined;
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/u.exec(text);
  const host = match?.[1]?.replace(/^\[|\]$/gu, '');
  if (!match || host === undefined || isIP(host) === 0 || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    fail('metrics.listen', 'an IP address and port such as 127.0.0.1:9586, or "off"', text);
  }
  return text;
}

function keyField(v: unknown, field: string): Uint8Array {
  const text = string(v, field, 'a key as wg genkey or wg pubkey prints it');
  try {
    return decodeKey(text, field);
  } catch (err) {
    return fail(field, '32 bytes in base64 (44 characters), as wg genkey / wg pubkey print them', `${text.length} characters: ${(err as Error).message}`);
  }
}

/** A WireGuard peer's keys and keepalive. */
function peerKeys(p: Json, field: string): Pick<PeerSpec, 'publicKey' | 'presharedKey' | 'persistentKeepalive'> {
  if (p.publicKey === undefined) fail(`${field}.publicKey`, 'the peer\'s WireGuard public key (weft pubkey or wg pubkey prints it)', undefined);
  return {
    publicKey: keyField(p.publicKey, `${field}.publicKey`),
    ...(p.presharedKey === undefined ? {} : { presharedKey: keyField(p.presharedKey, `${field}.presharedKey`) }),
    persistentKeepalive: integer(p.persistentKeepalive, `${field}.persistentKeepalive`, 0, 65535, 0),
  };
}

interface WireguardSection {
  privateKey: Uint8Array | undefined;
  listenPort: number;
  timeScale: number;
  filePeers: PeerSpec[];
}

/** The "wireguard" section: a key (inline, in a file, or in a wg-quick file) and a port. */
function parseWireguard(w: Json, required: boolean, baseDir: string): WireguardSection {
  onlyKeys(w, 'wireguard', ['privateKey', 'privateKeyFile', 'configFile', 'listenPort', 'timeScale']);
  const out: WireguardSection = { privateKey: undefined, listenPort: 51820, timeScale: 1, filePeers: [] };
  if (!required) return out;
  const sources = ['privateKey', 'privateKeyFile', 'configFile'].filter((k) => w[k] !== undefined);
  if (sources.length !== 1) {
    fail('wireguard', 'exactly one of privateKey, privateKeyFile or configFile (make a key with: weft genkey)', sources.length ? sources : undefined);
  }
  if (w.privateKey !== undefined) out.privateKey = keyField(w.privateKey, 'wireguard.privateKey');
  if (w.privateKeyFile !== undefined) {
    const path = resolve(baseDir, string(w.privateKeyFile, 'wireguard.privateKeyFile', '/var/lib/weft/private.key'));
    let text: string;
    try {
      text = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new WeftError('CONFIG_UNREADABLE', `config field "wireguard.privateKeyFile": cannot read ${path}: ${(err as Error).message}`);
    }
    out.privateKey = keyField(text, 'wireguard.privateKeyFile');
  }
  if (w.configFile !== undefined) {
    const path = resolve(baseDir, string(w.configFile, 'wireguard.configFile', '/etc/wireguard/wg0.conf'));
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new WeftError('CONFIG_UNREADABLE', `config field "wireguard.configFile": cannot read ${path}: ${(err as Error).message}`);
    }
    const conf = parseWgConf(text, path);
    out.privateKey = conf.privateKey;
    if (conf.listenPort !== undefined) out.listenPort = conf.listenPort;
    out.filePeers = conf.peers.map((p) => ({
      name: `wg-${Buffer.from(p.publicKey).toString('hex').slice(0, 12)}`,
      ...(p.endpoint ? { endpoint: p.endpoint } : {}),
      subnets: p.allowedIps,
      publicKey: p.publicKey,
      ...(p.presharedKey ? { presharedKey: p.presharedKey } : {}),
      persistentKeepalive: p.persistentKeepalive,
    }));
  }
  if (w.listenPort !== undefined) out.listenPort = integer(w.listenPort, 'wireguard.listenPort', 1, 65535);
  if (w.timeScale !== undefined) {
    if (typeof w.timeScale !== 'number' || !(w.timeScale > 0 && w.timeScale <= 1)) fail('wireguard.timeScale', 'a number above 0 and at most 1 (tests only)', w.timeScale);
    out.timeScale = w.timeScale;
  }
  return out;
}

/** The "gossip" section: port, seeds and the cluster key(s). */
function parseGossip(g: Json, baseDir: string): GossipConfig {
  onlyKeys(g, 'gossip', ['port', 'seeds', 'clusterKey', 'clusterKeyFile', 'oldKeys']);
  const port = integer(g.port, 'gossip.port', 1, 65535, 7946);
  if (g.seeds !== undefined && !Array.isArray(g.seeds)) fail('gossip.seeds', 'a list of addresses such as ["192.168.50.1:7946"]', g.seeds);
  const seeds = ((g.seeds as unknown[] | undefined) ?? []).map((s, i) => endpoint(s, `gossip.seeds[${i}]`, port));
  if ((g.clusterKey === undefined) === (g.clusterKeyFile === undefined)) {
    fail('gossip', 'exactly one of clusterKey or clusterKeyFile: 32 random bytes in base64 shared by every node (make one with: weft genpsk)', undefined);
  }
  let primary: Uint8Array;
  if (g.clusterKey !== undefined) primary = keyField(g.clusterKey, 'gossip.clusterKey');
  else {
    const path = resolve(baseDir, string(g.clusterKeyFile, 'gossip.clusterKeyFile', '/etc/weft/cluster.key'));
    let text: string;
    try {
      text = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new WeftError('CONFIG_UNREADABLE', `config field "gossip.clusterKeyFile": cannot read ${path}: ${(err as Error).message}`);
    }
    primary = keyField(text, 'gossip.clusterKeyFile');
  }
  if (g.oldKeys !== undefined && !Array.isArray(g.oldKeys)) fail('gossip.oldKeys', 'a list of keys still accepted during a rotation', g.oldKeys);
  const old = ((g.oldKeys as unknown[] | undefined) ?? []).map((k, i) => keyField(k, `gossip.oldKeys[${i}]`));
  return { port, seeds, keys: [primary, ...old] };
}

/**
 * "transport": "dgram" | "batch", or { "type": ..., "gso": true, "gro": true }
 * (UDP GSO and GRO, batch only); unset picks batch with both on an IPv4
 * underlay and dgram on IPv6.
 */
function parseTransport(v: unknown): { type: 'dgram' | 'batch'; gso: boolean; gro: boolean } {
  // Unset: the fastest transport, the native batch transport with UDP GSO
  // and GRO, on either family (each offload turns itself off on a kernel
  // without it).
  if (v === undefined) return { type: 'batch', gso: true, gro: true };
  const t = typeof v === 'string' ? { type: v } : object(v, 'transport');
  if (typeof v !== 'string') onlyKeys(t, 'transport', ['type', 'gso', 'gro']);
  const type = t.type ?? 'dgram';
  if (type !== 'dgram' && type !== 'batch') fail('transport.type', '"dgram" (portable) or "batch" (native recvmmsg/sendmmsg)', type);
  const gso = boolean(t.gso, 'transport.gso', false);
  const gro = boolean(t.gro, 'transport.gro', false);
  if (gso && type !== 'batch') fail('transport.gso', 'false unless transport.type is "batch"', gso);
  if (gro && type !== 'batch') fail('transport.gro', 'false unless transport.type is "batch"', gro);
  return { type, gso, gro };
}
