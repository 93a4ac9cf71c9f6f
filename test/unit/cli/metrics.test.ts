import { describe, expect, it } from 'vitest';
import { metrics } from '../../../src/cli/metrics.ts';
import type { NodeStatus } from '../../../src/cli/status-format.ts';

const status = (): NodeStatus => ({
  node: { name: 'node-a', backend: 'wireguard', subnet: '10.244.1.0/24', clusterCidr: '10.244.0.0/16', tun: 'weft0', mtu: 1440, underlay: '192.0.2.1:51820', startedAt: '' },
  peers: [],
  drops: { under_load: 36337, rate_limited: 32373, too_big: 2 },
  kernelDrops: { data: 1876, gossip: 3 },
  gossip: { drops: { replay: 4, 'rate-limited': 0 } },
  handshakes: { cookieRepliesSent: 3964, initiationsProcessed: 64 },
  router: { linkScoped: 0 },
  ring: { slots: 16, free: 16, exhausted: 0 },
});

describe('Prometheus metrics', () => {
  it('export kernel receive drops per socket, gossip drops, cookies sent and too-big drops from the one status snapshot', async () => {
    const text = await metrics(status).scrape();
    expect(text).toContain('weft_socket_receive_drops_total{socket="data"} 1876');
    expect(text).toContain('weft_socket_receive_drops_total{socket="gossip"} 3');
    expect(text).toContain('weft_gossip_drops_total{reason="replay"} 4');
    expect(text).toContain('weft_handshakes_total{event="cookieRepliesSent"} 3964');
    expect(text).toContain('weft_drops_total{reason="too_big"} 2');
    expect(text).toContain('weft_drops_total{reason="under_load"} 36337');
  });
});
