import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request, serveControl } from '../../../src/cli/control.ts';
import { formatAgo, formatBytes, formatStatus } from '../../../src/cli/status-format.ts';
import { isWeftError } from '../../../src/errors.ts';

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

  it('prints the node, each peer and the drops', () => {
    const text = formatStatus(
      {
        node: { name: 'node-a', backend: 'wireguard', subnet: '10.244.1.0/24', clusterCidr: '10.244.0.0/16', tun: 'weft0', mtu: 1440, offload: 'on', underlay: '192.0.2.1:51820', startedAt: '', publicKey: 'PUB' },
        peers: [
          { name: 'node-b', backend: 'wireguard', endpoint: '192.0.2.2:51820', subnets: ['10.244.2.0/24'], txBytes: 2048, rxBytes: 1024, txPackets: 2, rxPackets: 1, publicKey: 'KEYB', lastHandshakeWallMs: 1_000_000 - 65_000, persistentKeepalive: 25 },
          { name: 'node-c', endpoint: null, subnets: [], txBytes: 0, rxBytes: 0, txPackets: 0, rxPackets: 0, publicKey: 'KEYC', lastHandshakeWallMs: 0 },
        ],
        drops: { no_route: 3, bad_auth: 0, data_replay: 1, too_big: 2 },
        kernelDrops: { data: 1876, gossip: 0 },
        gossip: { drops: { replay: 4, version: 0 } },
      },
      1_000_000,
    );
    expect(text).toBe(
      [
        'node: node-a',
        '  backend: wireguard',
        '  subnet: 10.244.1.0/24 (cluster 10.244.0.0/16)',
        '  device: weft0 (mtu 1440, offload on)',
        '  underlay: 192.0.2.1:51820',
        '  public key: PUB',
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
        '  public key: KEYC',
        '  endpoint: (none)',
        '  subnets: (none)',
        '  latest handshake: (none)',
        '  transfer: 0 B received, 0 B sent',
        '',
        'drops: no_route 3, data_replay 1, too_big 2',
        'kernel receive drops: data 1876',
        'gossip drops: replay 4',
        '',
      ].join('\n'),
    );
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
