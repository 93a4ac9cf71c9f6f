/**
 * Prometheus metrics on http://127.0.0.1:9586/metrics by default (loopback:
 * counters of traffic per peer are nobody else's business). Nothing is
 * counted twice: every metric is read at scrape time from the counters the
 * data plane keeps anyway, so the packet path pays nothing for metrics.
 * prom-client supplies the exposition format and Node's process metrics,
 * event-loop lag among them.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { WeftError } from '../errors.ts';
import { WAIT_BOUNDS_US } from '../transport/wait-histogram.ts';
import type { WaitCounts } from '../transport/wait-histogram.ts';
import type { NodeStatus } from './status-format.ts';

export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9586';

/** Emits each labelled value of one metric at scrape time. */
type Read = (emit: (labels: Record<string, string>, v: number) => void) => void;

/**
 * A counter or gauge whose values are copied at scrape time from counts the
 * data plane keeps anyway (a counter is reset and set to the running total,
 * which is what Prometheus reads from an exported counter).
 */
function mirrored(kind: 'counter' | 'gauge', registry: Registry, name: string, help: string, labelNames: string[], read: Read): void {
  const base = { name, help, labelNames, registers: [registry] };
  if (kind === 'counter') {
    new Counter({ ...base, collect() {
      this.reset();
      read((labels, v) => this.inc(labels, v));
    } });
  } else {
    new Gauge({ ...base, collect() {
      this.reset();
      read((labels, v) => this.set(labels, v));
    } });
  }
}

export interface Metrics {
  readonly contentType: string;
  /** The exposition text, from one status snapshot taken for this scrape. */
  scrape(): Promise<string>;
}

export function metrics(status: () => NodeStatus): Metrics {
  const registry = new Registry();
  // The event-loop lag sampler wakes the node every 10 ms (prom-client's default), most of an idle node's
  // CPU (about 5 of 10 ms/s here). Sampling every 100 ms halved that, and made an idle ping between pods
  // 0.15 ms slower on this kind of virtual machine (0.34 against 0.51 ms, bench:e2e, 2 rounds each): a
  // vCPU woken often wakes faster. Kept at 10 ms; docs/ARCHITECTURE.md, "Idle latency".
  collectDefaultMetrics({ register: registry });
  let snap: NodeStatus | undefined;
  const s = () => snap ?? (snap = status());
  mirrored('gauge', registry, 'weft_info', 'This node: name, backend and subnet (value 1).', ['node', 'backend', 'subnet'], (set) => {
    // An IPv6-only node's subnet is its IPv6 one.
    set({ node: s().node.name, backend: s().node.backend, subnet: s().node.subnet ?? s().node.subnet6 ?? '' }, 1);
  });
  mirrored('gauge', registry, 'weft_subnet_info', 'The subnets this node owns, one per address family (value 1).', ['family', 'subnet'], (set) => {
    const four = s().node.subnet;
    if (four !== undefined) set({ family: '4', subnet: four }, 1);
    const six = s().node.subnet6;
    if (six !== undefined) set({ family: '6', subnet: six }, 1);
  });
  for (const [field, dir, what] of [['txBytes', 'transmit', 'bytes'], ['rxBytes', 'receive', 'bytes'], ['txPackets', 'transmit', 'packets'], ['rxPackets', 'receive', 'packets']] as const) {
    mirrored('counter', registry, `weft_peer_${dir}_${what}_total`, `${what === 'bytes' ? 'Bytes' : 'Packets'} ${dir === 'transmit' ? 'sent to' : 'received from'} each peer (encapsulated).`, ['peer'], (set) => {
      for (const p of s().peers) set({ peer: p.name }, p[field]);
    });
  }
  mirrored('gauge', registry, 'weft_peer_last_handshake_seconds', 'Unix time of the latest WireGuard handshake with each peer; 0 for never.', ['peer'], (set) => {
    for (const p of s().peers) if (p.lastHandshakeWallMs !== undefined) set({ peer: p.name }, p.lastHandshakeWallMs / 1000);
  });
  mirrored('counter', registry, 'weft_drops_total', 'Packets dropped by the backend, by reason.', ['reason'], (set) => {
    for (const [reason, n] of Object.entries(s().drops)) set({ reason }, n);
  });
  mirrored('counter', registry, 'weft_socket_receive_drops_total', 'Datagrams the kernel dropped for weft\'s sockets before weft read them (receive buffer full), by socket.', ['socket'], (set) => {
    for (const [socket, n] of Object.entries(s().kernelDrops)) set({ socket }, n);
  });
  mirrored('counter', registry, 'weft_gossip_drops_total', 'Gossip datagrams dropped, by reason.', ['reason'], (set) => {
    for (const [reason, n] of Object.entries(s().gossip?.drops ?? {})) set({ reason }, n);
  });
  mirrored('gauge', registry, 'weft_gossip_unreachable', 'Members sharing no underlay family with this node (no direct path; their pods\' packets count as no_route), with their underlay address (value 1).', ['peer', 'address'], (set) => {
    for (const [peer, address] of Object.entries(s().gossip?.unreachable ?? {})) set({ peer, address }, 1);
  });
  // Congestion signals, not bad input: weft's flow queues keeping a bulk flow from becoming the others' latency.
  mirrored('counter', registry, 'weft_queue_drops_total', "Packets weft's flow queues dropped under load, by reason: codel (waited above target too long), overlimit (the queue was full).", ['reason'], (set) => {
    set({ reason: 'codel' }, s().router.codelDrops);
    set({ reason: 'overlimit' }, s().router.overlimitDrops);
  });
  mirrored('counter', registry, 'weft_queue_ecn_marks_total', "ECN-capable packets weft's flow queues marked CE instead of dropping.", [], (set) => {
    set({}, s().router.ecnMarks);
  });
  mirrored('counter', registry, 'weft_link_scoped_total', 'Multicast, broadcast and link-local packets from the TUN device, not forwarded.', [], (set) => {
    set({}, s().router.linkScoped);
  });
  mirrored('gauge', registry, 'weft_ring_slots', 'Packet ring slots by state.', ['state'], (set) => {
    const ring = s().ring;
    set({ state: 'free' }, ring.free);
    set({ state: 'in_use' }, ring.slots - ring.free);
  });
  mirrored('counter', registry, 'weft_ring_exhausted_total', 'Times a reader found the packet ring empty (its packets were dropped).', [], (set) => {
    set({}, s().ring.exhausted);
  });
  mirrored('counter', registry, 'weft_handshakes_total', 'WireGuard handshake events.', ['event'], (set) => {
    const snap = s();
    if (snap.kind !== 'vxlan') for (const [event, n] of Object.entries(snap.handshakes)) set({ event }, n);
  });
  mirrored('gauge', registry, 'weft_peers', 'Peers configured.', [], (set) => set({}, s().peers.length));
  mirrored('counter', registry, 'weft_tun_offload_total', 'TUN offload work: super-packets read, segments cut from them, writes, segments merged into another write, segments not merged for a bad checksum.', ['event'], (set) => {
    const o = s().offload;
    if (!o) return;
    for (const [event, field] of [['super_packets', 'superPackets'], ['segments', 'segments'], ['writes', 'writes'], ['merged', 'merged'], ['checksum_failed', 'checksumFailed']] as const) {
      set({ event }, o[field]);
    }
  });
  mirrored('counter', registry, 'weft_tun_offload_drops_total', 'Packets read from the TUN device and dropped by the segmenter, by reason.', ['reason'], (set) => {
    const drops = s().offload?.drops;
    if (drops) for (const [reason, n] of Object.entries(drops)) set({ reason }, n);
  });
  registry.registerMetric(receiveWaitHistogram(() => s().receiveWait) as never);
  return {
    contentType: registry.contentType,
    scrape: async () => {
      snap = status();
      try {
        return await registry.metrics();
      } finally {
        snap = undefined;
      }
    },
  };
}

/**
 * weft_receive_wait_seconds, a Prometheus histogram made from the counts the
 * transport keeps (prom-client's Histogram only takes single observations):
 * cumulative buckets, sum and count, read at scrape time like every metric here.
 */
function receiveWaitHistogram(read: () => WaitCounts | undefined): { name: string; help: string; get(): Promise<unknown> } {
  const name = 'weft_receive_wait_seconds';
  const help = "How long received messages (a UDP GRO run, or one datagram) waited in the data socket's queue before weft read them, from the kernel's arrival stamps.";
  return {
    name,
    help,
    get: async () => {
      const w = read();
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      if (w !== undefined) {
        let cumulative = 0;
        WAIT_BOUNDS_US.forEach((bound, i) => {
          cumulative += w.buckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { le: bound === Infinity ? '+Inf' : bound / 1e6 }, value: cumulative });
        });
        values.push({ metricName: `${name}_sum`, labels: {}, value: w.sumUs / 1e6 }, { metricName: `${name}_count`, labels: {}, value: w.count });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}

/** Serve /metrics on `listen` ("address:port"); returns a close function. */
export async function serveMetrics(listen: string, m0: Metrics): Promise<() => Promise<void>> {
  const m = /^(.+):(\d+)$/u.exec(listen);
  if (!m) throw new WeftError('CONFIG_INVALID', `config field "metrics.listen": expected address:port such as ${DEFAULT_METRICS_LISTEN}, got "${listen}"`);
  const host = m[1]!.replace(/^\[|\]$/gu, '');
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('weft serves /metrics\n');
      return;
    }
    m0.scrape().then(
      (text) => res.writeHead(200, { 'content-type': m0.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new WeftError(err.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'METRICS_LISTEN_FAILED', `metrics on ${listen}: ${err.message}; set metrics.listen to another address or "off"`)),
    );
    server.listen(Number(m[2]), host, () => resolve());
  });
  return () => new Promise((resolve) => server.close(() => resolve()));
}
