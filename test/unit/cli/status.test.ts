import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serveControl } from '../../../src/cli/control.ts';
import { request } from '../../../src/transport/control-client.ts';
import { nodeStatus } from '../../../src/cli/node-status.ts';
import type { NodeStatus } from '../../../src/cli/node-status.ts';
import { formatAgo, formatBytes, formatStatus } from '../../../src/cli/status-format.ts';
import { isWeftError } from '../../../src/errors.ts';
import { WaitHistogram } from '../../../src/transport/wait-histogram.ts';
import { parseCidr } from '../../../src/wire/addr.ts';
import { backendStatus, statusParts } from '../../helpers/status-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-control-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('status formatting', () => {
  it('formats bytes and ages as wg show does', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(20 * 1024 * 1024)).toBe('20.00 MiB');
    expect(formatAgo(0.2)).toBe('Now');
    expect(formatAgo(1)).toBe('1 second ago');
    expect(formatAgo(3725)).toBe('1 hour, 2 minutes, 5 seconds ago');
  });

  it('prints the node, each peer, members with no direct path and the drops', () => {
    const parts = statusParts('wireguard');
    parts.backend = { ...backendStatus('wireguard'), drops: { no_route: 3, bad_auth: 0, data_replay: 1 } };
    parts.router.tooBig = 2;
    parts.router.codelDrops = 7;
    parts.router.ecnMarks = 1;
    parts.kernelDrops = { data: 1876, gossip: 0 };
    parts.gossip = { members: { alive: 3, suspect: 0, dead: 0, left: 0 }, incarnation: 1, drops: { replay: 4, version: 0 }, unreachable: { 'node-d': 'fd99::4' } };
    const status: NodeStatus = {
      ...nodeStatus(parts),
      peers: [
        { name: 'node-b', backend: 'wireguard', endpoint: '192.0.2.2:51820', subnets: ['10.244.2.0/24'], txBytes: 2048, rxBytes: 1024, txPackets: 2, rxPackets: 1, publicKey: 'KEYB', lastHandshakeWallMs: 1_000_000 - 65_000, persistentKeepalive: 25 },
        { name: 'node-c', backend: 'wireguard', endpoint: null, subnets: [], txBytes: 0, rxBytes: 0, txPackets: 0, rxPackets: 0, publicKey: 'KEYC', lastHandshakeWallMs: 0 },
      ],
    };
    const text = formatStatus(status, 1_000_000);
    expect(text).toBe(
      [
        'node: node-a',
        '  backend: wireguard',
        '  subnet: 10.244.1.0/24 (cluster 10.244.0.0/16)',
        '  device: weft0 (mtu 1440, offload on)',
        '  scheduling: SCHED_RR 10',
        '  underlay: 192.0.2.1:51820',
        '  public key: PUB',
        '  transport AEAD: ChaCha20-Poly1305 by OpenSSL 3.0.19',
        '',
        'peer: node-b',
        '  backend: wireguard',
        '  public key: KEYB',
        '  endpoint: 192.0.2.2:51820',
        '  subnets: 10.244.2.0/24',
        '  latest handshake: 1 minute, 5 seconds ago',
        '  transfer: 1.00 KiB received, 2.00 KiB sent',
        '  persistent keepalive: every 25 seconds',
        '',
        'peer: node-c',
        '  backend: wireguard',
        '  public key: KEYC',
        '  endpoint: (none)',
        '  subnets: (none)',
        '  latest handshake: (none)',
        '  transfer: 0 B received, 0 B sent',
        '',
        'unreachable: node-d',
        "  underlay: fd99::4 (no underlay family in common: no direct path; its pods' packets count as no_route)",
        '',
        'drops: no_route 3, data_replay 1, too_big 2',
        'kernel receive drops: data 1876',
        'queue: codel drops 7, ECN marks 1',
        'gossip drops: replay 4',
        '',
      ].join('\n'),
    );
  });

  it('names the IPv6 VTEP of a dual-stack node beside the IPv4 one, and alone on an IPv6-only node', () => {
    const s = nodeStatus(statusParts('vxlan'));
    if (s.kind !== 'vxlan') throw new Error('fixture');
    const vtepLine = (v4: string, v6?: string) => formatStatus({ ...s, node: { ...s.node, vtepIp: v4, ...(v6 !== undefined ? { vtepIp6: v6 } : {}) } }).split('\n').find((l) => l.startsWith('  vtep:'));
    expect(vtepLine('10.244.1.0', 'fd00:10:244:1::')).toBe(`  vtep: 10.244.1.0, fd00:10:244:1:: ${s.node.vtepMac} (vni 1)`);
    expect(vtepLine('0.0.0.0', 'fd00:10:244:1::')).toBe(`  vtep: fd00:10:244:1:: ${s.node.vtepMac} (vni 1)`);
    expect(vtepLine('10.244.1.0')).toBe(`  vtep: 10.244.1.0 ${s.node.vtepMac} (vni 1)`);
  });

  it('prints a VXLAN node\'s VTEP and no key; a mixed node\'s key and VTEP; no gossip line without gossip', () => {
    const vxlan = statusParts('vxlan');
    vxlan.offload = null;
    vxlan.node.offload = 'refused by the kernel';
    vxlan.node.scheduling = 'normal (SCHED_RR 10 refused (EPERM): give weft CAP_SYS_NICE)';
    expect(formatStatus(nodeStatus(vxlan))).toBe(
      [
        'node: node-a',
        '  backend: vxlan',
        '  subnet: 10.244.1.0/24 (cluster 10.244.0.0/16)',
        '  device: weft0 (mtu 1450, offload refused by the kernel)',
        '  scheduling: normal (SCHED_RR 10 refused (EPERM): give weft CAP_SYS_NICE)',
        '  underlay: 192.0.2.1:8472',
        '  vtep: 10.244.1.0 02:00:0a:f4:01:00 (vni 1)',
        '',
        'drops: none',
        'kernel receive drops: none',
        'queue: none',
        '',
      ].join('\n'),
    );
    expect(formatStatus(nodeStatus(statusParts('mixed'))).split('\n').slice(1, 9)).toEqual([
      '  backend: mixed',
      '  subnet: 10.244.1.0/24 (cluster 10.244.0.0/16)',
      '  device: weft0 (mtu 1440, offload on)',
      '  scheduling: SCHED_RR 10',
      '  underlay: 192.0.2.1:51820',
      '  public key: PUB',
      '  transport AEAD: ChaCha20-Poly1305 by OpenSSL 3.0.19',
      '  vtep: 10.244.1.0 02:00:0a:f4:01:00 (vni 1)',
    ]);
  });
});

describe('a dual-stack node\'s status', () => {
  it('names both subnets and both cluster CIDRs on the subnet line', () => {
    const parts = statusParts('vxlan');
    parts.node.subnet6 = 'fd00:10:244:1::/64';
    parts.node.clusterCidr6 = 'fd00:10:244::/56';
    expect(formatStatus(nodeStatus(parts))).toContain('  subnet: 10.244.1.0/24, fd00:10:244:1::/64 (cluster 10.244.0.0/16, fd00:10:244::/56)\n');
  });
});

describe('the status snapshot', () => {
  it('is built from each part\'s section and keeps the JSON paths status readers use', () => {
    const parts = statusParts('wireguard');
    const key = new Uint8Array(32).fill(1);
    parts.peers = [
      { name: 'node-b', endpoint: { address: '192.0.2.2', port: 51820 }, subnets: [parseCidr('10.244.2.0/24')], backend: 'wireguard', traffic: { txBytes: 1, rxBytes: 2, txPackets: 3, rxPackets: 4 }, publicKey: key, lastHandshakeWallMs: 5, persistentKeepalive: 25 },
      { name: 'node-c', endpoint: { address: '2001:db8::3', port: 8472 }, subnets: [], traffic: { txBytes: 0, rxBytes: 0, txPackets: 0, rxPackets: 0 }, backend: 'vxlan' },
    ];
    parts.backend = { ...backendStatus('wireguard'), drops: { bad_mac: 7 } };
    parts.router.tooBig = 2;
    parts.router.linkScoped = 9;
    parts.kernelDrops = { data: 1, gossip: 0 };
    parts.transport = { stats: { ...parts.transport.stats, sentPackets: 10 }, batch: { sendBatches: 4, gso: true, gro: false } };
    parts.peerRoutes = ['10.250.0.5/32'];
    const s = nodeStatus(parts);
    // A snapshot: later counting does not change it.
    parts.router.linkScoped = 100;
    const json = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
    expect(json).toMatchObject({
      kind: 'wireguard',
      node: { name: 'node-a', backend: 'wireguard', mtu: 1440, offload: 'on', publicKey: 'PUB', listenPort: 51820 },
      drops: { bad_mac: 7, too_big: 2 },
      kernelDrops: { data: 1, gossip: 0 },
      handshakes: { completed: 0, cookieRepliesSent: 0 },
      router: { linkScoped: 9, tooBig: 2 },
      tunStats: { readPackets: 0 },
      transport: { sentPackets: 10, sendBatches: 4, gso: true, gro: false },
      ring: { slots: 16, free: 16, exhausted: 0 },
      peerRoutes: ['10.250.0.5/32'],
      peers: [
        { name: 'node-b', backend: 'wireguard', endpoint: '192.0.2.2:51820', subnets: ['10.244.2.0/24'], txBytes: 1, rxBytes: 2, txPackets: 3, rxPackets: 4, publicKey: Buffer.from(key).toString('base64'), lastHandshakeWallMs: 5, persistentKeepalive: 25 },
        { name: 'node-c', backend: 'vxlan', endpoint: '[2001:db8::3]:8472', subnets: [] },
      ],
    });
    expect(json).not.toHaveProperty('arpReplies');
    expect(json).not.toHaveProperty('offload');
    expect(json).not.toHaveProperty('gossip');
    expect(json.peers).toEqual([expect.anything(), expect.not.objectContaining({ publicKey: expect.anything() })]);
    const plain = nodeStatus(statusParts('vxlan'));
    expect(plain.transport).not.toHaveProperty('sendBatches');
    expect(plain).toMatchObject({ kind: 'vxlan', arpReplies: 0, node: { vtepMac: '02:00:0a:f4:01:00', vni: 1 } });
    expect(plain).not.toHaveProperty('handshakes');
  });
});

describe('control socket', () => {
  it('answers a known command, refuses an unknown one, and reports an absent node clearly', async () => {
    const path = join(dir, 'n.sock');
    const server = await serveControl(path, { status: () => ({ hello: 'world' }) });
    try {
      expect(await request(path, 'status')).toEqual({ hello: 'world' });
      await expect(request(path, 'reboot')).rejects.toThrow(/unknown command "reboot"; known: status/u);
      await expect(serveControl(path, { status: () => 1 })).rejects.toThrow(/served by another weft/u);
    } finally {
      await server.close();
    }
    let caught: unknown;
    try {
      await request(path, 'status');
    } catch (err) {
      caught = err;
    }
    expect(isWeftError(caught, 'CONTROL_UNREACHABLE')).toBe(true);
  });
});

describe('status: receive wait', () => {
  it('shows how long received messages waited for weft, as bucket bounds, once the socket has arrival stamps', () => {
    const parts = statusParts('vxlan');
    expect(formatStatus(nodeStatus(parts))).not.toContain('receive wait');
    const waits = new WaitHistogram();
    parts.transport = { ...parts.transport, receiveWaits: waits };
    expect(formatStatus(nodeStatus(parts))).toContain('\nreceive wait: none yet\n');
    for (let i = 0; i < 98; i++) waits.record(20);
    waits.record(3000);
    waits.record(100_000);
    const s = nodeStatus(parts);
    expect(s.receiveWait).toEqual({ buckets: Array.from(waits.counts), count: 100, sumUs: 104_960 });
    expect(formatStatus(s)).toContain('\nreceive wait: p50 <= 32 us, p99 <= 4.096 ms (100 since start)\n');
    waits.record(100_000);
    waits.record(100_000);
    expect(formatStatus(nodeStatus(parts))).toContain('receive wait: p50 <= 32 us, p99 > 65.536 ms (102 since start)');
  });
});
