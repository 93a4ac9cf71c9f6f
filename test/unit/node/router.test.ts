import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { Router } from '../../../src/node/router.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import { FakeTun } from '../../../src/tun/fake-tun.ts';
import { BatchingTransport } from '../../helpers/batching-transport.ts';
import { vxlanDataplane } from '../../helpers/dataplanes.ts';
import { deriveVtepMac, parseCidr, parseIpv4 } from '../../../src/wire/addr.ts';
import { ipPacket, udpPacket } from '../../helpers/packets.ts';


function node(net: MemoryNetwork, name: string, address: string, subnet: string, maxPacket?: number) {
  const ring = new PacketRing({ slots: 32 });
  const tun = new FakeTun(`tun-${name}`);
  const transport = net.attach(ring, address, 8472);
  const vtepIp = parseIpv4(subnet.split('/')[0]!);
  const backend = vxlanDataplane({ ring, transport, vtepMac: deriveVtepMac(name), vtepIp });
  const router = new Router({ ring, tun, dataplane: backend, batchSize: 4, ...(maxPacket ? { maxPacket } : {}) });
  router.start();
  return { ring, tun, backend, router, address, subnet, name };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('Router', () => {
  it('answers a packet too big for the underlay with ICMP fragmentation needed, counts it, and never sends it', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', '192.0.2.1', '10.244.1.0/24', 1450);
    const b = node(net, 'b', '192.0.2.2', '10.244.2.0/24');
    a.backend.addPeer({ name: 'b', endpoint: { address: b.address, port: 8472 }, subnets: [parseCidr(b.subnet)], vtepMac: deriveVtepMac('b') });
    b.backend.addPeer({ name: 'a', endpoint: { address: a.address, port: 8472 }, subnets: [parseCidr(a.subnet)], vtepMac: deriveVtepMac('a') });
    const fits = udpPacket('10.244.1.5', '10.244.2.7', new Uint8Array(1450 - 28));
    const big = udpPacket('10.244.1.5', '10.244.2.7', new Uint8Array(1451 - 28));
    const bigNoDf = Uint8Array.from(big);
    bigNoDf[6] = 0;
    bigNoDf[10] = bigNoDf[11] = 0;
    a.tun.inject(fits);
    a.tun.inject(big);
    a.tun.inject(bigNoDf);
    await settle();
    expect(b.tun.written.map((p) => p.length)).toEqual([1450]);
    expect(a.router.stats).toMatchObject({ tooBig: 2, tooBigAnswered: 1 });
    // The answer went back out of a's device toward the pod: ICMP 3/4 with MTU 1450, quoting the packet.
    expect(a.tun.written).toHaveLength(1);
    const icmp = a.tun.written[0]!;
    expect(Array.from(icmp.subarray(12, 20))).toEqual([10, 244, 2, 7, 10, 244, 1, 5]);
    expect(Array.from(icmp.subarray(20, 22))).toEqual([3, 4]);
    expect((icmp[26]! << 8) | icmp[27]!).toBe(1450);
    expect(Array.from(icmp.subarray(28, 48))).toEqual(Array.from(big.subarray(0, 20)));
    expect(a.ring.free).toBe(32);
  });

  it('carries packets TUN -> VXLAN -> TUN both ways, byte for byte, in batches, and returns every slot', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', '192.0.2.1', '10.244.1.0/24');
    const b = node(net, 'b', '192.0.2.2', '10.244.2.0/24');
    for (const [x, y] of [[a, b], [b, a]] as const) {
      x.backend.addPeer({ name: y.name, endpoint: { address: y.address, port: 8472 }, subnets: [parseCidr(y.subnet)], vtepMac: deriveVtepMac(y.name) });
    }
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      const p = udpPacket('10.244.1.5', '10.244.2.7', [i, 1, 2, 3]);
      sent.push(p);
      a.tun.inject(p);
    }
    const back = udpPacket('10.244.2.7', '10.244.1.5', [9, 9]);
    b.tun.inject(back);
    await settle();
    expect(b.tun.written.map((p) => Array.from(p))).toEqual(sent.map((p) => Array.from(p)));
    expect(a.tun.written.map((p) => Array.from(p))).toEqual([Array.from(back)]);
    // 10 packets with a batch size of 4: the reads came in batches of 4, 4 and 2.
    expect(a.router.stats.tunPackets).toBe(10);
    expect(a.router.stats.tunBatches).toBe(3);
    expect(b.router.stats.delivered).toBe(10);
    expect(a.ring.free).toBe(32);
    expect(b.ring.free).toBe(32);
  });

  it('drops what has no route and stops cleanly', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', '192.0.2.1', '10.244.1.0/24');
    a.tun.inject(udpPacket('10.244.1.5', '10.244.9.9', [1]));
    await settle();
    expect(a.backend.drops().no_route).toBe(1);
    a.router.stop();
    a.tun.inject(udpPacket('10.244.1.5', '10.244.9.9', [1]));
    await settle();
    expect(a.backend.drops().no_route).toBe(1);
    expect(a.tun.pending).toBe(1);
    expect(a.ring.free).toBe(32);
  });
});

describe('Router and link-scoped traffic', () => {
  it('keeps the kernel\'s IPv6 router solicitations off the overlay, counted apart from real drops', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', '192.0.2.1', '10.244.1.0/24');
    // ICMPv6 type 133 from fe80:: to all-routers, hop limit 255.
    const rs = ipPacket({ version: 6, src: 'fe80::', dst: 'ff02::2', hopLimit: 255 }, 58, [133, 0, 0, 0, 0, 0, 0, 0]);
    a.tun.inject(rs);
    await settle();
    expect(a.router.stats.linkScoped).toBe(1);
    expect(Object.values(a.backend.drops()).reduce((x, y) => x + y, 0)).toBe(0);
    expect(a.ring.free).toBe(32);
  });
});

describe('Router writes with a batching transport', () => {
  it('holds received packets until the batch ends, writes them in one call, and returns every slot', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', '192.0.2.1', '10.244.1.0/24');
    const ring = new PacketRing({ slots: 32 });
    const tun = new FakeTun('tun-b');
    const transport = new BatchingTransport(net.attach(ring, '192.0.2.2', 8472));
    const backend = vxlanDataplane({ ring, transport, vtepMac: deriveVtepMac('b'), vtepIp: parseIpv4('10.244.2.0') });
    const router = new Router({ ring, tun, dataplane: backend });
    router.start();
    a.backend.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 8472 }, subnets: [parseCidr('10.244.2.0/24')], vtepMac: deriveVtepMac('b') });
    backend.addPeer({ name: 'a', endpoint: { address: '192.0.2.1', port: 8472 }, subnets: [parseCidr('10.244.1.0/24')], vtepMac: deriveVtepMac('a') });
    const calls: number[] = [];
    const write = tun.writeBatch.bind(tun);
    tun.writeBatch = (r, slots, count) => {
      calls.push(count);
      return write(r, slots, count);
    };
    const sent = Array.from({ length: 10 }, (_, i) => udpPacket('10.244.1.5', '10.244.2.7', [i]));
    for (const p of sent) a.tun.inject(p);
    await settle();
    expect(tun.written.map((p) => Array.from(p))).toEqual(sent.map((p) => Array.from(p)));
    expect(calls.reduce((x, y) => x + y, 0)).toBe(10);
    expect(calls.length).toBeLessThan(10);
    expect(router.stats.delivered).toBe(10);
    expect(ring.free).toBe(32);
    router.stop();
    expect(ring.free).toBe(32);
  });
});
