import { afterEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { loadAddon } from '../../../src/native/addon.ts';
import { Router } from '../../../src/node/router.ts';
import { BatchUdpTransport } from '../../../src/transport/batch-udp-transport.ts';
import { parseIpv4 } from '../../../src/bytes/ipv4.ts';
import { formatIpv4 } from '../../../src/transport/address-names.ts';
import { GRO_STAGING_BYTES } from '../../../src/transport/udp-gro-stage.ts';
import { DgramTransport, makeEndpoint } from '../../../src/transport/dgram-transport.ts';
import type { Transport } from '../../../src/transport/transport.ts';
import { FakeTun } from '../../../src/tun/fake-tun.ts';
import { vxlanDataplane } from '../../helpers/dataplanes.ts';
import { deriveVtepMac, parseCidr, parseIpv4 as parseIpv4Text } from '../../../src/wire/addr.ts';
import { udpPacket } from '../../helpers/packets.ts';
import { exchange, tick, transportContract } from './transport-contract.ts';

// Loopback only: every socket is bound to 127.0.0.1 in this process, and
// every datagram goes to 127.0.0.1.
const LOOPBACK = '127.0.0.1';
const open: Transport[] = [];
async function batch(ring: PacketRing, port = 0, batchSize?: number, gso = false, gro = false): Promise<BatchUdpTransport> {
  const t = await BatchUdpTransport.open({ ring, port, bindAddress: LOOPBACK, gso, gro, ...(batchSize ? { batchSize } : {}) });
  open.push(t);
  return t;
}
async function dgram(ring: PacketRing): Promise<DgramTransport> {
  const t = await DgramTransport.open({ ring, port: 0, bindAddress: LOOPBACK });
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

// Delivery, slot release, drop counting, close and stats: the shared contract.
transportContract<BatchUdpTransport>({
  name: 'BatchUdpTransport',
  open: (ring, port = 0) => BatchUdpTransport.open({ ring, port, bindAddress: LOOPBACK, gso: false, gro: false }),
  endpointOf: (t) => makeEndpoint(LOOPBACK, t.localPort),
  addressOf: () => LOOPBACK,
  expectIdle: (t) => expect(t.queuedCount).toBe(0),
  sendAfterCloseIsError: true,
  portInUse: true,
});

describe('parseIpv4 / formatIpv4', () => {
  it('parse dotted quads and refuse everything else', () => {
    expect(parseIpv4('127.0.0.1')).toBe(0x7f000001);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1..2.3', 'fd00::1', '1.2.3.4 ', 'a.b.c.d']) {
      expect(parseIpv4(bad), bad).toBe(-1);
    }
    expect(formatIpv4(0x7f000001)).toBe('127.0.0.1');
    expect(formatIpv4(0xc0a80afe)).toBe('192.168.10.254');
  });
});

describe('BatchUdpTransport', () => {
  it('exchanges thousands of datagrams intact between two batch transports, both ways', async () => {
    // Tiny send rings force constant slot reuse through the send queue.
    const a = await batch(new PacketRing({ slots: 48 }), 0, 16);
    const b = await batch(new PacketRing({ slots: 256 }));
    await exchange(a, b, 5000);
    expect(a.sendBatches).toBeLessThan(a.stats.sentPackets / 4); // batched, not one call per datagram
    expect(a.sendMessages).toBe(a.stats.sentPackets); // no GSO: one message per datagram
    const c = await batch(new PacketRing({ slots: 256 }));
    await exchange(b, c, 3000);
  });

  it('interoperates with DgramTransport in both directions', async () => {
    const nat = await batch(new PacketRing({ slots: 256 }));
    const dg = await dgram(new PacketRing({ slots: 256 }));
    await exchange(nat, dg, 4000);
    await exchange(dg, nat, 4000);
  });

  it('with UDP GSO, coalesces runs of one size and still delivers each datagram intact', async () => {
    const a = await batch(new PacketRing({ slots: 256 }), 0, 64, true);
    const b = await batch(new PacketRing({ slots: 512 }));
    await exchange(a, b, 5000, { lengthOf: runs });
    expect(a.gso).toBe(true); // loopback takes UDP_SEGMENT
    expect(a.sendMessages).toBeLessThan(a.stats.sentPackets / 5); // runs of 14 left as one message each
    const d = await dgram(new PacketRing({ slots: 512 }));
    await exchange(a, d, 3000, { lengthOf: runs });
    await exchange(a, b, 2000); // sizes that never repeat: no runs, plain messages
  });

  for (const staging of [0, GRO_STAGING_BYTES]) {
    it(`with UDP GRO, receives a GSO sender's runs whole and hands over each datagram intact (${staging ? 'staged in the ring' : 'own staging buffer'})`, async () => {
      const a = await batch(new PacketRing({ slots: 256 }), 0, 64, true);
      const b = await batch(new PacketRing({ slots: 512, staging }), 0, 64, false, true);
      // Given room, the stage took all of the ring's staging area (and without any there is none).
      expect(b.ring.reserveStaging(1)).toBe(-1);
      expect(b.gro).toBe(true); // this kernel has UDP_GRO
      const ends: number[] = [];
      b.onBatchEnd(() => ends.push(b.stats.receivedPackets));
      await exchange(a, b, 5000, { lengthOf: runs });
      // Loopback keeps a GSO message whole up to the socket: runs arrived as runs.
      const stage = (b as unknown as { groStage: { coalescedRuns: number; coalescedDatagrams: number } }).groStage;
      expect(stage.coalescedRuns).toBeGreaterThan(0);
      expect(stage.coalescedDatagrams).toBeGreaterThan(stage.coalescedRuns * 5);
      expect(ends.length).toBeGreaterThan(0);
      // Plain senders still work: one datagram per receive, through the same staging.
      const plain = await batch(new PacketRing({ slots: 256 }));
      await exchange(plain, b, 2000);
      const d = await dgram(new PacketRing({ slots: 256 }));
      await exchange(d, b, 2000);
    });
  }

  it('sends a partial batch on the next turn without flush()', async () => {
    const a = await batch(new PacketRing({ slots: 8 }));
    const b = await batch(new PacketRing({ slots: 8 }));
    let got = 0;
    b.onReceive((slot) => {
      got++;
      b.ring.release(slot);
    });
    const s = a.ring.acquire();
    a.ring.length[s] = 100;
    a.send(s, makeEndpoint(LOOPBACK, b.localPort));
    expect(a.queuedCount).toBe(1);
    for (let i = 0; i < 200 && got === 0; i++) await tick();
    expect(got).toBe(1);
    expect(a.queuedCount).toBe(0);
    expect(a.ring.free).toBe(8);
    expect(a.sendBatches).toBe(1);
  });

  it('with UDP GRO, counts the rest of a run dropped when the ring runs dry, and datagrams larger than a slot', async () => {
    const recvRing = new PacketRing({ slots: 4, capacity: 600 });
    const b = await batch(recvRing, 0, 64, false, true);
    const sendRing = new PacketRing({ slots: 32 });
    const a = await batch(sendRing, 0, 64, true);
    const kept: number[] = [];
    b.onReceive((slot, from, port) => {
      expect(from).toBe(LOOPBACK);
      expect(port).toBe(a.localPort);
      kept.push(recvRing.length[slot]!); // keep every slot: the ring runs dry after 4
    });
    const to = makeEndpoint(LOOPBACK, b.localPort);
    const send = (len: number) => {
      const s = sendRing.acquire();
      sendRing.length[s] = len;
      sendRing.bytes.fill(len & 0xff, sendRing.offset[s]!, sendRing.offset[s]! + len);
      a.send(s, to);
    };
    send(700); // larger than a receive slot
    a.flush();
    for (let i = 0; i < 200 && b.stats.droppedOversize < 1; i++) await tick();
    for (let i = 0; i < 10; i++) send(500); // one GSO message of 10
    a.flush();
    for (let i = 0; i < 200 && kept.length + b.stats.droppedRingFull < 10; i++) await tick();
    expect(b.stats.droppedOversize).toBe(1);
    expect(kept).toEqual([500, 500, 500, 500]);
    expect(b.stats.droppedRingFull).toBe(6);
    expect(recvRing.free).toBe(0);
    expect(sendRing.free).toBe(32);
  });

  it('counts sends it cannot make and releases their slots', async () => {
    const ring = new PacketRing({ slots: 4 });
    const a = await batch(ring);
    let s = ring.acquire();
    ring.length[s] = 10;
    a.send(s, makeEndpoint('::1', 9)); // not IPv4: refused before the kernel
    expect(a.stats.sendErrors).toBe(1);
    s = ring.acquire();
    ring.length[s] = 10;
    a.send(s, { address: LOOPBACK, port: 0 }); // the kernel refuses port 0 (EINVAL): skipped, counted
    a.flush();
    expect(a.stats.sendErrors).toBe(2);
    expect(a.stats.sentPackets).toBe(0);
    await a.close();
    s = ring.acquire();
    ring.length[s] = 10;
    a.send(s, makeEndpoint(LOOPBACK, 9));
    expect(a.stats.sendErrors).toBe(3);
    expect(ring.free).toBe(4);
  });

  it('reports a port in use when the dgram transport holds it', async () => {
    const d = await dgram(new PacketRing({ slots: 2 }));
    await expect(batch(new PacketRing({ slots: 2 }), d.localPort)).rejects.toMatchObject({ code: 'PORT_IN_USE', errno: 'EADDRINUSE' });
  });

  it('native calls reject a batch that reaches outside the buffer without touching the socket', () => {
    const addon = loadAddon();
    const { fd } = addon.udpOpen(4, LOOPBACK, 0, 0, 0);
    try {
      const buf = new ArrayBuffer(1024);
      const offsets = Int32Array.of(1000);
      const lengths = Int32Array.of(100);
      const slots = Int32Array.of(0);
      const addrs = Uint32Array.of(0x7f000001);
      const ports = Uint16Array.of(9);
      expect(addon.udpRecvBatch(fd, buf, offsets, lengths, slots, 1, 100, addrs, ports)).toBe(-22); // EINVAL
      const status = new Int32Array(3);
      expect(addon.udpSendBatch(fd, buf, offsets, lengths, slots, 1, addrs, ports, status)).toBe(0);
      expect([status[0], status[1]]).toEqual([1, 22]);
      // Nothing queued: 0, not an error.
      offsets[0] = 0;
      expect(addon.udpRecvBatch(fd, buf, offsets, lengths, slots, 1, 100, addrs, ports)).toBe(0);
      const wrongPorts = new Int32Array(1) as unknown as Uint16Array;
      expect(() => addon.udpRecvBatch(fd, buf, offsets, lengths, slots, 1, 100, addrs, wrongPorts)).toThrow(/ports must be a Uint16Array/);
    } finally {
      addon.closeFd(fd);
    }
  });
});

describe('BatchUdpTransport under the Router', () => {
  it('carries VXLAN both ways, and the router flushes each TUN batch in one sendmmsg', async () => {
    const node = async (name: string, subnet: string) => {
      const ring = new PacketRing({ slots: 64 });
      const tun = new FakeTun(`tun-${name}`);
      const transport = await batch(ring);
      const backend = vxlanDataplane({ ring, transport, vtepMac: deriveVtepMac(name), vtepIp: parseIpv4Text(subnet.split('/')[0]!) });
      const router = new Router({ ring, tun, dataplane: backend, batchSize: 4 });
      router.start();
      return { ring, tun, transport, backend, router, subnet, name };
    };
    const a = await node('a', '10.244.1.0/24');
    const b = await node('b', '10.244.2.0/24');
    for (const [x, y] of [[a, b], [b, a]] as const) {
      x.backend.addPeer({
        name: y.name,
        endpoint: makeEndpoint(LOOPBACK, y.transport.localPort),
        subnets: [parseCidr(y.subnet)],
        vtepMac: deriveVtepMac(y.name),
      });
    }
    const sent: number[][] = [];
    for (let i = 0; i < 10; i++) {
      const p = udpPacket('10.244.1.5', '10.244.2.7', [i, 1, 2, 3]);
      sent.push(Array.from(p));
      a.tun.inject(p);
    }
    await Promise.resolve(); // the fake TUN's readiness (a microtask) has run; no event loop turn yet
    expect(a.router.stats.tunPackets).toBe(10);
    expect(a.transport.queuedCount).toBe(0); // flushed by the router, not by the deferred flush
    expect(a.transport.sendBatches).toBe(1); // 3 TUN batches, one sendmmsg
    const back = udpPacket('10.244.2.7', '10.244.1.5', [9, 9]);
    b.tun.inject(back);
    for (let i = 0; i < 200 && (b.tun.written.length < 10 || a.tun.written.length < 1); i++) await tick();
    expect(b.tun.written.map((p) => Array.from(p))).toEqual(sent);
    expect(a.tun.written.map((p) => Array.from(p))).toEqual([Array.from(back)]);
    expect(b.router.stats.delivered).toBe(10);
    expect(a.ring.free).toBe(64);
    expect(b.ring.free).toBe(64);
    a.router.stop();
    b.router.stop();
  });
});
