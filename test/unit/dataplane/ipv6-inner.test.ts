/**
 * Inner IPv6 packets the data plane meets in a dual-stack cluster, by rule:
 * extension headers (hop-by-hop options, a fragment header) are forwarded
 * untouched, both ways; a jumbogram (payload length 0, RFC 2675), which no
 * 64 KiB-slot path can carry, is dropped and counted as bad_ip.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { Received } from '../../../src/dataplane/encapsulation.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import { deriveVtepMac, parseCidr, parseIpv4, parseIpv6 } from '../../../src/wire/addr.ts';
import { vxlanDataplane } from '../../helpers/dataplanes.ts';
import type { VxlanDataplane } from '../../helpers/dataplanes.ts';
import { ipPacket } from '../../helpers/packets.ts';

const SRC = 'fd00:10:244:1::2';
const DST = 'fd00:10:244:2::2';

/** Hop-by-hop options (8 bytes: next header UDP, PadN), then an 8-byte UDP datagram. */
const hopByHop = () => ipPacket({ version: 6, src: SRC, dst: DST }, 0, [17, 0, 1, 4, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 8, 0, 0]);
/** A first fragment (fragment header: next header UDP, offset 0, M set) of a UDP datagram. */
const fragment = () => ipPacket({ version: 6, src: SRC, dst: DST }, 44, [17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 0x12, 0x34, 0x56, 0x78, 0, 16, 0, 0]);

let net: MemoryNetwork;
let ringA: PacketRing;
let ringB: PacketRing;
let a: VxlanDataplane;
let b: VxlanDataplane;
let delivered: number[][];

beforeEach(() => {
  net = new MemoryNetwork();
  ringA = new PacketRing({ slots: 8 });
  ringB = new PacketRing({ slots: 8 });
  const tA = net.attach(ringA, '192.0.2.1', 8472);
  const tB = net.attach(ringB, '192.0.2.2', 8472);
  a = vxlanDataplane({ ring: ringA, transport: tA, vtepMac: deriveVtepMac('a'), vtepIp: parseIpv4('10.244.1.0'), vtepIp6: parseIpv6('fd00:10:244:1::') });
  b = vxlanDataplane({ ring: ringB, transport: tB, vtepMac: deriveVtepMac('b'), vtepIp: parseIpv4('10.244.2.0'), vtepIp6: parseIpv6('fd00:10:244:2::') });
  a.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 8472 }, subnets: [parseCidr('10.244.2.0/24'), parseCidr('fd00:10:244:2::/64')], vtepMac: deriveVtepMac('b') });
  b.addPeer({ name: 'a', endpoint: { address: '192.0.2.1', port: 8472 }, subnets: [parseCidr('10.244.1.0/24'), parseCidr('fd00:10:244:1::/64')], vtepMac: deriveVtepMac('a') });
  delivered = [];
  tB.onReceive((slot, from, port) => {
    if (b.receive(slot, from, port) === Received.Deliver) {
      delivered.push(Array.from(ringB.packetOf(slot)));
      ringB.release(slot);
    }
  });
});

function send(pkt: Uint8Array): void {
  const s = ringA.acquire();
  ringA.bytes.set(pkt, ringA.offset[s]!);
  ringA.length[s] = pkt.length;
  a.send(s);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('inner IPv6 by rule', () => {
  it('forwards hop-by-hop options and fragments byte for byte, on the IPv6 route, with the source checked', async () => {
    send(hopByHop());
    send(fragment());
    await settle();
    expect(delivered).toEqual([Array.from(hopByHop()), Array.from(fragment())]);
    expect(b.peers()[0]!.traffic.rxPackets).toBe(2);
    expect(ringA.free).toBe(8);
    expect(ringB.free).toBe(8);
  });

  it('drops a jumbogram as bad_ip, and a spoofed IPv6 source as spoofed_source', async () => {
    const jumbo = hopByHop();
    jumbo[4] = jumbo[5] = 0; // payload length 0: a jumbogram
    send(jumbo);
    expect(a.drops().bad_ip).toBe(1);
    send(ipPacket({ version: 6, src: 'fd00:10:244:9::2', dst: DST }, 17, [0, 1, 0, 2, 0, 8, 0, 0]));
    await settle();
    expect(delivered).toEqual([]);
    expect(b.drops().spoofed_source).toBe(1);
    expect(ringA.free).toBe(8);
    expect(ringB.free).toBe(8);
  });
});
