/**
 * WireGuard transport data per packet: seal (pad, encrypt in place, header)
 * and open (replay check, decrypt in place, trim) of 1400-byte packets in
 * ring slots, plus the data plane's whole send path (IP check, route lookup, seal, hand to
 * the transport) with a transport that completes at once.
 *
 *   npm run bench:wireguard
 */
import { PacketRing } from '../../src/buf/packet-ring.ts';
import { AeadViews } from '../../src/crypto/aead.ts';
import { generatePrivateKey, publicKey } from '../../src/crypto/x25519.ts';
import { newTransportStats } from '../../src/transport/transport.ts';
import type { Transport } from '../../src/transport/transport.ts';
import { parseCidr } from '../../src/wire/addr.ts';
import { udpPacket } from '../../test/helpers/packets.ts';
import { Keypair } from '../../src/wireguard/keypair.ts';
import { OpenResult, openTransport, sealTransport } from '../../src/wireguard/transport-data.ts';
import { wireguardDataplane } from '../../test/helpers/dataplanes.ts';
import { measure, printTable } from '../util/measure.ts';

const PACKET = 1400;
const OPS = Number(process.env.BENCH_OPS ?? 1_000_000);

/** A PACKET-byte IPv4/UDP packet. */
function ipPacket(): Uint8Array {
  return udpPacket('10.244.1.5', '10.244.2.7', new Uint8Array(PACKET - 28));
}

async function main(): Promise<void> {
  const ring = new PacketRing({ slots: 64 });
  const views = new AeadViews(ring.bytes, ring.slotCount);
  const k1 = new Uint8Array(32).fill(1);
  const k2 = new Uint8Array(32).fill(2);
  const sender = new Keypair(k1, k2, 1, 2, true, 0);
  const receiver = new Keypair(k2.slice(), k1.slice(), 2, 1, false, 0);
  const pkt = ipPacket();

  // Seal: the same slot each round (the free list is a stack), the packet rewritten in place.
  const seal = await measure(`seal ${PACKET} B`, OPS, () => {
    const s = ring.acquire();
    ring.bytes.set(pkt, ring.offset[s]!);
    ring.length[s] = PACKET;
    sealTransport(ring, s, sender, 1420, views);
    ring.release(s);
  });

  // Open: pre-seal OPS distinct counters is too much memory; instead seal one message per
  // round into a second slot and open it, and subtract the seal time measured above.
  let opened = 0;
  const sealOpen = await measure(`seal + open ${PACKET} B`, OPS, () => {
    const s = ring.acquire();
    ring.bytes.set(pkt, ring.offset[s]!);
    ring.length[s] = PACKET;
    sealTransport(ring, s, sender, 1420, views);
    if (openTransport(ring, s, receiver, views) === OpenResult.Packet) opened++;
    ring.release(s);
  });
  if (opened < OPS) throw new Error(`opened ${opened} of ${OPS}`);

  // The data plane's whole send path with a transport that releases at once.
  const nullTransport: Transport = { ring, stats: newTransportStats(), localPort: 51820, send: (slot) => ring.release(slot), onReceive: () => {}, close: async () => {} };
  const privB = generatePrivateKey();
  const dataplane = wireguardDataplane({ ring, transport: nullTransport, privateKey: generatePrivateKey(), mtu: 1420 });
  dataplane.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 51820 }, subnets: [parseCidr('10.244.2.0/24')], publicKey: publicKey(privB) });
  const peer = dataplane.wireguard.peer('b')!;
  peer.current = new Keypair(k1.slice(), k2.slice(), 3, 4, true, performance.now());
  const send = await measure(`dataplane.send ${PACKET} B`, OPS, () => {
    const s = ring.acquire();
    ring.bytes.set(pkt, ring.offset[s]!);
    ring.length[s] = PACKET;
    dataplane.send(s);
  });
  const drops = Object.entries(dataplane.drops()).filter(([, n]) => n > 0);
  if (drops.length) throw new Error(`unexpected drops ${JSON.stringify(drops)}`);

  printTable([seal, sealOpen, send]);
  console.log(`\nopen alone is about ${(sealOpen.nsPerOp - seal.nsPerOp).toFixed(0)} ns per packet (seal+open minus seal); AeadViews hits ${views.hits}, misses ${views.misses}`);
}

await main();
