/**
 * Remote checksum offload (draft-herbert-vxlan-rco) in the VXLAN
 * encapsulation: a TCP segment whose checksum was left partial leaves with
 * the RCO bits for a peer that finishes checksums and whole for any other,
 * and a received RCO frame is handed on partial (TCP) or finished (UDP).
 * The kernel side of the same contract: test/integration/vxlan-kernel-rco.test.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { CsumState, PacketRing } from '../../../src/buf/packet-ring.ts';
import { Received } from '../../../src/dataplane/encapsulation.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import type { MemoryTransport } from '../../../src/transport/memory-transport.ts';
import { parseCidr, parseIpv4, parseMac } from '../../../src/wire/addr.ts';
import { vxlanDataplane } from '../../helpers/dataplanes.ts';
import type { VxlanDataplane } from '../../helpers/dataplanes.ts';
import { payloadOf, tcpPacket, trueL4Checksum, udpPacket } from '../../helpers/tcp-packets.ts';

const MAC_A = parseMac('0e:00:00:00:00:0a');
const MAC_B = parseMac('0e:00:00:00:00:0b');
const src = { src: '10.244.1.2', dst: '10.244.2.3' };

let ringA: PacketRing, ringB: PacketRing;
let tB: MemoryTransport;
let a: VxlanDataplane, b: VxlanDataplane;
/** What reached B: the datagram, then the verdict, the inner packet and its CsumState. */
let arrived: Array<{ datagram: number[]; verdict: Received; inner: number[]; csum: number }>;

function put(ring: PacketRing, bytes: Uint8Array, csum: number = CsumState.Complete): number {
  const s = ring.acquire();
  ring.bytes.set(bytes, ring.offset[s]!);
  ring.length[s] = bytes.length;
  ring.csum[s] = csum;
  return s;
}

function setUp(bFinishes: boolean): void {
  const net = new MemoryNetwork();
  ringA = new PacketRing({ slots: 8 });
  ringB = new PacketRing({ slots: 8 });
  const tA = net.attach(ringA, '192.0.2.1', 8472);
  tB = net.attach(ringB, '192.0.2.2', 8472);
  a = vxlanDataplane({ ring: ringA, transport: tA, vtepMac: MAC_A, vtepIp: parseIpv4('10.244.1.0') });
  b = vxlanDataplane({ ring: ringB, transport: tB, vtepMac: MAC_B, vtepIp: parseIpv4('10.244.2.0') });
  a.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 8472 }, subnets: [parseCidr('10.244.2.0/24')], vtepMac: MAC_B, finishesChecksums: bFinishes });
  b.addPeer({ name: 'a', endpoint: { address: '192.0.2.1', port: 8472 }, subnets: [parseCidr('10.244.1.0/24')], vtepMac: MAC_A });
  arrived = [];
  tB.onReceive((slot, from, port) => {
    const datagram = Array.from(ringB.packetOf(slot));
    const verdict = b.receive(slot, from, port);
    const ok = verdict === Received.Deliver;
    arrived.push({ datagram, verdict, inner: ok ? Array.from(ringB.packetOf(slot)) : [], csum: ok ? ringB.csum[slot]! : -1 });
    if (ok) ringB.release(slot);
  });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** A VXLAN frame from A to B around `inner`, with byte 1 and byte 7 of the header as given. */
function rcoFrame(inner: Uint8Array, flags1: number, rcoByte: number): Uint8Array {
  return Uint8Array.from([0x08, flags1, 0, 0, 0, 0, 1, rcoByte, ...MAC_B, ...MAC_A, 0x08, 0x00, ...inner]);
}

describe('VXLAN remote checksum offload', () => {
  const whole = tcpPacket({ ...src, payload: payloadOf(1000) });
  const partial = tcpPacket({ ...src, payload: payloadOf(1000), tcpChecksum: 'partial' });

  beforeEach(() => setUp(true));

  it('a Partial segment leaves as it is, with the R flag and start (14 + 20) / 2, for a peer that finishes checksums; B hands it on Partial', async () => {
    a.send(put(ringA, partial, CsumState.Partial));
    await settle();
    expect(arrived).toHaveLength(1);
    expect(arrived[0]!.datagram).toEqual([0x08, 0x20, 0, 0, 0, 0, 1, 17, ...MAC_B, ...MAC_A, 0x08, 0x00, ...partial]);
    expect(arrived[0]!.verdict).toBe(Received.Deliver);
    expect(arrived[0]!.inner).toEqual(Array.from(partial));
    expect(arrived[0]!.csum).toBe(CsumState.Partial);
  });

  it('a Partial segment is finished, and leaves without RCO, for a peer that does not', async () => {
    setUp(false);
    a.send(put(ringA, partial, CsumState.Partial));
    await settle();
    expect(arrived[0]!.datagram).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0, ...MAC_B, ...MAC_A, 0x08, 0x00, ...whole]);
    expect(arrived[0]!.csum).toBe(CsumState.Complete);
  });

  it('a Complete segment never carries RCO', async () => {
    a.send(put(ringA, whole));
    await settle();
    expect(arrived[0]!.datagram.slice(0, 8)).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]);
  });

  it('a received RCO frame with UDP inside (high bit of byte 7) gets its UDP checksum finished', () => {
    const udp = udpPacket(4, payloadOf(40));
    const slot = put(ringB, rcoFrame(udp, 0x20, 0x80 | 17));
    expect(b.receive(slot, '192.0.2.1', 8472)).toBe(Received.Deliver);
    expect(ringB.csum[slot]).toBe(CsumState.Complete);
    expect(Array.from(ringB.packetOf(slot))).toEqual(Array.from(udpPacket(4, payloadOf(40), trueL4Checksum(udp, 17, 6))));
  });

  it('a received RCO frame whose start is not the TCP header is finished at the start it names', () => {
    // Start 14 + 24: four bytes into the TCP header, field at 24 + 16 = 40 (inside the payload: a made-up but well-formed placement).
    const pkt = tcpPacket({ ...src, payload: payloadOf(64) });
    const slot = put(ringB, rcoFrame(pkt, 0x20, 19));
    expect(b.receive(slot, '192.0.2.1', 8472)).toBe(Received.Deliver);
    // CHECKSUM_PARTIAL: the complement of the sum from the start to the end, the field's old content included.
    let sum = 0;
    for (let i = 24; i < pkt.length; i += 2) sum += (pkt[i]! << 8) | (pkt[i + 1] ?? 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const want = pkt.slice();
    want[40] = (~sum & 0xffff) >>> 8;
    want[41] = ~sum & 0xff;
    expect(Array.from(ringB.packetOf(slot))).toEqual(Array.from(want));
    expect(ringB.csum[slot]).toBe(CsumState.Complete);
  });

  it('drops and counts RCO that points into the IP header or past the packet', () => {
    for (const rco of [7 /* start 14: the IP header */, 127 /* start 254: past a 60-byte packet */]) {
      const slot = put(ringB, rcoFrame(tcpPacket({ ...src, payload: payloadOf(20) }), 0x20, rco));
      expect(b.receive(slot, '192.0.2.1', 8472)).toBe(Received.Dropped);
    }
    expect(b.drops().bad_rco).toBe(2);
    expect(ringB.free).toBe(8);
  });
});
