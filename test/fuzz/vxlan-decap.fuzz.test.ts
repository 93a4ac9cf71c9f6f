import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../src/buf/packet-ring.ts';
import { Received } from '../../src/dataplane/encapsulation.ts';
import { MemoryNetwork } from '../../src/transport/memory-transport.ts';
import { vxlanDataplane } from '../helpers/dataplanes.ts';
import { parseCidr, parseIpv4, parseIpv6, parseMac } from '../../src/wire/addr.ts';
import { icmpEcho, ipPacket, trueL4Checksum, udpDatagram } from '../helpers/packets.ts';
import { seededRandom } from '../helpers/random.ts';


const SEED = 0x5eed1234;
const FRAMES = 120_000;

describe(`VXLAN decapsulation under hostile input (seed ${SEED.toString(16)})`, () => {
  it(`counts every one of ${FRAMES} random and mutated frames, throws nothing, leaks no slot`, async () => {
    const net = new MemoryNetwork();
    const ring = new PacketRing({ slots: 64, capacity: 2048 });
    const t = net.attach(ring, '192.0.2.2', 8472);
    const sink = net.attach(new PacketRing({ slots: 1024 }), '192.0.2.1', 8472);
    sink.onReceive((slot) => sink.ring.release(slot));
    const ourMac = parseMac('0e:00:00:00:00:0b');
    const peerMac = parseMac('0e:00:00:00:00:0a');
    const b = vxlanDataplane({ ring, transport: t, vtepMac: ourMac, vtepIp: parseIpv4('10.244.2.0'), vtepIp6: parseIpv6('fd00:2::') });
    b.addPeer({ name: 'a', endpoint: { address: '192.0.2.1', port: 8472 }, subnets: [parseCidr('10.244.1.0/24'), parseCidr('fd00:1::/64')], vtepMac: peerMac });

    // Seeds the mutator starts from: a valid IPv4 frame, a valid IPv6 frame, an ARP request for our VTEP.
    const vxlanEth = (ethertype: number[]) => [8, 0, 0, 0, 0, 0, 1, 0, ...ourMac, ...peerMac, ...ethertype];
    const v4 = Uint8Array.from([...vxlanEth([8, 0]), ...icmpEcho({ src: '10.244.1.2', dst: '10.244.2.3', id: 0 })]);
    const v6 = Uint8Array.from([...vxlanEth([0x86, 0xdd]), ...udpDatagram({ version: 6, src: 'fd00:1::', dst: 'fd00:2::', checksum: 'valid' })]);
    const arp = Uint8Array.from([
      8, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...peerMac, 8, 6,
      0, 1, 8, 0, 6, 4, 0, 1, ...peerMac, 10, 244, 1, 0, 0, 0, 0, 0, 0, 0, 10, 244, 2, 0,
    ]);
    // A neighbour solicitation for our VTEP's IPv6 address, to the solicited-node multicast MAC.
    const nsIp = ipPacket({ version: 6, src: 'fd00:1::', dst: 'ff02::1:ff00:0', hopLimit: 255 }, 58, [135, 0, 0, 0, 0, 0, 0, 0, ...parseIpv6('fd00:2::'), 1, 1, ...peerMac]);
    const nsSum = trueL4Checksum(nsIp, 58, 2);
    nsIp[42] = nsSum >> 8;
    nsIp[43] = nsSum & 0xff;
    const ns = Uint8Array.from([8, 0, 0, 0, 0, 0, 1, 0, 0x33, 0x33, 0xff, 0, 0, 0, ...peerMac, 0x86, 0xdd, ...nsIp]);
    const seeds = [v4, v6, arp, ns];
    const rand = seededRandom(SEED);
    const scratch = new Uint8Array(2048);
    const verdicts = [0, 0, 0];
    // Senders over both underlay families: the peer, a peer known at an IPv6 endpoint (whose
    // subnets the seeds' inner sources are not in), and an IPv6 stranger.
    b.addPeer({ name: 'c', endpoint: { address: 'fd99::3', port: 8472 }, subnets: [parseCidr('10.244.3.0/24')], vtepMac: parseMac('0e:00:00:00:00:0c') });
    const senders = ['192.0.2.1', '192.0.2.1', 'fd99::3', 'fd99::7'];

    for (let i = 0; i < FRAMES; i++) {
      let len: number;
      const kind = rand();
      if (kind < 0.15) {
        // Pure noise, any length up to the slot's capacity.
        len = Math.floor(rand() * 2049);
        for (let j = 0; j < len; j++) scratch[j] = (rand() * 256) | 0;
      } else {
        const seed = seeds[Math.floor(rand() * seeds.length)]!;
        scratch.set(seed);
        len = seed.length;
        const flips = 1 + Math.floor(rand() * 4);
        for (let f = 0; f < flips; f++) {
          const op = rand();
          if (op < 0.5) scratch[Math.floor(rand() * len)] = (rand() * 256) | 0; // corrupt a byte
          else if (op < 0.75) len = Math.floor(rand() * len); // truncate
          else {
            // Grow past the declared length (oversized or padded); stay within capacity.
            const extra = Math.floor(rand() * 1800);
            for (let j = len; j < Math.min(len + extra, 2048); j++) scratch[j] = (rand() * 256) | 0;
            len = Math.min(len + extra, 2048);
          }
        }
      }
      const slot = ring.acquire();
      expect(slot).toBeGreaterThanOrEqual(0);
      ring.bytes.set(scratch.subarray(0, len), ring.offset[slot]!);
      ring.length[slot] = len;
      const verdict = b.receive(slot, senders[i & 3]!, 8472);
      verdicts[verdict]!++;
      if (verdict === Received.Deliver) ring.release(slot);
      if ((i & 31) === 0) await Promise.resolve(); // let ARP and NDP replies complete and return their slots
    }
    for (let i = 0; i < 10; i++) await Promise.resolve();

    const drops = b.drops();
    const dropped = Object.values(drops).reduce((s, n) => s + n, 0);
    expect(verdicts[Received.Dropped]).toBe(dropped);
    expect(verdicts[0]! + verdicts[1]! + verdicts[2]!).toBe(FRAMES);
    expect(verdicts[Received.Consumed]).toBe(b.vxlan.arpReplies + b.vxlan.ndpReplies);
    expect(b.vxlan.ndpReplies).toBeGreaterThan(0);
    // The mutator reaches every receive-side reason.
    for (const reason of ['short', 'bad_flags', 'wrong_vni', 'unknown_ethertype', 'not_for_us', 'spoofed_source', 'unknown_sender', 'bad_ip', 'arp_ignored', 'ndp_ignored']) {
      expect(drops[reason], reason).toBeGreaterThan(0);
    }
    expect(verdicts[Received.Deliver]).toBeGreaterThan(1000);
    expect(ring.free).toBe(ring.slotCount);

    // The valid path still works afterwards, byte for byte.
    const slot = ring.acquire();
    ring.bytes.set(v4, ring.offset[slot]!);
    ring.length[slot] = v4.length;
    expect(b.receive(slot, '192.0.2.1', 8472)).toBe(Received.Deliver);
    expect(Array.from(ring.packetOf(slot))).toEqual(Array.from(v4.subarray(22)));
    ring.release(slot);
  });
});
