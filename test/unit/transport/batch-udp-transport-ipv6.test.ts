/**
 * The batch transport on IPv6, over loopback only: every socket is bound to
 * ::1 (or to ::ffff:127.0.0.1, 127.0.0.1's IPv4-mapped form, for the
 * dual-stack path), and every datagram goes to ::1 or 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { loadAddon } from '../../../src/native/addon.ts';
import { BatchUdpTransport } from '../../../src/transport/batch-udp-transport.ts';
import type { BatchUdpTransportOptions } from '../../../src/transport/batch-udp-transport.ts';
import { DgramTransport, makeEndpoint } from '../../../src/transport/dgram-transport.ts';
import type { Transport } from '../../../src/transport/transport.ts';
import { GRO_STAGING_BYTES } from '../../../src/transport/udp-gro-stage.ts';
import { exchange, tick, transportContract } from './transport-contract.ts';

const LOOPBACK6 = '::1';
const MAPPED_LOOPBACK = '::ffff:127.0.0.1';
const LOOPBACK4 = '127.0.0.1';
const open: Transport[] = [];
async function batch(ring: PacketRing, options: Partial<BatchUdpTransportOptions> = {}): Promise<BatchUdpTransport> {
  const t = await BatchUdpTransport.open({ ring, port: 0, bindAddress: LOOPBACK6, ...options });
  open.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

/** Runs of 13 datagrams of one size, then one shorter: what GSO can coalesce. */
function runs(seq: number): number {
  const run = Math.floor(seq / 14);
  return seq % 14 === 13 ? 100 + (run % 50) : 200 + ((run * 97) % 1200);
}

transportContract<BatchUdpTransport>({
  name: 'BatchUdpTransport on IPv6',
  open: (ring, port = 0) => BatchUdpTransport.open({ ring, port, bindAddress: LOOPBACK6, gso: false, gro: false }),
  endpointOf: (t) => makeEndpoint(LOOPBACK6, t.localPort),
  addressOf: () => LOOPBACK6,
  expectIdle: (t) => expect(t.queuedCount).toBe(0),
  sendAfterCloseIsError: true,
  portInUse: true,
  bindText: (port) => `[::1]:${port}`,
});

describe('BatchUdpTransport on IPv6', () => {
  it('takes its family from the bind address', async () => {
    const t = await batch(new PacketRing({ slots: 2 }));
    expect(t.family).toBe(6);
    const v4 = await batch(new PacketRing({ slots: 2 }), { bindAddress: LOOPBACK4 });
    expect(v4.family).toBe(4);
  });

  it('refuses a bind address of the other family with a clear error', async () => {
    const ring = new PacketRing({ slots: 2 });
    await expect(BatchUdpTransport.open({ ring, port: 0, bindAddress: LOOPBACK6, family: 4 })).rejects.toMatchObject({
      code: 'UDP_BIND_FAILED',
      message: expect.stringContaining('[::1]:0: not an IPv4 address') as unknown as string,
    });
    await expect(BatchUdpTransport.open({ ring, port: 0, bindAddress: LOOPBACK4, family: 6 })).rejects.toMatchObject({ code: 'UDP_BIND_FAILED' });
    await expect(BatchUdpTransport.open({ ring, port: 0, bindAddress: 'fe80::1%lo' })).rejects.toMatchObject({ code: 'UDP_BIND_FAILED' });
    // With IPV6_V6ONLY an IPv6 socket has no IPv4-mapped addresses to bind.
    await expect(BatchUdpTransport.open({ ring, port: 0, bindAddress: MAPPED_LOOPBACK, ipv6Only: true })).rejects.toMatchObject({ code: 'UDP_BIND_FAILED' });
  });

  it('exchanges thousands of datagrams intact both ways, and with DgramTransport on udp6', async () => {
    const a = await batch(new PacketRing({ slots: 48 }), { batchSize: 16 });
    const b = await batch(new PacketRing({ slots: 256 }));
    await exchange(a, b, 5000, { fromAddress: LOOPBACK6, to: makeEndpoint(LOOPBACK6, b.localPort) });
    expect(a.sendBatches).toBeLessThan(a.stats.sentPackets / 4);
    await exchange(b, a, 3000, { fromAddress: LOOPBACK6, to: makeEndpoint(LOOPBACK6, a.localPort) });
    const d = await DgramTransport.open({ ring: new PacketRing({ slots: 256 }), port: 0, bindAddress: LOOPBACK6, family: 6 });
    open.push(d);
    await exchange(b, d, 3000, { fromAddress: LOOPBACK6, to: makeEndpoint(LOOPBACK6, d.localPort) });
    await exchange(d, b, 3000, { fromAddress: LOOPBACK6, to: makeEndpoint(LOOPBACK6, b.localPort) });
  });

  for (const staging of [0, GRO_STAGING_BYTES]) {
    it(`with UDP GSO and GRO, runs leave as one message and arrive whole, each datagram intact (${staging ? 'ring' : 'own'} staging)`, async () => {
      const a = await batch(new PacketRing({ slots: 256 }), { gso: true });
      const b = await batch(new PacketRing({ slots: 512, staging }), { gro: true });
      expect(b.gro).toBe(true);
      await exchange(a, b, 5000, { lengthOf: runs, fromAddress: LOOPBACK6, to: makeEndpoint(LOOPBACK6, b.localPort) });
      expect(a.gso).toBe(true); // the kernel took UDP_SEGMENT on IPv6
      expect(a.sendMessages).toBeLessThan(a.stats.sentPackets / 5);
      const stage = (b as unknown as { groStage: { coalescedRuns: number; coalescedDatagrams: number } }).groStage;
      expect(stage.coalescedRuns).toBeGreaterThan(0);
      expect(stage.coalescedDatagrams).toBeGreaterThan(stage.coalescedRuns * 5);
    });
  }

  it('dual-stack: an IPv6 socket on ::ffff:127.0.0.1 talks to IPv4 sockets, and names them in dotted text', async () => {
    const m = await batch(new PacketRing({ slots: 256 }), { bindAddress: MAPPED_LOOPBACK, gso: true, gro: true });
    expect(m.family).toBe(6);
    const v4 = await batch(new PacketRing({ slots: 256 }), { bindAddress: LOOPBACK4, gso: true });
    await exchange(v4, m, 3000, { lengthOf: runs, fromAddress: LOOPBACK4, to: makeEndpoint(LOOPBACK4, m.localPort) });
    await exchange(m, v4, 3000, { lengthOf: runs, fromAddress: LOOPBACK4, to: makeEndpoint(LOOPBACK4, v4.localPort) });
    // An endpoint written in the mapped form reaches the same IPv4 socket.
    await exchange(m, v4, 500, { fromAddress: LOOPBACK4, to: makeEndpoint(MAPPED_LOOPBACK, v4.localPort) });
  });

  it('counts sends it cannot make and releases their slots', async () => {
    const ring = new PacketRing({ slots: 4 });
    const a = await batch(ring);
    const v4 = await batch(new PacketRing({ slots: 4 }), { bindAddress: LOOPBACK4 });
    const send = (t: BatchUdpTransport, address: string, port = 9): void => {
      const s = t.ring.acquire();
      t.ring.length[s] = 10;
      t.send(s, { address, port });
    };
    send(a, 'fe80::1%lo'); // a zone index is no address: refused before the kernel
    send(a, 'not an address');
    expect(a.stats.sendErrors).toBe(2);
    send(a, LOOPBACK4); // ::ffff:127.0.0.1 from a socket bound to ::1: the kernel refuses it
    send(a, LOOPBACK6, 0); // port 0: EINVAL
    a.flush();
    expect(a.stats.sendErrors).toBe(4);
    expect(a.stats.sentPackets).toBe(0);
    send(v4, LOOPBACK6); // an IPv4 socket cannot reach ::1
    expect(v4.stats.sendErrors).toBe(1);
    expect(ring.free).toBe(4);
    expect(v4.ring.free).toBe(4);
  });

  it('sends a partial batch on the next turn without flush()', async () => {
    const a = await batch(new PacketRing({ slots: 8 }));
    const b = await batch(new PacketRing({ slots: 8 }));
    let from = '';
    b.onReceive((slot, address) => {
      from = address;
      b.ring.release(slot);
    });
    const s = a.ring.acquire();
    a.ring.length[s] = 100;
    a.send(s, makeEndpoint(LOOPBACK6, b.localPort));
    expect(a.queuedCount).toBe(1);
    for (let i = 0; i < 200 && from === ''; i++) await tick();
    expect(from).toBe(LOOPBACK6);
    expect(a.ring.free).toBe(8);
  });

  it('native calls check IPv6 address arrays: 16 bytes per message, a typed array of a known kind', () => {
    const addon = loadAddon();
    const { fd } = addon.udpOpen(6, LOOPBACK6, 0, 0, 0);
    try {
      const buf = new ArrayBuffer(1024);
      const offsets = Int32Array.of(0, 100);
      const lengths = Int32Array.of(10, 10);
      const slots = Int32Array.of(0, 1);
      const ports = Uint16Array.of(9, 9);
      const status = new Int32Array(3);
      // Two messages, 31 bytes of addresses: one address short.
      expect(addon.udpRecvBatch(fd, buf, offsets, lengths, slots, 2, 100, new Uint8Array(31), ports)).toBe(-22);
      expect(addon.udpSendBatch(fd, buf, offsets, lengths, slots, 2, new Uint8Array(31), ports, status)).toBe(0);
      expect([status[0], status[1]]).toEqual([2, 22]);
      expect(addon.udpRecvBatch(fd, buf, offsets, lengths, slots, 2, 100, new Uint8Array(32), ports)).toBe(0); // nothing queued
      const wrong = new Int32Array(8) as unknown as Uint8Array;
      expect(() => addon.udpRecvBatch(fd, buf, offsets, lengths, slots, 2, 100, wrong, ports)).toThrow(/addrs must be a Uint32Array \(IPv4\) or a Uint8Array/);
    } finally {
      addon.closeFd(fd);
    }
  });
});
