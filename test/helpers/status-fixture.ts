/**
 * Status parts for unit tests of the one status snapshot (src/cli/node-status.ts):
 * every counter zero, a node of the given backend; tests change what they look at.
 */
import type { BackendStatus, StatusParts } from '../../src/cli/node-status.ts';
import { newTransportStats } from '../../src/transport/transport.ts';
import { emptyTunStats } from '../../src/tun/tun-device.ts';

const handshakes = () => ({ initiationsSent: 0, initiationsReceived: 0, initiationsProcessed: 0, responsesSent: 0, completed: 0, cookieRepliesSent: 0, keepalivesSent: 0 });
const vtep = { vtepIp: '10.244.1.0', vtepMac: '02:00:0a:f4:01:00', vni: 1 };
const wg = { publicKey: 'PUB', listenPort: 51820 };

export function backendStatus(kind: BackendStatus['kind']): BackendStatus {
  switch (kind) {
    case 'vxlan':
      return { kind, node: { ...vtep }, drops: {}, arpReplies: 0 };
    case 'wireguard':
      return { kind, node: { ...wg }, drops: {}, handshakes: handshakes() };
    case 'mixed':
      return { kind, node: { location: 'default', ...vtep, ...wg }, drops: {}, arpReplies: 0, handshakes: handshakes() };
  }
}

export function statusParts(kind: BackendStatus['kind']): StatusParts {
  return {
    node: {
      name: 'node-a',
      backend: kind,
      subnet: '10.244.1.0/24',
      location: 'default',
      clusterCidr: '10.244.0.0/16',
      tun: 'weft0',
      mtu: kind === 'vxlan' ? 1450 : 1440,
      offload: 'on',
      scheduling: 'SCHED_RR 10',
      ...(kind !== 'vxlan' ? { aead: 'ChaCha20-Poly1305 by OpenSSL 3.0.19' } : {}),
      underlay: kind === 'vxlan' ? '192.0.2.1:8472' : '192.0.2.1:51820',
      startedAt: '',
    },
    backend: backendStatus(kind),
    peers: [],
    router: { tunBatches: 0, tunPackets: 0, delivered: 0, tunWriteErrors: 0, linkScoped: 0, tooBig: 0, tooBigAnswered: 0, enqueued: 0, codelDrops: 0, ecnMarks: 0, overlimitDrops: 0 },
    tun: emptyTunStats(),
    offload: null,
    transport: { stats: newTransportStats() },
    ring: { slots: 16, free: 16, exhausted: 0 },
    kernelDrops: { data: 0 },
    peerRoutes: [],
    gossip: undefined,
  };
}
