/**
 * The VXLAN encapsulation answers IPv6 neighbour solicitations for its VTEP
 * address through the tunnel, as a kernel vxlan peer without a static
 * neighbour entry sends them (to the solicited-node multicast MAC), and
 * drops every other IPv6 multicast frame.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { Received } from '../../../src/dataplane/encapsulation.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import { parseIpv4, parseIpv6, parseMac } from '../../../src/wire/addr.ts';
import { vxlanDataplane } from '../../helpers/dataplanes.ts';
import type { VxlanDataplane } from '../../helpers/dataplanes.ts';
import { ipPacket, trueL4Checksum } from '../../helpers/packets.ts';

const OUR_MAC = parseMac('0e:00:00:00:00:0b');
const ASKER_MAC = parseMac('0e:00:00:00:00:0a');
const OURS = parseIpv6('fd00:10:244:2::');
/** The solicited-node multicast MAC of OURS (33:33 and the low 32 bits of ff02::1:ff00:0). */
const SOLICITED_MAC = [0x33, 0x33, 0xff, 0, 0, 0];

function withChecksum(pkt: Uint8Array): Uint8Array {
  const sum = trueL4Checksum(pkt, 58, 2);
  pkt[42] = sum >> 8;
  pkt[43] = sum & 0xff;
  return pkt;
}

/** A VXLAN frame (VNI 1) around an Ethernet frame to `dstMac` carrying `ip`. */
function frame(dstMac: ArrayLike<number>, ip: Uint8Array): Uint8Array {
  return Uint8Array.from([0x08, 0, 0, 0, 0, 0, 1, 0, ...Array.from(dstMac), ...ASKER_MAC, 0x86, 0xdd, ...ip]);
}

let ring: PacketRing;
let node: VxlanDataplane;
let sent: number[][];

function put(bytes: Uint8Array): number {
  const s = ring.acquire();
  ring.bytes.set(bytes, ring.offset[s]!);
  ring.length[s] = bytes.length;
  return s;
}

beforeEach(() => {
  const net = new MemoryNetwork();
  ring = new PacketRing({ slots: 8 });
  const askerRing = new PacketRing({ slots: 8 });
  net.attach(askerRing, '192.0.2.1', 8472).onReceive((slot) => {
    sent.push(Array.from(askerRing.packetOf(slot)));
    askerRing.release(slot);
  });
  node = vxlanDataplane({ ring, transport: net.attach(ring, '192.0.2.2', 8472), vtepMac: OUR_MAC, vtepIp: parseIpv4('10.244.2.0'), vtepIp6: OURS });
  sent = [];
});

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('VXLAN neighbour discovery for the VTEP', () => {
  it('answers a multicast solicitation with an advertisement to the asker\'s MAC, byte for byte', async () => {
    const ns = withChecksum(ipPacket({ version: 6, src: 'fd00:10:244:1::', dst: 'ff02::1:ff00:0', hopLimit: 255 }, 58, [135, 0, 0, 0, 0, 0, 0, 0, ...OURS, 1, 1, ...ASKER_MAC]));
    expect(node.receive(put(frame(SOLICITED_MAC, ns)), '192.0.2.1', 40000)).toBe(Received.Consumed);
    await settle();
    const na = withChecksum(ipPacket({ version: 6, src: 'fd00:10:244:2::', dst: 'fd00:10:244:1::', hopLimit: 255 }, 58, [136, 0, 0, 0, 0x60, 0, 0, 0, ...OURS, 2, 1, ...OUR_MAC]));
    expect(sent).toEqual([[0x08, 0, 0, 0, 0, 0, 1, 0, ...ASKER_MAC, ...OUR_MAC, 0x86, 0xdd, ...na]]);
    expect(node.vxlan.ndpReplies).toBe(1);
    expect(ring.free).toBe(8);
  });

  it('answers a unicast solicitation without options at the frame\'s source MAC', async () => {
    const ns = withChecksum(ipPacket({ version: 6, src: 'fd00:10:244:1::', dst: 'fd00:10:244:2::', hopLimit: 255 }, 58, [135, 0, 0, 0, 0, 0, 0, 0, ...OURS]));
    expect(node.receive(put(frame(OUR_MAC, ns)), '192.0.2.1', 40000)).toBe(Received.Consumed);
    await settle();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.slice(8, 20)).toEqual([...ASKER_MAC, ...OUR_MAC]);
    expect(sent[0]!.length).toBe(8 + 14 + 40 + 32);
  });

  it('drops other IPv6 multicast, and solicitations for other addresses, as ndp_ignored', () => {
    const ping = ipPacket({ version: 6, src: 'fd00:10:244:1::', dst: 'ff02::1', hopLimit: 1 }, 58, [128, 0, 0, 0, 0, 1, 0, 1]);
    const other = withChecksum(ipPacket({ version: 6, src: 'fd00:10:244:1::', dst: 'ff02::1:ff00:0', hopLimit: 255 }, 58, [135, 0, 0, 0, 0, 0, 0, 0, ...parseIpv6('fd00:10:244:9::')]));
    expect(node.receive(put(frame([0x33, 0x33, 0, 0, 0, 1], ping)), '192.0.2.1', 40000)).toBe(Received.Dropped);
    expect(node.receive(put(frame(SOLICITED_MAC, other)), '192.0.2.1', 40000)).toBe(Received.Dropped);
    expect(node.drops().ndp_ignored).toBe(2);
    expect(ring.free).toBe(8);
  });
});
