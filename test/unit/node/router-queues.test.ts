/**
 * The router's two flow queues, end to end over VXLAN on an in-memory
 * network: outbound, a ping read behind a bulk train leaves nearly first;
 * inbound, packets are written in flow order, and those that waited long
 * in the socket's queue (receiveWaitMs) meet CoDel while a new flow's do not.
 */
import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { Router } from '../../../src/node/router.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import { FakeTun } from '../../../src/tun/fake-tun.ts';
import { deriveVtepMac, parseCidr, parseIpv4 } from '../../../src/wire/addr.ts';
import { BatchingTransport } from '../../helpers/batching-transport.ts';
import { vxlanDataplane } from '../../helpers/dataplanes.ts';
import { icmpEcho, udpPacket } from '../../helpers/packets.ts';

/** The routers' clock: it moves only when a test moves it, so what CoDel sees never depends on this machine's speed. */
const clock = { ms: 0 };

function node(net: MemoryNetwork, name: string, address: string, subnet: string) {
  const ring = new PacketRing({ slots: 1024 });
  const tun = new FakeTun(`tun-${name}`);
  const transport = new BatchingTransport(net.attach(ring, address, 8472));
  const dataplane = vxlanDataplane({ ring, transport, vtepMac: deriveVtepMac(name), vtepIp: parseIpv4(subnet.split('/')[0]!) });
  const router = new Router({ ring, tun, dataplane, clock: () => clock.ms });
  router.start();
  return { ring, tun, transport, dataplane, router, address, subnet, name };
}

function pair() {
  const net = new MemoryNetwork();
  const a = node(net, 'a', '192.0.2.1', '10.244.1.0/24');
  const b = node(net, 'b', '192.0.2.2', '10.244.2.0/24');
  a.dataplane.addPeer({ name: 'b', endpoint: { address: b.address, port: 8472 }, subnets: [parseCidr(b.subnet)], vtepMac: deriveVtepMac('b') });
  b.dataplane.addPeer({ name: 'a', endpoint: { address: a.address, port: 8472 }, subnets: [parseCidr(a.subnet)], vtepMac: deriveVtepMac('a') });
  return { a, b };
}

async function settle(turns = 40): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

const bulk = (i: number) => udpPacket('10.244.1.5', '10.244.2.7', new Uint8Array(1200).fill(i & 0xff));
const ping = icmpEcho({ src: '10.244.1.5', dst: '10.244.2.7', seq: 1 });
const isPing = (p: Uint8Array) => p.length === ping.length && p.every((b, i) => b === ping[i]);

describe('Router flow queues', () => {
  it('sends a ping read behind a bulk train out nearly first, and every packet arrives', async () => {
    const { a, b } = pair();
    for (let i = 0; i < 300; i++) a.tun.inject(bulk(i));
    a.tun.inject(ping);
    await settle();
    expect(b.tun.written).toHaveLength(301);
    // The bulk flow spends one quantum (one 1228-byte packet, then the deficit is spent) before the new flow's turn.
    expect(b.tun.written.findIndex(isPing)).toBeLessThanOrEqual(2);
    expect(b.tun.written.filter((p) => !isPing(p)).map((p) => p[p.length - 1])).toEqual(Array.from({ length: 300 }, (_, i) => i & 0xff));
    expect(a.router.stats.codelDrops + a.router.stats.overlimitDrops).toBe(0);
    expect(a.ring.free).toBe(1024);
    expect(b.ring.free).toBe(1024);
  });

  it('drops with CoDel what keeps arriving after waiting long in the socket queue, never the new flow', async () => {
    const { a, b } = pair();
    b.transport.waitMs = 5; // every datagram waited 5 ms: above the 1 ms target
    let pings = 0;
    // 12 batches 5 ms apart: the delay stays above target for more than the 10 ms interval.
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 40; i++) a.tun.inject(bulk(i));
      a.tun.inject(ping);
      await settle();
      pings = b.tun.written.filter(isPing).length;
      clock.ms += 5;
    }
    expect(pings).toBe(12);
    expect(b.router.stats.codelDrops).toBeGreaterThan(0);
    expect(b.tun.written.length + b.router.stats.codelDrops).toBe(12 * 41);
    expect(b.ring.free).toBe(1024);
  });

  it('drops nothing when the socket queue holds no standing delay', async () => {
    const { a, b } = pair();
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 40; i++) a.tun.inject(bulk(i));
      await settle();
      clock.ms += 5;
    }
    expect(b.tun.written).toHaveLength(12 * 40);
    expect(b.router.stats.codelDrops).toBe(0);
  });
});
