/**
 * `weft up`: run this node's overlay router until SIGTERM or SIGINT.
 *
 * This file puts the node's parts in order (node-parts.ts makes the ring,
 * the sockets, gossip and the device; dataplane-factory.ts the data plane)
 * and wires them together. Order matters for a clean exit: every part
 * registers its undo as it succeeds, and shutdown (or a failed start)
 * unwinds them backwards, so a node that dies half-configured still leaves
 * no route, address or device behind.
 */
import { transportAeadBackend, transportAeadDescription, useTransportAead } from '../crypto/aead.ts';
import { encodeKey } from '../crypto/keys.ts';
import { serveControl } from './control.ts';
import { forgetHandler } from './forget.ts';
import { metrics, serveMetrics } from './metrics.ts';
import { networkFields, nodeStatus } from './node-status.ts';
import type { NodeStatus } from './node-status.ts';
import { Router } from '../node/router.ts';
import { requestScheduling } from '../node/scheduling.ts';
import { applyPeerDiff, diffPeers } from '../node/peer-diff.ts';
import { PeerRoutes } from '../node/peer-routes.ts';
import { kernelReceiveDrops } from '../transport/kernel-drops.ts';
import { formatCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import { buildDataplane } from './dataplane-factory.ts';
import { Undo, clusterCidrsOf, joinGossip, makeRing, moveVtepAddress, openDevice, openSockets, underlayStatus, underlayText } from './node-parts.ts';
import { preflight } from './config-checks.ts';
import { loadConfig } from './config-load.ts';
import type { NodeConfig, ResolvedConfig } from './config.ts';
import type { Logger } from './log.ts';
import { saveGeneratedKey, writeSubnetEnv } from './node-files.ts';
import { subnetEnvText } from './subnet-env.ts';
import { WeftError } from '../errors.ts';

export interface RunningNode {
  config: NodeConfig;
  stop(reason: string): Promise<void>;
}

/**
 * Start the node. Every check (config, MTU, state directory, clashes with
 * what runs here already) passes before the first side effect. `signal`
 * aborts a start in progress (SIGTERM during start-up): what was made so
 * far is unwound and the promise rejects with START_INTERRUPTED.
 */
export async function startNode(configPath: string | undefined, flags: Record<string, string>, log: Logger, signal?: AbortSignal): Promise<RunningNode> {
  let config = loadConfig(configPath, flags);
  // WEFT_AEAD (src/crypto/aead-backend.ts): a bad value, or OpenSSL asked for where it cannot be used, stops the start here.
  useTransportAead(process.env.WEFT_AEAD);
  const checkpoint = () => {
    if (signal?.aborted) throw new WeftError('START_INTERRUPTED', `start-up interrupted by ${String(signal.reason)}; everything made so far was removed`);
  };
  const undo = new Undo(log);

  try {
    const { mtu, maxPacket, underlayMtu } = await preflight(config);
    const ring = makeRing(config, underlayMtu, log);
    checkpoint();
    // A key made for this first start is saved only now that everything checked out (and kept: it is the node's identity).
    if (config.wireguard?.generatedKeyFile !== undefined) saveGeneratedKey(config.wireguard.generatedKeyFile, encodeKey(config.wireguard.privateKey));
    const transports = await openSockets(config, ring, undo, checkpoint);
    const transport = transports[0]!;
    const gossip = await joinGossip(config, undo);
    checkpoint();
    // With gossip every family's subnet is claimed there (a configured one is announced as configured).
    const claimed = gossip === undefined ? undefined : await gossip.claimSubnet(3000, config.gossip!.seeds.length > 0);
    const subnet = claimed?.v4 ?? config.subnet;
    checkpoint();
    // Mutable: a conflict settled against this node moves a subnet while it runs (readdress below).
    let resolved: ResolvedConfig = { ...config, subnet, subnet6: claimed?.v6 ?? config.subnet6 };
    const built = buildDataplane(resolved, ring, transports, mtu, log);
    const dataplane = built.dataplane;
    const verifyChecksums = !dataplane.encapsulations.every((e) => e.authenticatesPayload);
    const { tun, link } = await openDevice(resolved, ring, mtu, verifyChecksums, undo, log);
    checkpoint();

    const peerRoutes = new PeerRoutes(link, clusterCidrsOf(config), (message) => log.error('route not applied', { error: message }));
    const syncRoutes = () => peerRoutes.sync(dataplane.peers());
    await built.start(tun.name, () => void syncRoutes());
    undo.push('stop the data plane', () => built.stop());
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
      (moved) => void readdress(moved),
      built.gossipPeer,
    );

    const router = new Router({ ring, tun, dataplane, maxPacket });
    // Before the first packet: from here on the event loop runs ahead of the pods' processes (src/node/scheduling.ts).
    const scheduling = requestScheduling(config.scheduling.priority);
    if (scheduling.refused !== undefined) log.warn('real-time scheduling refused; forwarding at normal priority', { reason: scheduling.refused });
    router.start();
    undo.push('stop router', () => router.stop());

    const startedAt = new Date().toISOString();
    // The one status snapshot (src/cli/node-status.ts): each part hands over its own section.
    const status = (): NodeStatus => nodeStatus({
      node: {
        name: config.name,
        backend: config.backend,
        ...networkFields(resolved),
        location: config.location,
        tun: tun.name,
        mtu,
        offload: !config.tun.offload ? 'off' : tun.offloadsEnabled ? 'on' : 'refused by the kernel',
        scheduling: scheduling.refused === undefined ? scheduling.policy : `${scheduling.policy} (${scheduling.refused})`,
        ...(config.backend !== 'vxlan' ? { aead: transportAeadDescription() } : {}),
        ...underlayStatus(config, transport.localPort),
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
    undo.push('remove subnet.env', writeSubnetEnv(config.subnetEnv, subnetEnvText(resolved, mtu)));

    /**
     * A conflict settled against this node moved one of its subnets (gossip):
     * the device's VTEP address, VXLAN's ARP and neighbour discovery answers,
     * status and subnet.env follow at once. Pods already addressed from the
     * old subnet keep their addresses until their runtime re-adds them.
     */
    const readdress = async (moved: Cidr): Promise<void> => {
      const before = resolved;
      resolved = moved.family === 4 ? { ...resolved, subnet: moved } : { ...resolved, subnet6: moved };
      try {
        await moveVtepAddress(link, before, resolved);
        built.readdress(resolved);
        writeSubnetEnv(config.subnetEnv, subnetEnvText(resolved, mtu));
        log.info('subnet moved: device re-addressed', { subnet: formatCidr(moved) });
      } catch (err) {
        log.error('subnet moved, but the device could not be re-addressed; restart weft', { subnet: formatCidr(moved), error: (err as Error).message });
      }
    };
    const forget = forgetHandler(gossip?.membership, dataplane, () => config.peers.map((p) => p.name), () => void syncRoutes());
    const control = await serveControl(config.controlSocket, { status, forget });
    undo.push('close control socket', () => control.close());
    checkpoint();
    if (config.metricsListen !== undefined) {
      const closeMetrics = await serveMetrics(config.metricsListen, metrics(status));
      undo.push('close metrics endpoint', closeMetrics);
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
    undo.push('remove signal handlers', () => {
      process.off('SIGHUP', reload);
      process.off('SIGUSR1', dump);
    });

    log.info('ready', {
      name: config.name,
      backend: config.backend,
      tun: tun.name,
      mtu,
      ...networkFields({ ...resolved, clusterCidr: undefined, clusterCidr6: undefined }),
      underlay: underlayText(config, transport.localPort),
      transport: config.transport.type,
      scheduling: scheduling.policy,
      ...(config.backend !== 'vxlan' ? { aead: transportAeadBackend() } : {}),
      peers: config.peers.length,
      metrics: config.metricsListen ?? 'off',
      ...built.identity,
    });

    return {
      config,
      stop: async (reason: string) => {
        log.info('stopping', { reason, ...status() });
        await undo.unwind();
      },
    };
  } catch (err) {
    await undo.unwind();
    throw err;
  }
}
