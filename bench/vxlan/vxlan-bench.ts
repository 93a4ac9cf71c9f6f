/**
 * VXLAN encapsulation and decapsulation cost per packet, in place in the
 * ring, with the transport and TUN device stubbed out so only weft's own
 * per-packet work is timed: IP check, route lookup, header writes (encap);
 * header checks, inner source check (decap).
 *
 *   npm run bench:vxlan
 */
import { PacketRing } from '../../src/buf/packet-ring.ts';
import { Received } from '../../src/dataplane/encapsulation.ts';
import { newTransportStats } from '../../src/transport/transport.ts';
import type { Transport } from '../../src/transport/transport.ts';
import { vxlanDataplane } from '../../test/helpers/dataplanes.ts';
import { deriveVtepMac, parseCidr, parseIpv4 } from '../../src/wire/addr.ts';
import { udpPacket } from '../../test/helpers/packets.ts';
import { measure, printTable } from '../util/measure.ts';

const PACKET = 1400;
const OPS = Number(process.env.BENCH_OPS ?? 1_000_000);
const PEERS = Number(process.env.BENCH_PEERS ?? 100);

const ring = new PacketRing({ slots: 256 });
// A transport that "sends" at once: the slot goes straight back to the ring.
const nullTransport: Transport = {
  ring,
  stats: newTransportStats(),
  localPort: 8472,
  send: (slot) => ring.release(slot),
  onReceive: () => {},
  close: async () => {},
};
const dataplane = vxlanDataplane({ ring, transport: nullTransport, vtepMac: deriveVtepMac('bench-a'), vtepIp: parseIpv4('10.244.0.0') });
// A cluster of PEERS nodes, so the route lookup walks a realistic table.
for (let i = 1; i <= PEERS; i++) {
  dataplane.addPeer({
    name: `node-${i}`,
    endpoint: { address: `192.168.${i >> 8}.${i & 255}`, port: 8472 },
    subnets: [parseCidr(`10.244.${i}.0/24`)],
    vtepMac: deriveVtepMac(`node-${i}`),
  });
}

/** A PACKET-byte IPv4/UDP packet from src to dst. */
function ipPacket(src: string, dst: string): Uint8Array {
  return udpPacket(src, dst, new Uint8Array(PACKET - 28));
}

async function main(): Promise<void> {
  // Encap: the packet sits in a slot; each round re-acquires the same slot (the
  // free list is a stack), so the bytes stay and only offset/length are reset.
  const out = ipPacket('10.244.0.5', '10.244.57.9');
  const s0 = ring.acquire();
  ring.bytes.set(out, ring.offset[s0]!);
  ring.release(s0);
  const encap = await measure(`encap ${PACKET} B (${PEERS} peers)`, OPS, () => {
    const s = ring.acquire();
    ring.length[s] = PACKET;
    dataplane.send(s);
  });

  // Decap: a frame from node-57; the receive path moves offset past the
  // headers without touching the bytes, so resetting offset/length replays it.
  const frame = new Uint8Array(22 + PACKET);
  frame.set([0x08, 0, 0, 0, 0, 0, 1, 0, ...deriveVtepMac('bench-a'), ...deriveVtepMac('node-57'), 0x08, 0x00]);
  frame.set(ipPacket('10.244.57.9', '10.244.0.5'), 22);
  const slot = ring.acquire();
  const start = ring.offset[slot]!;
  ring.bytes.set(frame, start);
  let delivered = 0;
  const decap = await measure(`decap ${PACKET} B (${PEERS} peers)`, OPS, () => {
    ring.offset[slot] = start;
    ring.length[slot] = frame.length;
    if (dataplane.receive(slot, '192.168.0.57', 8472) === Received.Deliver) delivered++;
  });
  if (delivered < OPS) throw new Error(`decap delivered ${delivered} of ${OPS}: the benchmark measured drops`);
  const drops = Object.entries(dataplane.drops()).filter(([, n]) => n > 0);
  if (drops.length > 0) throw new Error(`unexpected drops: ${JSON.stringify(drops)}`);

  printTable([encap, decap]);
}

await main();
