import { beforeEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { Received } from '../../../src/dataplane/encapsulation.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import type { MemoryTransport } from '../../../src/transport/memory-transport.ts';
import { vxlanDataplane } from '../../helpers/dataplanes.ts';
import type { VxlanDataplane } from '../../helpers/dataplanes.ts';
import { parseCidr, parseIpv4, parseMac } from '../../../src/wire/addr.ts';
import { icmpEcho } from '../../helpers/packets.ts';

const MAC_A = parseMac('0e:00:00:00:00:0a');
const MAC_B = parseMac('0e:00:00:00:00:0b');

/** A 28-byte ICMP echo from src to dst (dotted quads). */
function icmp(src: string, dst: string): Uint8Array {
  return icmpEcho({ src, dst, id: 1 });
}

function put(ring: PacketRing, data: Uint8Array): number {
  const s = ring.acquire();
  ring.bytes.set(data, ring.offset[s]!);
  ring.length[s] = data.length;
  return s;
}

let net: MemoryNetwork;
let ringA: PacketRing, ringB: PacketRing;
let tA: MemoryTransport, tB: MemoryTransport;
let a: VxlanDataplane, b: VxlanDataplane;
let wire: Uint8Array[]; // what A put on the wire, as B's transport received it

beforeEach(() => {
  net = new MemoryNetwork();
  ringA = new PacketRing({ slots: 16 });
  ringB = new PacketRing({ slots: 16 });
  tA = net.attach(ringA, '192.0.2.1', 8472);
  tB = net.attach(ringB, '192.0.2.2', 8472);
  a = vxlanDataplane({ ring: ringA, transport: tA, vtepMac: MAC_A, vtepIp: parseIpv4('10.244.1.0') });
  b = vxlanDataplane({ ring: ringB, transport: tB, vtepMac: MAC_B, vtepIp: parseIpv4('10.244.2.0') });
  a.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 8472 }, subnets: [parseCidr('10.244.2.0/24')], vtepMac: MAC_B });
  b.addPeer({ name: 'a', endpoint: { address: '192.0.2.1', port: 8472 }, subnets: [parseCidr('10.244.1.0/24')], vtepMac: MAC_A });
  wire = [];
});

/** Let microtask deliveries run, recording what arrives at B and handing it to B's backend. */
async function flushTo(backend: VxlanDataplane, ring: PacketRing, t: MemoryTransport): Promise<Array<{ verdict: Received; bytes: number[] }>> {
  const out: Array<{ verdict: Received; bytes: number[] }> = [];
  t.onReceive((slot, from, port) => {
    wire.push(ring.packetOf(slot).slice());
    const verdict = backend.receive(slot, from, port);
    out.push({ verdict, bytes: verdict === Received.Deliver ? Array.from(ring.packetOf(slot)) : [] });
    if (verdict === Received.Deliver) ring.release(slot);
  });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
}

describe('VxlanDataplane encapsulation', () => {
  it('writes the RFC 7348 header and the inner Ethernet header in front of the packet', async () => {
    const pkt = icmp('10.244.1.2', '10.244.2.3');
    a.send(put(ringA, pkt));
    const got = await flushTo(b, ringB, tB);
    expect(wire).toHaveLength(1);
    const expected = [
      0x08, 0x00, 0x00, 0x00, // flags: I set; reserved
      0x00, 0x00, 0x01, 0x00, // VNI 1; reserved
      ...MAC_B, ...MAC_A, 0x08, 0x00, // inner Ethernet: dst = peer VTEP, src = ours, IPv4
      ...pkt,
    ];
    expect(Array.from(wire[0]!)).toEqual(expected);
    expect(got).toEqual([{ verdict: Received.Deliver, bytes: Array.from(pkt) }]);
    expect(a.peers()[0]!.traffic).toEqual({ txPackets: 1, txBytes: 28, rxPackets: 0, rxBytes: 0 });
    expect(b.peers()[0]!.traffic).toEqual({ txPackets: 0, txBytes: 0, rxPackets: 1, rxBytes: 28 });
    expect(ringA.free).toBe(16);
  });

  it('uses the configured VNI', async () => {
    const a2 = vxlanDataplane({ ring: ringA, transport: tA, vtepMac: MAC_A, vtepIp: 0, vni: 0xabcdef });
    a2.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 8472 }, subnets: [parseCidr('10.244.2.0/24')], vtepMac: MAC_B });
    a2.send(put(ringA, icmp('10.244.1.2', '10.244.2.3')));
    const got = await flushTo(b, ringB, tB);
    expect(Array.from(wire[0]!.subarray(4, 8))).toEqual([0xab, 0xcd, 0xef, 0x00]);
    expect(got[0]!.verdict).toBe(Received.Dropped);
    expect(b.drops().wrong_vni).toBe(1);
  });

  it('drops and counts packets with no route and malformed packets, releasing their slots', () => {
    a.send(put(ringA, icmp('10.244.1.2', '10.9.9.9')));
    a.send(put(ringA, new Uint8Array([0x45, 0, 0, 99])));
    expect(a.drops().no_route).toBe(1);
    expect(a.drops().bad_ip).toBe(1);
    expect(ringA.free).toBe(16);
  });

  it('rejects bad configuration with errors that name the field', () => {
    expect(() => vxlanDataplane({ ring: ringA, transport: tA, vtepMac: MAC_A, vtepIp: 0, vni: 1 << 24 })).toThrow(/vxlan.vni/);
    expect(() => vxlanDataplane({ ring: ringA, transport: tA, vtepMac: parseMac('01:00:5e:00:00:01'), vtepIp: 0 })).toThrow(/vtepMac/);
    expect(() => a.addPeer({ name: 'b', endpoint: { address: '192.0.2.9', port: 1 }, subnets: [] })).toThrow(/already configured/);
    expect(() => a.addPeer({ name: 'c', endpoint: { address: '192.0.2.2', port: 8472 }, subnets: [], vtepMac: MAC_B })).toThrow(/192.0.2.2 already belongs to peer "b"/);
    expect(() => a.addPeer({ name: 'c', endpoint: { address: '192.0.2.3', port: 8472 }, subnets: [parseCidr('10.244.2.0/24')], vtepMac: MAC_B })).toThrow(/already owned by peer "b"/);
    expect(() => a.addPeer({ name: 'c', endpoint: { address: '192.0.2.3', port: 8472 }, subnets: [] })).toThrow(/vtepMac/);
  });
});

describe('VxlanDataplane decapsulation checks', () => {
  function frame(mutate: (f: Uint8Array) => void, inner = icmp('10.244.1.2', '10.244.2.3')): Uint8Array {
    const f = new Uint8Array(22 + inner.length);
    f.set([0x08, 0, 0, 0, 0, 0, 1, 0, ...MAC_B, ...MAC_A, 0x08, 0x00]);
    f.set(inner, 22);
    mutate(f);
    return f;
  }
  const cases: Array<[string, (f: Uint8Array) => void, number?]> = [
    ['bad_flags', (f) => (f[0] = 0x00)],
    ['wrong_vni', (f) => (f[6] = 2)],
    ['not_for_us', (f) => (f[13] = 0x0c)],
    ['not_for_us', (f) => f.fill(0xff, 8, 14)], // broadcast is for ARP only
    ['unknown_ethertype', (f) => (f[21] = 0x01)],
    ['bad_ip', (f) => (f[22] = 0x4f)], // IHL 15: a 60-byte header in a 28-byte packet
    ['bad_ip', (f) => (f[20] = 0x86) && (f[21] = 0xdd)], // IPv6 EtherType on an IPv4 packet
    ['spoofed_source', (f) => (f[22 + 14] = 3)], // inner source 10.244.3.2: not a's subnet
  ];
  for (const [reason, mutate] of cases) {
    it(`drops ${reason}`, () => {
      const slot = put(ringB, frame(mutate));
      expect(b.receive(slot, '192.0.2.1', 40000)).toBe(Received.Dropped);
      expect(b.drops()[reason]).toBe(1);
      expect(ringB.free).toBe(16);
    });
  }

  it('drops truncated frames as short', () => {
    for (let len = 0; len < 22; len++) {
      const slot = put(ringB, frame(() => {}).subarray(0, len));
      expect(b.receive(slot, '192.0.2.1', 40000)).toBe(Received.Dropped);
    }
    expect(b.drops().short).toBe(22);
  });

  it('drops frames from an unknown underlay address while the source check is on, and accepts them with it off', () => {
    expect(b.receive(put(ringB, frame(() => {})), '192.0.2.77', 8472)).toBe(Received.Dropped);
    expect(b.drops().unknown_sender).toBe(1);
    const open = vxlanDataplane({ ring: ringB, transport: tB, vtepMac: MAC_B, vtepIp: 0, sourceCheck: false });
    const slot = put(ringB, frame(() => {}));
    expect(open.receive(slot, '192.0.2.77', 8472)).toBe(Received.Deliver);
    ringB.release(slot);
  });

  it('trims Ethernet padding behind a short IP packet', () => {
    const inner = icmp('10.244.1.2', '10.244.2.3');
    const padded = new Uint8Array(46);
    padded.set(inner);
    const slot = put(ringB, frame(() => {}, padded));
    expect(b.receive(slot, '192.0.2.1', 8472)).toBe(Received.Deliver);
    expect(ringB.length[slot]).toBe(28);
    expect(Array.from(ringB.packetOf(slot))).toEqual(Array.from(inner));
  });
});

describe('VxlanDataplane ARP', () => {
  function arpRequest(targetIp: string, op = 1): Uint8Array {
    const requester = parseMac('0e:00:00:00:00:0c');
    const f = new Uint8Array(22 + 28);
    f.set([0x08, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...requester, 0x08, 0x06]);
    f.set([0, 1, 0x08, 0, 6, 4, 0, op, ...requester, 10, 244, 1, 0, 0, 0, 0, 0, 0, 0], 22);
    new DataView(f.buffer).setUint32(22 + 24, parseIpv4(targetIp));
    return f;
  }

  it('answers a broadcast request for its VTEP address with the exact reply frame, to the VXLAN port', async () => {
    const seen: Array<{ bytes: number[]; from: string; port: number }> = [];
    const tC = net.attach(new PacketRing({ slots: 4 }), '192.0.2.3', 8472);
    tC.onReceive((slot, from, port) => {
      seen.push({ bytes: Array.from(tC.ring.packetOf(slot)), from, port });
      tC.ring.release(slot);
    });
    // The kernel sends from an ephemeral port; the reply must go to 8472.
    expect(b.receive(put(ringB, arpRequest('10.244.2.0')), '192.0.2.3', 51515)).toBe(Received.Consumed);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    const requester = [0x0e, 0, 0, 0, 0, 0x0c];
    expect(seen).toEqual([
      {
        from: '192.0.2.2',
        port: 8472,
        bytes: [
          0x08, 0, 0, 0, 0, 0, 1, 0,
          ...requester, ...MAC_B, 0x08, 0x06,
          0, 1, 0x08, 0, 6, 4, 0, 2, // reply
          ...MAC_B, 10, 244, 2, 0, // sender: our VTEP
          ...requester, 10, 244, 1, 0, // target: the requester
        ],
      },
    ]);
    expect(b.vxlan.arpReplies).toBe(1);
    expect(ringB.free).toBe(16);
  });

  it('ignores requests for other addresses, replies and malformed ARP', () => {
    expect(b.receive(put(ringB, arpRequest('10.244.2.9')), '192.0.2.1', 1)).toBe(Received.Dropped);
    expect(b.receive(put(ringB, arpRequest('10.244.2.0', 2)), '192.0.2.1', 1)).toBe(Received.Dropped);
    expect(b.receive(put(ringB, arpRequest('10.244.2.0').subarray(0, 40)), '192.0.2.1', 1)).toBe(Received.Dropped);
    expect(b.drops().arp_ignored).toBe(3);
    expect(ringB.free).toBe(16);
  });
});

describe('VxlanDataplane peers', () => {
  it('moves routes and the sender check with updatePeer, and forgets them with removePeer', async () => {
    a.updatePeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 8472 }, subnets: [parseCidr('10.244.7.0/24')], vtepMac: MAC_B });
    a.send(put(ringA, icmp('10.244.1.2', '10.244.2.3')));
    expect(a.drops().no_route).toBe(1);
    a.send(put(ringA, icmp('10.244.1.2', '10.244.7.3')));
    await flushTo(b, ringB, tB);
    expect(wire).toHaveLength(1);
    expect(a.removePeer('b')).toBe(true);
    expect(a.removePeer('b')).toBe(false);
    a.send(put(ringA, icmp('10.244.1.2', '10.244.7.3')));
    expect(a.drops().no_route).toBe(2);
    expect(a.peers()).toEqual([]);
    expect(() => a.updatePeer({ name: 'zz', endpoint: { address: '192.0.2.5', port: 1 }, subnets: [], vtepMac: MAC_B })).toThrow(/add it first/);
  });
});
