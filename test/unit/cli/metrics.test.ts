import { describe, expect, it } from 'vitest';
import { metrics } from '../../../src/cli/metrics.ts';
import { nodeStatus } from '../../../src/cli/node-status.ts';
import type { NodeStatus } from '../../../src/cli/node-status.ts';
import { WaitHistogram } from '../../../src/transport/wait-histogram.ts';
import { parseCidr } from '../../../src/wire/addr.ts';
import { backendStatus, statusParts } from '../../helpers/status-fixture.ts';

const status = (): NodeStatus => {
  const parts = statusParts('wireguard');
  const backend = backendStatus('wireguard');
  if (backend.kind === 'wireguard') {
    backend.drops = { under_load: 36337, rate_limited: 32373 };
    backend.handshakes = { ...backend.handshakes, cookieRepliesSent: 3964, initiationsProcessed: 64 };
  }
  parts.backend = backend;
  parts.router.tooBig = 2;
  parts.router.linkScoped = 5;
  parts.router.codelDrops = 11;
  parts.router.overlimitDrops = 2;
  parts.router.ecnMarks = 3;
  parts.kernelDrops = { data: 1876, gossip: 3 };
  parts.gossip = { members: { alive: 2, suspect: 0, dead: 0, left: 0 }, incarnation: 1, drops: { replay: 4, 'rate-limited': 0 }, unreachable: { 'node-c': 'fd99::3' } };
  parts.ring = { slots: 16, free: 12, exhausted: 7 };
  const waits = new WaitHistogram();
  for (const us of [10, 20, 3000, 70_000]) waits.record(us);
  parts.transport = { ...parts.transport, receiveWaits: waits };
  parts.offload = { superPackets: 1, segments: 20, writes: 3, merged: 9, checksumFailed: 0, drops: { not_tcp: 2 } };
  parts.peers = [
    { name: 'node-b', endpoint: undefined, subnets: [parseCidr('10.244.2.0/24')], backend: 'wireguard', traffic: { txBytes: 100, rxBytes: 200, txPackets: 1, rxPackets: 2 }, publicKey: new Uint8Array(32), lastHandshakeWallMs: 1_700_000_000_000, persistentKeepalive: 0 },
  ];
  return nodeStatus(parts);
};

/** The exposition lines of the weft_ metrics (the process metrics vary from run to run). */
const weftLines = (text: string) => text.split('\n').filter((l) => l.startsWith('weft_'));

describe('Prometheus metrics', () => {
  it('export every weft counter from the one typed status snapshot', async () => {
    expect(weftLines(await metrics(status).scrape())).toEqual([
      'weft_info{node="node-a",backend="wireguard",subnet="10.244.1.0/24"} 1',
      'weft_subnet_info{family="4",subnet="10.244.1.0/24"} 1',
      'weft_peer_transmit_bytes_total{peer="node-b"} 100',
      'weft_peer_receive_bytes_total{peer="node-b"} 200',
      'weft_peer_transmit_packets_total{peer="node-b"} 1',
      'weft_peer_receive_packets_total{peer="node-b"} 2',
      'weft_peer_last_handshake_seconds{peer="node-b"} 1700000000',
      'weft_drops_total{reason="under_load"} 36337',
      'weft_drops_total{reason="rate_limited"} 32373',
      'weft_drops_total{reason="too_big"} 2',
      'weft_socket_receive_drops_total{socket="data"} 1876',
      'weft_socket_receive_drops_total{socket="gossip"} 3',
      'weft_gossip_drops_total{reason="replay"} 4',
      'weft_gossip_drops_total{reason="rate-limited"} 0',
      'weft_gossip_unreachable{peer="node-c",address="fd99::3"} 1',
      'weft_queue_drops_total{reason="codel"} 11',
      'weft_queue_drops_total{reason="overlimit"} 2',
      'weft_queue_ecn_marks_total 3',
      'weft_link_scoped_total 5',
      'weft_ring_slots{state="free"} 12',
      'weft_ring_slots{state="in_use"} 4',
      'weft_ring_exhausted_total 7',
      'weft_handshakes_total{event="initiationsSent"} 0',
      'weft_handshakes_total{event="initiationsReceived"} 0',
      'weft_handshakes_total{event="initiationsProcessed"} 64',
      'weft_handshakes_total{event="responsesSent"} 0',
      'weft_handshakes_total{event="completed"} 0',
      'weft_handshakes_total{event="cookieRepliesSent"} 3964',
      'weft_handshakes_total{event="keepalivesSent"} 0',
      'weft_peers 1',
      'weft_tun_offload_total{event="super_packets"} 1',
      'weft_tun_offload_total{event="segments"} 20',
      'weft_tun_offload_total{event="writes"} 3',
      'weft_tun_offload_total{event="merged"} 9',
      'weft_tun_offload_total{event="checksum_failed"} 0',
      'weft_tun_offload_drops_total{reason="not_tcp"} 2',
      // Cumulative, as Prometheus histograms are: 10 us, 20 us, 3 ms and 70 ms.
      'weft_receive_wait_seconds_bucket{le="0.000016"} 1',
      'weft_receive_wait_seconds_bucket{le="0.000032"} 2',
      ...['0.000064', '0.000128', '0.000256', '0.000512', '0.001024', '0.002048'].map((le) => `weft_receive_wait_seconds_bucket{le="${le}"} 2`),
      ...['0.004096', '0.008192', '0.016384', '0.032768', '0.065536'].map((le) => `weft_receive_wait_seconds_bucket{le="${le}"} 3`),
      'weft_receive_wait_seconds_bucket{le="+Inf"} 4',
      'weft_receive_wait_seconds_sum 0.07303',
      'weft_receive_wait_seconds_count 4',
    ]);
  });

  it('declares the receive wait a histogram, and has no samples of it without arrival stamps', async () => {
    const text = await metrics(status).scrape();
    expect(text).toContain('# TYPE weft_receive_wait_seconds histogram');
    const lines = weftLines(await metrics(() => nodeStatus(statusParts('vxlan'))).scrape());
    expect(lines.filter((l) => l.startsWith('weft_receive_wait'))).toEqual([]);
  });

  it('have no handshake, handshake-time, gossip or offload samples where the node has none', async () => {
    const parts = statusParts('vxlan');
    parts.peers = [{ name: 'node-b', endpoint: { address: '192.0.2.2', port: 8472 }, subnets: [], backend: 'vxlan', traffic: { txBytes: 0, rxBytes: 0, txPackets: 0, rxPackets: 0 } }];
    const lines = weftLines(await metrics(() => nodeStatus(parts)).scrape());
    expect(lines).toContain('weft_socket_receive_drops_total{socket="data"} 0');
    expect(lines).toContain('weft_drops_total{reason="too_big"} 0');
    expect(lines.filter((l) => /^weft_(handshakes|peer_last_handshake|gossip|tun_offload)/u.test(l))).toEqual([]);
  });

  it('names a dual-stack node\'s subnet in each family', async () => {
    const parts = statusParts('vxlan');
    parts.node.subnet6 = 'fd00:10:244:1::/64';
    const lines = weftLines(await metrics(() => nodeStatus(parts)).scrape());
    expect(lines.filter((l) => l.startsWith('weft_subnet_info'))).toEqual(['weft_subnet_info{family="4",subnet="10.244.1.0/24"} 1', 'weft_subnet_info{family="6",subnet="fd00:10:244:1::/64"} 1']);
  });
});
