import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../../src/native/addon.ts';
import { kernelReceiveDrops, parseUdpDrops } from '../../../src/transport/kernel-drops.ts';

const TABLE = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  301: 00000000:2118 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 40961 2 0000000000000000 1876
  302: 0100007F:2118 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 40962 2 0000000000000000 4
  303: 00000000:1F0A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 40963 2 0000000000000000 99
`;

describe('kernel receive drops', () => {
  it('sums the drops column of the sockets bound to the port, and only those', () => {
    expect(parseUdpDrops(TABLE, 8472)).toBe(1880);
    expect(parseUdpDrops(TABLE, 7946)).toBe(99);
    expect(parseUdpDrops(TABLE, 51820)).toBe(0);
    expect(parseUdpDrops('garbage\nmore garbage with : colons\n', 8472)).toBe(0);
  });

  it('counts what a real socket lost when its receive buffer was full', async () => {
    // A bound socket nobody reads (the native addon's, never polled) with a small buffer.
    const addon = loadAddon();
    const rx = addon.udpOpen(4, '127.0.0.1', 0, 4096, 4096);
    const tx = createSocket('udp4');
    try {
      expect(kernelReceiveDrops(rx.port)).toBe(0);
      const payload = Buffer.alloc(1000);
      for (let i = 0; i < 200; i++) await new Promise<void>((resolve) => tx.send(payload, rx.port, '127.0.0.1', () => resolve()));
      // The buffer holds a handful of datagrams; every one after is a kernel drop.
      expect(kernelReceiveDrops(rx.port)).toBeGreaterThan(180);
    } finally {
      addon.closeFd(rx.fd);
      tx.close();
    }
  });
});
