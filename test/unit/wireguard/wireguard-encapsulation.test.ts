import { beforeEach, describe, expect, it } from 'vitest';
import { CsumState, PacketRing } from '../../../src/buf/packet-ring.ts';
import { Received } from '../../../src/dataplane/encapsulation.ts';
import { generatePrivateKey, publicKey } from '../../../src/crypto/x25519.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import type { MemoryTransport } from '../../../src/transport/memory-transport.ts';
import { parseCidr } from '../../../src/wire/addr.ts';
import { wireguardDataplane } from '../../helpers/dataplanes.ts';
import type { WireguardDataplane } from '../../helpers/dataplanes.ts';
import { udpPacket } from '../../helpers/packets.ts';
import { payloadOf, tcpPacket } from '../../helpers/tcp-packets.ts';


interface Side {
  ring: PacketRing;
  t: MemoryTransport;
  wg: WireguardDataplane;
  delivered: number[][];
  /** The CsumState of each delivered packet's slot. */
  deliveredCsum: number[];
  wire: number[][]; // every datagram this side received, as sent
}

let clock = 0;
let net: MemoryNetwork;
let a: Side;
let b: Side;

function side(address: string, priv: Uint8Array): Side {
  const ring = new PacketRing({ slots: 256 });
  const t = net.attach(ring, address, 51820);
  const wg = wireguardDataplane({ ring, transport: t, privateKey: priv, mtu: 1420, now: () => clock, wallNow: () => 1_700_000_000_000 + clock });
  const s: Side = { ring, t, wg, delivered: [], deliveredCsum: [], wire: [] };
  t.onReceive((slot, from, port) => {
    s.wire.push(Array.from(ring.packetOf(slot)));
    if (wg.receive(slot, from, port) === Received.Deliver) {
      s.delivered.push(Array.from(ring.packetOf(slot)));
      s.deliveredCsum.push(ring.csum[slot]!);
      ring.release(slot);
    }
  });
  return s;
}

function inject(s: Side, packet: Uint8Array, csum: number = CsumState.Complete): void {
  const slot = s.ring.acquire();
  s.ring.bytes.set(packet, s.ring.offset[slot]!);
  s.ring.length[slot] = packet.length;
  s.ring.csum[slot] = csum;
  s.wg.send(slot);
}

/** Let deliveries (microtasks) and deferred handshakes (setImmediate turns, under load) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
  }
}

beforeEach(() => {
  clock = 1000;
  net = new MemoryNetwork();
  const privA = generatePrivateKey();
  const privB = generatePrivateKey();
  a = side('192.0.2.1', privA);
  b = side('192.0.2.2', privB);
  a.wg.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 51820 }, subnets: [parseCidr('10.244.2.0/24')], publicKey: publicKey(privB) });
  b.wg.addPeer({ name: 'a', endpoint: { address: '192.0.2.1', port: 51820 }, subnets: [parseCidr('10.244.1.0/24')], publicKey: publicKey(privA) });
});

describe('WireguardDataplane', () => {
  it('stages the first packet, handshakes, and delivers it byte for byte; the responder confirms on data', async () => {
    const p1 = udpPacket('10.244.1.5', '10.244.2.7', [1, 2, 3]);
    inject(a, p1);
    expect(a.wg.wireguard.peer('b')!.stagedCount).toBe(1);
    await settle();
    expect(b.wire[0]!.length).toBe(148); // initiation
    expect(a.wire[0]!.length).toBe(92); // response
    expect(b.delivered).toEqual([Array.from(p1)]);
    expect(a.wg.wireguard.state.handshakes).toMatchObject({ initiationsSent: 1, completed: 1 });
    expect(b.wg.wireguard.state.handshakes).toMatchObject({ responsesSent: 1, completed: 1 });
    // B's keypair is confirmed, so B can answer at once without a new handshake.
    const p2 = udpPacket('10.244.2.7', '10.244.1.5', [9]);
    inject(b, p2);
    await settle();
    expect(a.delivered).toEqual([Array.from(p2)]);
    expect(b.wg.wireguard.state.handshakes.initiationsSent).toBe(0);
    expect(a.ring.free).toBe(256);
    expect(b.ring.free).toBe(256);
  });

  it('finishes a partial TCP checksum for a peer that did not say it finishes them, passes it on for one that did; what it receives is Authenticated', async () => {
    const spec = { src: '10.244.1.5', dst: '10.244.2.7', payload: payloadOf(900) };
    const whole = tcpPacket(spec);
    const partial = tcpPacket({ ...spec, tcpChecksum: 'partial' });
    inject(a, partial, CsumState.Partial);
    await settle();
    a.wg.wireguard.peer('b')!.finishesChecksums = true;
    inject(a, partial, CsumState.Partial);
    await settle();
    expect(b.delivered).toEqual([Array.from(whole), Array.from(partial)]);
    expect(b.deliveredCsum).toEqual([CsumState.Authenticated, CsumState.Authenticated]);
  });

  it('sends a keepalive after a handshake with nothing staged, so the responder can send', async () => {
    a.wg.wireguard.handshaker.initiate(a.wg.wireguard.peer('b')!);
    await settle();
    expect(a.wg.wireguard.state.handshakes.keepalivesSent).toBe(1);
    expect(b.wire.at(-1)!.length).toBe(32);
    expect(b.wg.wireguard.peer('a')!.current).toBeDefined();
  });

  it('drops a replayed data message and counts it', async () => {
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [1]));
    await settle();
    const dataMsg = Uint8Array.from(b.wire[1]!);
    const slot = b.ring.acquire();
    b.ring.bytes.set(dataMsg, b.ring.offset[slot]!);
    b.ring.length[slot] = dataMsg.length;
    expect(b.wg.receive(slot, '192.0.2.1', 51820)).toBe(Received.Dropped);
    expect(b.wg.drops().data_replay).toBe(1);
  });

  it('ignores an initiation with a bad MAC1, and one from an unknown key', async () => {
    const stranger = side('192.0.2.9', generatePrivateKey());
    stranger.wg.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 51820 }, subnets: [parseCidr('10.244.2.0/24')], publicKey: b.wg.wireguard.publicKey });
    stranger.wg.wireguard.handshaker.initiate(stranger.wg.wireguard.peer('b')!);
    await settle();
    expect(b.wg.drops().unknown_peer).toBe(1);
    a.wg.wireguard.handshaker.initiate(a.wg.wireguard.peer('b')!);
    await settle();
    const good = Uint8Array.from(b.wire.at(-2)!); // the initiation before the keepalive
    expect(good.length).toBe(148);
    good[120] = good[120]! ^ 1; // inside MAC1
    const slot = b.ring.acquire();
    b.ring.bytes.set(good, b.ring.offset[slot]!);
    b.ring.length[slot] = 148;
    expect(b.wg.receive(slot, '192.0.2.1', 51820)).toBe(Received.Dropped);
    expect(b.wg.drops().bad_mac1).toBe(1);
  });

  it('drops inner sources outside the peer\'s allowed IPs (cryptokey routing)', async () => {
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [1]));
    await settle();
    inject(a, udpPacket('10.244.9.9', '10.244.2.7', [2])); // a spoofs a source b never allowed
    await settle();
    expect(b.wg.drops().spoofed_source).toBe(1);
    expect(b.delivered).toHaveLength(1);
  });

  it('follows a peer to its new address after an authenticated packet (roaming)', async () => {
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [1]));
    await settle();
    // A replayed (already seen) message from elsewhere is not authenticated anew: no move.
    const seen = Uint8Array.from(b.wire.at(-1)!);
    const slot = b.ring.acquire();
    b.ring.bytes.set(seen, b.ring.offset[slot]!);
    b.ring.length[slot] = seen.length;
    expect(b.wg.receive(slot, '198.51.100.4', 40000)).toBe(Received.Dropped);
    expect(b.wg.wireguard.peer('a')!.endpoint).toEqual({ address: '192.0.2.1', port: 51820 });
    const t2 = net.attach(a.ring, '198.51.100.4', 40000);
    // A moved: it now sends from its new socket.
    (a.wg.wireguard.state as { transport: unknown }).transport = t2;
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [4]));
    await settle();
    expect(b.wg.wireguard.peer('a')!.endpoint).toEqual({ address: '198.51.100.4', port: 40000 });
  });

  it('retries an unanswered initiation after REKEY_TIMEOUT and gives up after REKEY_ATTEMPT_TIME, dropping what was staged', async () => {
    net.lossRate = 1; // nothing gets through
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [1]));
    await settle();
    expect(a.wg.wireguard.state.handshakes.initiationsSent).toBe(1);
    clock += 5_400;
    a.wg.wireguard.tick();
    expect(a.wg.wireguard.state.handshakes.initiationsSent).toBe(2);
    for (let i = 0; i < 40; i++) {
      clock += 5_400;
      a.wg.wireguard.tick();
    }
    expect(a.wg.drops().handshake_timeout).toBe(1);
    expect(a.wg.wireguard.peer('b')!.stagedCount).toBe(0);
    await settle();
    expect(a.ring.free).toBe(256);
  });

  it('rekeys after REKEY_AFTER_TIME as the initiator without losing traffic', async () => {
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [1]));
    await settle();
    const first = a.wg.wireguard.peer('b')!.current!;
    clock += 120_000;
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [2]));
    a.wg.wireguard.tick();
    await settle();
    expect(a.wg.wireguard.state.handshakes.completed).toBe(2);
    expect(a.wg.wireguard.peer('b')!.current).not.toBe(first);
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [3]));
    await settle();
    expect(b.delivered.map((p) => p.at(-1))).toEqual([1, 2, 3]);
  });

  it('removes a peer completely: no route, no sessions, indices freed', async () => {
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [1]));
    await settle();
    expect(a.wg.wireguard.state.indices.size).toBeGreaterThan(0);
    expect(a.wg.removePeer('b')).toBe(true);
    expect(a.wg.wireguard.state.indices.size).toBe(0);
    inject(a, udpPacket('10.244.1.5', '10.244.2.7', [1]));
    expect(a.wg.drops().no_route).toBe(1);
  });

  it('under load answers an initiation with a cookie reply, and accepts the retry that carries the cookie (MAC2)', async () => {
    b.wg.wireguard.handshaker.load.holdFor(clock, 10_000); // as if a flood had just been seen
    a.wg.wireguard.handshaker.initiate(a.wg.wireguard.peer('b')!);
    await settle();
    expect(b.wg.wireguard.state.handshakes.cookieRepliesSent).toBe(1);
    expect(b.wg.drops().under_load).toBe(1);
    expect(a.wire.at(-1)!.length).toBe(64); // the cookie reply reached a
    expect(a.wg.wireguard.state.handshakes.completed).toBe(0);
    // The retry carries MAC2 and gets through although b is still under load.
    a.wg.wireguard.handshaker.initiate(a.wg.wireguard.peer('b')!);
    await settle();
    expect(b.wg.wireguard.handshaker.underLoad).toBe(true);
    expect(a.wg.wireguard.state.handshakes.completed).toBe(1);
    expect(b.wg.wireguard.state.handshakes.cookieRepliesSent).toBe(1);
  });
});
