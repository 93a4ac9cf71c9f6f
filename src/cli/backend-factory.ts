/**
 * Build the backend a node's configuration asks for, with what comes with
 * it: the UDP port it listens on, its identity for the ready line, and, for
 * WireGuard, the UAPI socket that lets wg(8) read and change it.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import { readU32BE } from '../bytes/endian.ts';
import type { Backend } from '../dataplane/backend.ts';
import { encodeKey } from '../crypto/keys.ts';
import type { Transport } from '../transport/transport.ts';
import { VxlanBackend } from '../vxlan/vxlan-backend.ts';
import { formatIpv4, formatMac } from '../wire/addr.ts';
import { uapiDevice } from '../wireguard/uapi-device.ts';
import { UAPI_DIR, UapiServer, uapiPath } from '../wireguard/uapi-server.ts';
import { uapiInUse } from './config-checks.ts';
import { WireguardBackend } from '../wireguard/wireguard-backend.ts';
import { MixedBackend } from '../node/mixed-backend.ts';
import type { HandshakeStats } from '../wireguard/wg-state.ts';
import type { NodeConfig, ResolvedConfig } from './config.ts';
import type { Logger } from './log.ts';

/** How peers reach and recognise a VXLAN node: its VTEP. */
export interface VxlanIdentity {
  vtepIp: string;
  vtepMac: string;
  vni: number;
}

/** How peers reach and recognise a WireGuard node. */
export interface WireguardIdentity {
  publicKey: string;
  listenPort: number;
}

/** Mixed: both, and the location that decides which one a peer gets. */
export interface MixedIdentity extends VxlanIdentity, WireguardIdentity {
  location: string;
}

/** Drops by reason, reason -> count. */
export type Drops = Record<string, number>;

/** Counters with a number per field, readable as entries (a type literal, so Object.entries keeps the type). */
export type Counts<T> = { [K in keyof T]: number };

/** The VXLAN backend's status section: its identity for the node section, its drops, the ARP requests it answered. */
export interface VxlanStatus {
  kind: 'vxlan';
  node: VxlanIdentity;
  drops: Drops;
  arpReplies: number;
}

/** The WireGuard backend's status section: its identity, its drops, its handshake events. */
export interface WireguardStatus {
  kind: 'wireguard';
  node: WireguardIdentity;
  drops: Drops;
  handshakes: Counts<HandshakeStats>;
}

/** The mixed backend's: both halves' counters (drops prefixed with the half's kind). */
export interface MixedStatus {
  kind: 'mixed';
  node: MixedIdentity;
  drops: Drops;
  arpReplies: number;
  handshakes: Counts<HandshakeStats>;
}

/** Each backend's own status section, told apart by kind. */
export type BackendStatus = VxlanStatus | WireguardStatus | MixedStatus;

export interface BuiltBackend {
  backend: Backend;
  /** More sockets with the backend that takes their datagrams (mixed: WireGuard's). */
  inbound: Array<{ transport: Transport; backend: Backend }>;
  /** Fields for the ready line and status: how peers reach and recognise this node. */
  identity: VxlanIdentity | WireguardIdentity | MixedIdentity;
  /** The backend's status section: its identity, drops and own counters. */
  status(): BackendStatus;
  /** Start timers and sockets that need the TUN device's final name; `peersChanged` runs after wg set. */
  start(tunName: string, peersChanged: () => void): Promise<void>;
  stop(): Promise<void>;
}

/** The main socket's port: WireGuard's for the wireguard backend, else VXLAN's (mixed opens WireGuard's second). */
export function listenPort(config: NodeConfig): number {
  return config.backend === 'wireguard' ? config.wireguard!.listenPort : config.vxlan.port;
}

export function vtepIpOf(config: ResolvedConfig): number {
  return readU32BE(config.subnet.addr, 0);
}

export async function buildBackend(
  config: ResolvedConfig,
  ring: PacketRing,
  transport: Transport,
  openTransport: (port: number) => Promise<Transport>,
  mtu: (overhead: number) => number,
  log: Logger,
): Promise<BuiltBackend> {
  if (config.backend === 'mixed') return buildMixed(config, ring, transport, openTransport, mtu, log);
  if (config.backend === 'vxlan') {
    const vtepIp = vtepIpOf(config);
    const backend = new VxlanBackend({
      ring,
      transport,
      vtepMac: config.vxlan.vtepMac,
      vtepIp,
      vni: config.vxlan.vni,
      port: config.vxlan.port,
      sourceCheck: config.vxlan.sourceCheck,
    });
    const identity: VxlanIdentity = { vtepIp: formatIpv4(vtepIp), vtepMac: formatMac(config.vxlan.vtepMac, 0), vni: config.vxlan.vni };
    return {
      backend,
      inbound: [],
      identity,
      status: () => ({ kind: 'vxlan', node: identity, drops: backend.drops(), arpReplies: backend.arpReplies }),
      start: async () => {},
      stop: async () => {},
    };
  }
  const wg = config.wireguard!;
  const backend = new WireguardBackend({ ring, transport, privateKey: wg.privateKey, mtu: mtu(60), timeScale: wg.timeScale });
  const extras = wireguardExtras(backend, wg.listenPort, log);
  const identity: WireguardIdentity = { publicKey: encodeKey(backend.publicKey), listenPort: wg.listenPort };
  return {
    backend,
    inbound: [],
    identity,
    status: () => ({ kind: 'wireguard', node: identity, drops: backend.drops(), handshakes: { ...backend.state.handshakes } }),
    start: extras.start,
    stop: extras.stop,
  };
}

/** WireGuard's timer tick and its UAPI socket (wg show / wg set), started once the TUN device has its name. */
function wireguardExtras(backend: WireguardBackend, port: number, log: Logger): Pick<BuiltBackend, 'start' | 'stop'> {
  let uapi: UapiServer | undefined;
  return {
    start: async (tunName: string, peersChanged: () => void) => {
      backend.start();
      const device = uapiDevice(backend, () => port, (message) => log.warn('wg set refused', { error: message }));
      uapi = await UapiServer.listen(
        tunName,
        {
          state: () => device.state(),
          apply: (change) => {
            const errno = device.apply(change);
            peersChanged();
            return errno;
          },
        },
        UAPI_DIR,
        uapiInUse(tunName, uapiPath(tunName)),
      );
    },
    stop: async () => {
      await uapi?.close();
      backend.stop();
    },
  };
}

/** VXLAN to peers in our location on the main socket, WireGuard to the others on a second one. */
async function buildMixed(
  config: ResolvedConfig,
  ring: PacketRing,
  transport: Transport,
  openTransport: (port: number) => Promise<Transport>,
  mtu: (overhead: number) => number,
  log: Logger,
): Promise<BuiltBackend> {
  const wg = config.wireguard!;
  const vtepIp = vtepIpOf(config);
  const near = new VxlanBackend({ ring, transport, vtepMac: config.vxlan.vtepMac, vtepIp, vni: config.vxlan.vni, port: config.vxlan.port, sourceCheck: config.vxlan.sourceCheck });
  const wgTransport = await openTransport(wg.listenPort);
  const far = new WireguardBackend({ ring, transport: wgTransport, privateKey: wg.privateKey, mtu: mtu(60), timeScale: wg.timeScale });
  const extras = wireguardExtras(far, wg.listenPort, log);
  const backend = new MixedBackend(ring, config.location, near, far);
  const identity: MixedIdentity = {
    location: config.location,
    vtepIp: formatIpv4(vtepIp),
    vtepMac: formatMac(config.vxlan.vtepMac, 0),
    vni: config.vxlan.vni,
    publicKey: encodeKey(far.publicKey),
    listenPort: wg.listenPort,
  };
  return {
    backend,
    inbound: [{ transport: wgTransport, backend: far }],
    identity,
    status: () => ({ kind: 'mixed', node: identity, drops: backend.drops(), arpReplies: near.arpReplies, handshakes: { ...far.state.handshakes } }),
    start: extras.start,
    stop: async () => {
      await extras.stop();
      await wgTransport.close();
    },
  };
}
