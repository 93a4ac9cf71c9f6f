import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { aeadSeal } from '../../../src/crypto/aead.ts';
import { Keypair } from '../../../src/wireguard/keypair.ts';
import { OpenResult, SealResult, openTransport, paddedLength, readCounter, sealTransport } from '../../../src/wireguard/transport-data.ts';
import { udpPacket } from '../../helpers/packets.ts';

const k1 = new Uint8Array(32).fill(0x11);
const k2 = new Uint8Array(32).fill(0x22);

/** Both ends of one session: a's send key is b's receive key and the other way round. */
function pair(): { a: Keypair; b: Keypair } {
  return {
    a: new Keypair(k1.slice(), k2.slice(), 0x01020304, 0xa0b0c0d0, true, 0),
    b: new Keypair(k2.slice(), k1.slice(), 0xa0b0c0d0, 0x01020304, false, 0),
  };
}

/** A `len`-byte IPv4/UDP packet whose payload counts up. */
function ipPacket(len: number): Uint8Array {
  const payload = new Uint8Array(len - 28);
  for (let i = 0; i < payload.length; i++) payload[i] = (28 + i) & 0xff;
  return udpPacket('10.244.1.2', '10.244.2.3', payload);
}

function load(ring: PacketRing, data: Uint8Array): number {
  const s = ring.acquire();
  ring.bytes.set(data, ring.offset[s]!);
  ring.length[s] = data.length;
  return s;
}

describe('transport data', () => {
  it('pads to 16 without passing the MTU', () => {
    expect(paddedLength(0, 1420)).toBe(0);
    expect(paddedLength(1, 1420)).toBe(16);
    expect(paddedLength(84, 1420)).toBe(96);
    expect(paddedLength(1419, 1420)).toBe(1420);
    expect(paddedLength(1420, 1420)).toBe(1420);
  });

  it('seals in place with the exact header and the AEAD of the padded packet, and opens it again', () => {
    const ring = new PacketRing({ slots: 4 });
    const { a, b } = pair();
    a.sendCounter = 0x1_0000_0005; // exercises the high half of the counter
    const pkt = ipPacket(84);
    const s = load(ring, pkt);
    expect(sealTransport(ring, s, a, 1420)).toBe(SealResult.Ok);
    const msg = ring.packetOf(s).slice();
    expect(msg.length).toBe(16 + 96 + 16);
    expect(Array.from(msg.subarray(0, 16))).toEqual([4, 0, 0, 0, 0xd0, 0xc0, 0xb0, 0xa0, 5, 0, 0, 0, 1, 0, 0, 0]);
    expect(readCounter(msg, 0)).toBe(0x1_0000_0005);
    // The body is exactly what the general API makes of the zero-padded packet.
    const padded = new Uint8Array(96);
    padded.set(pkt);
    expect(Array.from(msg.subarray(16))).toEqual(Array.from(aeadSeal(k1, 0x1_0000_0005n, padded)));
    expect(a.sendCounter).toBe(0x1_0000_0006);

    expect(openTransport(ring, s, b)).toBe(OpenResult.Packet);
    expect(Array.from(ring.packetOf(s))).toEqual(Array.from(pkt)); // padding trimmed
  });

  it('carries a keepalive as an empty plaintext of 32 bytes on the wire', () => {
    const ring = new PacketRing({ slots: 2 });
    const { a, b } = pair();
    const s = ring.acquire();
    expect(sealTransport(ring, s, a, 1420)).toBe(SealResult.Ok);
    expect(ring.length[s]).toBe(32);
    expect(openTransport(ring, s, b)).toBe(OpenResult.Keepalive);
    expect(ring.length[s]).toBe(0);
  });

  it('drops a replayed message and leaves the window unchanged by a forged one', () => {
    const ring = new PacketRing({ slots: 4 });
    const { a, b } = pair();
    const s = load(ring, ipPacket(60));
    sealTransport(ring, s, a, 1420);
    const msg = ring.packetOf(s).slice();
    expect(openTransport(ring, s, b)).toBe(OpenResult.Packet);
    const replay = load(ring, msg);
    expect(openTransport(ring, replay, b)).toBe(OpenResult.Replay);

    // A forged message with a fresh counter fails authentication and must not burn that counter.
    const t = load(ring, ipPacket(60));
    sealTransport(ring, t, a, 1420);
    const good = ring.packetOf(t).slice();
    const forged = good.slice();
    forged[40] = forged[40]! ^ 1;
    const f = load(ring, forged);
    expect(openTransport(ring, f, b)).toBe(OpenResult.BadAuth);
    ring.release(f);
    const g = load(ring, good);
    expect(openTransport(ring, g, b)).toBe(OpenResult.Packet);
  });

  it('rejects short messages, a wrong key, and authenticated bytes that are not IP', () => {
    const ring = new PacketRing({ slots: 8 });
    const { a, b } = pair();
    expect(openTransport(ring, load(ring, new Uint8Array(31)), b)).toBe(OpenResult.Short);
    const s = load(ring, ipPacket(60));
    sealTransport(ring, s, a, 1420);
    const stranger = new Keypair(k2.slice(), new Uint8Array(32).fill(9), 1, 2, false, 0);
    expect(openTransport(ring, s, stranger)).toBe(OpenResult.BadAuth);
    const junk = load(ring, new Uint8Array(40).fill(0x77));
    sealTransport(ring, junk, a, 1420);
    expect(openTransport(ring, junk, b)).toBe(OpenResult.BadIp);
  });

  it('refuses to seal without room instead of writing outside the slot', () => {
    const ring = new PacketRing({ slots: 1, capacity: 600, tailroom: 32 });
    const { a } = pair();
    const s = ring.acquire();
    ring.length[s] = ring.slotSize - ring.headroom - 8; // fills the slot: no room for padding and tag
    expect(sealTransport(ring, s, a, 9000)).toBe(SealResult.NoRoom);
    expect(a.sendCounter).toBe(0);
  });
});
