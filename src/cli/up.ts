/**
 * `weft up`: run this node's overlay router until SIGTERM or SIGINT.
 *
 * Order matters for a clean exit: everything started is pushed onto an undo
 * list as it succeeds, and shutdown (or a failed start) unwinds that list
 * backwards, so a node that dies half-configured still leaves no route,
 * address or device behind.
 */
import { writeFileSync } from 'node:fs';
import { encodeKey } from '../crypto/keys.ts';
import { serveControl } from './control.ts';
import { metrics, serveMetrics } from './metrics.ts';
import { nodeStatus } from './node-status.ts';
import type { NodeStatus } from './node-status.ts';
import { DEFAULT_TAILROOM, MIN_HEADROOM, PacketRing, capacityFor } from '../buf/packet-ring.ts';
import { Router } from '../node/router.ts';
import { applyPeerDiff, diffPeers } from '../node/peer-diff.ts';
import { PeerRoutes } from '../node/peer-routes.ts';
import { GossipControl } from '../node/gossip-control.ts';
import { publicKey } from '../crypto/x25519.ts';
import { BatchUdpTransport } from '../transport/batch-udp-transport.ts';
import { GRO_STAGING_BYTES } from '../transport/udp-gro-stage.ts';
import { DgramTransport } from '../transport/dgram-transport.ts';
import { kernelReceiveDrops } from '../transport/kernel-drops.ts';
import type { Transport } from '../transport/transport.ts';
import { Link } from '../tun/link.ts';
import { openTun } from '../tun/native-tun.ts';
import { TUN_STAGING_BYTES } from '../tun/tun-offload.ts';
import { formatCidr, formatIpv4 } from '../wire/addr.ts';
import { buildDataplane, dataPort, encapsulationsOf, vtepIpOf } from './dataplane-factory.ts';
import { preflight } from './config-checks.ts';
import { loadConfig } from './config-load.ts';
import type { NodeConfig, ResolvedConfig } from './config.ts';
import type { Logger } from './log.ts';
import { saveGeneratedKey, writeSubnetEnv } from './node-files.ts';
import { WeftError } from '../errors.ts';

/** The packet ring's slots stay within this: 4096 slots of 9.1 KiB (a 9000-byte underlay) fit; 64 KiB slots get 1000. */
const RING_MAX_BYTES = 64 * 1024 * 1024;

export interface RunningNode {
  config: NodeConfig;
  stop(reason: string): Promise<void>;
}

/**
 * Flannel's subnet.env, which CNI's flannel plugin reads: the cluster network,
 * this node's subnet as its gateway address (.1), the MTU pods should use.
 */
function subnetEnvText(config: ResolvedConfig, mtu: number): string {
  const a = config.subnet.addr;
  const gateway = `${a[0]}.${a[1]}.${a[2]}.${a[3]! + 1}/${config.subnet.bits}`;
  return `FLANNEL_NETWORK=${formatCidr(config.clusterCidr)}\nFLANNEL_SUBNET=${gateway}\nFLANNEL_MTU=${mtu}\nFLANNEL_IPMASQ=false\n`;
}

/** Forwarding must be on for pod traffic to pass between the TUN device and the pods. */
function enableForwarding(log: Logger): void {
  try {
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
  } catch (err) {
    log.warn('could not enable IPv4 forwarding; set net.ipv4.ip_forward=1 yourself', { error: (err as Error).message });
  }
}

/**
 * Start the node. Every check (config, MTU, state directory, clashes with
 * what runs here already) passes before the first side effect. `signal`
 * aborts a start in progress (SIGTERM during start-up): what was made so
 * far is unwound and the promise rejects with START_INTERRUPTED.
 */
export async function startNode(configPath: string | undefined, flags: Record<string, string>, log: Logger, signal?: AbortSignal): Promise<RunningNode> {
  let config = loadConfig(configPath, flags);
  const checkpoint = () => {
    if (signal?.aborted) throw new WeftError('START_INTERRUPTED', `start-up interrupted by ${String(signal.reason)}; everything made so far was removed`);
  };
  const undo: Array<[string, () => void | Promise<void>]> = [];
  const unwind = async () => {
    for (const [what, fn] of undo.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn(`cleanup step failed: ${what}`, { error: (err as Error).message });
      }
    }
    undo.length = 0;
  };

  try {
    // One socket per encapsulation; the same list sizes the staging and opens the sockets below.
    const sockets = encapsulationsOf(config);
    // Staging for TUN super-packets and each socket's UDP GRO runs lives in the
    // ring's own buffer, so their copies into slots are memmoves.
    const staging = (config.tun.offload ? TUN_STAGING_BYTES : 0) + (config.transport.gro ? sockets.length * GRO_STAGING_BYTES : 0);
    const { mtu, maxPacket, underlayMtu } = await preflight(config);
    // Slots hold whatever the underlay carries (jumbo frames included). A ring
    // stays within RING_MAX_BYTES: larger slots mean fewer of them.
    const capacity = capacityFor(underlayMtu);
    const slots = Math.min(config.ring.slots, Math.floor(RING_MAX_BYTES / (MIN_HEADROOM + capacity + DEFAULT_TAILROOM)));
    if (slots < config.ring.slots) log.info('ring slots reduced for the underlay MTU', { slots, configured: config.ring.slots, slotCapacity: capacity });
    const ring = new PacketRing({ slots, capacity, staging });
    checkpoint();
    // A key made for this first start is saved only now that everything checked out (and kept: it is the node's identity).
    if (config.wireguard?.generatedKeyFile !== undefined) saveGeneratedKey(config.wireguard.generatedKeyFile, encodeKey(config.wireguard.privateKey));
    const openTransport = (port: number): Promise<Transport> => {
      const options = { ring, bindAddress: config.underlay.address, port };
      return config.transport.type === 'batch' ? BatchUdpTransport.open({ ...options, gso: config.transport.gso, gro: config.transport.gro }) : DgramTransport.open(options);
    };
    const transports: Transport[] = [];
    for (const socket of sockets) {
      const t = await openTransport(socket.port);
      transports.push(t);
      undo.push([`close the ${socket.kind} UDP socket`, () => t.close()]);
      checkpoint();
    }
    const transport = transports[0]!;

    // With gossip the subnet may be unknown until the cluster's map has arrived: join first.
    let gossip: GossipControl | undefined;
    if (config.gossip !== undefined) {
      gossip = await GossipControl.start({
        name: config.name,
        address: config.underlay.address,
        port: config.gossip.port,
        seeds: config.gossip.seeds,
        keys: config.gossip.keys,
        stateDir: config.stateDir,
        dataPort: dataPort(config),
        location: config.location,
        vtepMac: config.vxlan.vtepMac,
        wgPublicKey: config.wireguard ? publicKey(config.wireguard.privateKey) : null,
        cluster: config.clusterCidr,
        configuredSubnet: config.subnet,
      });
      const g = gossip;
      undo.push(['leave the gossip cluster', () => g.stop()]);
      checkpoint();
    }
    const subnet = config.subnet ?? (await gossip!.claimSubnet(3000, config.gossip!.seeds.length > 0));
    checkpoint();
    const resolved: ResolvedConfig = { ...config, subnet };
    // The MTU preflight checked: configured, or the underlay's minus this family's overhead.
    const built = buildDataplane(resolved, ring, transports, mtu, log);
    const dataplane = built.dataplane;

    // Received TCP segments are merged for the kernel only after a checksum
    // check, unless every encapsulation has vouched for every byte already
    // (WireGuard's Poly1305; VXLAN from a kernel peer may carry no UDP checksum).
    const verifyChecksums = !dataplane.encapsulations.every((e) => e.authenticatesPayload);
    const offload = config.tun.offload ? { ring, verifyChecksums } : undefined;
    const tun = openTun({ name: config.tun.name, ...(offload ? { offload } : {}) });
    undo.push(['close TUN device', () => tun.close()]);
    const link = new Link(tun.name);
    undo.push(['remove addresses and routes', () => link.close()]);
    await link.setMtu(mtu);
    // The node's own address in the overlay: its subnet's network address (Flannel's VTEP convention).
    await link.addAddress(`${formatIpv4(vtepIpOf(resolved))}/32`);
    await link.setUp();
    await link.addRoute(formatCidr(config.clusterCidr));
    checkpoint();
    enableForwarding(log);

    const peerRoutes = new PeerRoutes(link, config.clusterCidr, (message) => log.error('route not applied', { error: message }));
    const syncRoutes = () => peerRoutes.sync(dataplane.peers());
    await built.start(tun.name, () => void syncRoutes());
    undo.push(['stop the data plane', () => built.stop()]);
    checkpoint();
    const initial = applyPeerDiff(dataplane, diffPeers([], config.peers));
    for (const f of initial.failed) log.error('peer not applied', f);
    await syncRoutes();
    gossip?.attach(
      dataplane,
      (e) => {
        void syncRoutes();
        if (e) log.info(e.type, { peer: e.name, subnets: e.peer.subnets.map(formatCidr), ...(e.reason ? { reason: e.reason } : {}) });
      },
      (moved) => log.error('a conflict moved this node\'s subnet; restart weft to re-address its device', { subnet: formatCidr(moved) }),
      built.gossipPeer,
    );

    const router = new Router({ ring, tun, dataplane, maxPacket });
    router.start();
    undo.push(['stop router', () => router.stop()]);

    const startedAt = new Date().toISOString();
    // The one status snapshot (src/cli/node-status.ts): each part hands over its own section.
    const status = (): NodeStatus => nodeStatus({
      node: {
        name: config.name,
        backend: config.backend,
        subnet: formatCidr(subnet),
        location: config.location,
        clusterCidr: formatCidr(config.clusterCidr),
        tun: tun.name,
        mtu,
        offload: !config.tun.offload ? 'off' : tun.offloadsEnabled ? 'on' : 'refused by the kernel',
        underlay: `${config.underlay.address}:${transport.localPort}`,
        startedAt,
      },
      backend: built.status(),
      peers: dataplane.peers(),
      router: router.stats,
      tun: tun.stats,
      offload: tun.offloadStats,
      transport,
      ring: ring.status(),
      // Datagrams the kernel dropped before weft could read them (receive buffer full).
      kernelDrops: {
        data: transports.reduce((n, t) => n + kernelReceiveDrops(t.localPort), 0),
        ...(config.gossip ? { gossip: kernelReceiveDrops(config.gossip.port) } : {}),
      },
      peerRoutes: peerRoutes.routes,
      gossip: gossip?.status(),
    });
    undo.push(['remove subnet.env', writeSubnetEnv(config.subnetEnv, subnetEnvText(resolved, mtu))]);
    const control = await serveControl(config.controlSocket, { status });
    undo.push(['close control socket', () => control.close()]);
    checkpoint();
    if (config.metricsListen !== undefined) {
      const closeMetrics = await serveMetrics(config.metricsListen, metrics(status));
      undo.push(['close metrics endpoint', closeMetrics]);
      checkpoint();
    }

    const reload = () => {
      try {
        const next = loadConfig(configPath, flags);
        const diff = diffPeers(config.peers, next.peers);
        const result = applyPeerDiff(dataplane, diff);
        for (const f of result.failed) log.error('peer not applied', f);
        config = { ...config, peers: next.peers };
        void syncRoutes();
        log.info('peers reloaded', { added: diff.added.length, changed: diff.changed.length, removed: diff.removed.length, failed: result.failed.length });
      } catch (err) {
        log.error('reload failed; keeping the running peers', { error: (err as Error).message });
      }
    };
    const dump = () => log.info('status', { ...status() });
    process.on('SIGHUP', reload);
    process.on('SIGUSR1', dump);
    undo.push(['remove signal handlers', () => {
      process.off('SIGHUP', reload);
      process.off('SIGUSR1', dump);
    }]);

    log.info('ready', {
      name: config.name,
      backend: config.backend,
      tun: tun.name,
      mtu,
      subnet: formatCidr(subnet),
      underlay: `${config.underlay.address}:${transport.localPort}`,
      transport: config.transport.type,
      peers: config.peers.length,
      metrics: config.metricsListen ?? 'off',
      ...built.identity,
    });

    return {
      config,
      stop: async (reason: string) => {
        log.info('stopping', { reason, ...status() });
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
