import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../src/buf/packet-ring.ts';
import { Received } from '../../src/dataplane/encapsulation.ts';
import { generatePrivateKey, publicKey } from '../../src/crypto/x25519.ts';
import { MemoryNetwork } from '../../src/transport/memory-transport.ts';
import { parseCidr } from '../../src/wire/addr.ts';
import { wireguardDataplane } from '../helpers/dataplanes.ts';
import type { WireguardDataplane } from '../helpers/dataplanes.ts';
import { udpPacket } from '../helpers/packets.ts';
import { seededRandom } from '../helpers/random.ts';

const SEED = 0x77a11e;
const PER_TYPE = 100_000;


/** A 60-byte IPv4/UDP packet from a pod on node a to one on node b. */
function ipPacket(): Uint8Array {
  return udpPacket('10.244.1.5', '10.244.2.7', new Uint8Array(32));
}

describe(`WireGuard receive path under hostile input (seed ${SEED.toString(16)})`, () => {
  it(`counts ${PER_TYPE} mutated messages of each type, throws nothing, and leaves the session as it was`, async () => {
    const net = new MemoryNetwork();
    const privA = generatePrivateKey();
    const privB = generatePrivateKey();
    const ringA = new PacketRing({ slots: 512 });
    const ringB = new PacketRing({ slots: 512 });
    const tA = net.attach(ringA, '192.0.2.1', 51820);
    const tB = net.attach(ringB, '192.0.2.2', 51820);
    // A clock the test moves: two initiations from one peer within 20 ms (or within
    // one whitened TAI64N step) are refused by design, and this test makes two.
    let clock = 1000;
    const clocks = { now: () => clock, wallNow: () => 1_700_000_000_000 + clock };
    const a = wireguardDataplane({ ring: ringA, transport: tA, privateKey: privA, mtu: 1420, ...clocks });
    const b = wireguardDataplane({ ring: ringB, transport: tB, privateKey: privB, mtu: 1420, ...clocks });
    a.addPeer({ name: 'b', endpoint: { address: '192.0.2.2', port: 51820 }, subnets: [parseCidr('10.244.2.0/24')], publicKey: publicKey(privB) });
    b.addPeer({ name: 'a', endpoint: { address: '192.0.2.1', port: 51820 }, subnets: [parseCidr('10.244.1.0/24')], publicKey: publicKey(privA) });

    // Record what crosses the network so there are genuine messages of every type to mutate.
    const seen: Record<string, Uint8Array[]> = { a: [], b: [] };
    let hold = false; // when set, messages are recorded but not handed to the backend
    for (const [t, backend, ring, key] of [[tA, a, ringA, 'a'], [tB, b, ringB, 'b']] as const) {
      t.onReceive((slot, from, port) => {
        seen[key]!.push(ring.packetOf(slot).slice());
        if (hold) return ring.release(slot);
        if (backend.receive(slot, from, port) === Received.Deliver) ring.release(slot);
      });
    }
    // Deliveries (microtasks), and event-loop turns: a turn that spent its time on
    // handshakes queues the next ones (handshake-queue.ts) until the following turn.
    const settle = async () => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
      await new Promise((r) => setImmediate(r));
    };
    const inject = (backend: WireguardDataplane, ring: PacketRing, p: Uint8Array) => {
      const s = ring.acquire();
      ring.bytes.set(p, ring.offset[s]!);
      ring.length[s] = p.length;
      backend.send(s);
    };

    inject(a, ringA, ipPacket());
    await settle();
    const initiation = seen.b!.find((m) => m[0] === 1 && m.length === 148)!;
    const data = seen.b!.find((m) => m[0] === 4 && m.length > 32)!;
    expect(initiation).toBeDefined();
    expect(data).toBeDefined();

    // A handshake left in flight on a: b's answer is held back, to be fuzzed and then delivered.
    clock += 1000;
    hold = true;
    a.wireguard.handshaker.initiate(a.wireguard.peer('b')!);
    await settle();
    const secondInit = seen.b!.at(-1)!;
    const slotB = ringB.acquire();
    ringB.bytes.set(secondInit, ringB.offset[slotB]!);
    ringB.length[slotB] = secondInit.length;
    expect(b.receive(slotB, '192.0.2.1', 51820)).toBe(Received.Consumed);
    await settle();
    const response = seen.a!.at(-1)!;
    expect(response.length).toBe(92);
    const cookieReply = b.wireguard.state.local.cookies.createReply(secondInit, Buffer.from('192.0.2.1|51820'))!;
    // a's handshake in flight is the one the cookie reply names.
    cookieReply.set(secondInit.subarray(4, 8), 4);

    const peerA = b.wireguard.peer('a')!;
    const peerB = a.wireguard.peer('b')!;
    const snapshot = () => ({
      bCurrent: peerA.current,
      bNext: peerA.next,
      bHighest: peerA.current?.replay.highest,
      aCurrent: peerB.current,
      aHandshake: peerB.handshake,
      aCompleted: a.wireguard.state.handshakes.completed,
      bCompleted: b.wireguard.state.handshakes.completed,
    });
    const before = snapshot();

    const rand = seededRandom(SEED);
    const buf = new Uint8Array(2048);
    // When not under load MAC2 is not checked (whitepaper 5.4.4): a message that
    // differs from a genuine one only inside MAC2 is that genuine message, not a
    // forgery. Bit flips therefore land before MAC2 in handshake messages.
    const flipLimit = (seed: Uint8Array) => (seed[0] === 1 ? 132 : seed[0] === 2 ? 76 : seed.length);
    const mutate = (seed: Uint8Array): number => {
      let len = seed.length;
      buf.set(seed);
      const r = rand();
      if (r < 0.1) {
        len = Math.floor(rand() * 300);
        for (let i = 0; i < len; i++) buf[i] = (rand() * 256) | 0;
        buf[0] = seed[0]!; // keep the type so the deep path is reached
      } else {
        const flips = 1 + Math.floor(rand() * 3);
        for (let f = 0; f < flips; f++) {
          const op = rand();
          if (op < 0.7) buf[Math.floor(rand() * Math.min(len, flipLimit(seed)))]! ^= 1 << Math.floor(rand() * 8);
          else if (op < 0.85) len = Math.max(1, Math.floor(rand() * len));
          else {
            const extra = 1 + Math.floor(rand() * 64);
            for (let i = len; i < len + extra; i++) buf[i] = (rand() * 256) | 0;
            len += extra;
          }
        }
      }
      return len;
    };
    const run = (backend: WireguardDataplane, ring: PacketRing, seed: Uint8Array) => {
      const counts = [0, 0, 0];
      const dropsBefore = Object.values(backend.drops()).reduce((x, y) => x + y, 0);
      const limit = flipLimit(seed);
      for (let i = 0; i < PER_TYPE; i++) {
        const len = mutate(seed);
        // Truncating into MAC2 and growing back can also leave a genuine message: skip those.
        if (len === seed.length && buf.subarray(0, limit).every((x, j) => x === seed[j])) {
          i--;
          continue;
        }
        const slot = ring.acquire();
        ring.bytes.set(buf.subarray(0, len), ring.offset[slot]!);
        ring.length[slot] = len;
        const v = backend.receive(slot, '192.0.2.1', 51820);
        counts[v]!++;
        if (v === Received.Deliver) ring.release(slot);
      }
      const dropsAfter = Object.values(backend.drops()).reduce((x, y) => x + y, 0);
      return { counts, dropped: dropsAfter - dropsBefore };
    };

    for (const [name, backend, ring, seed] of [
      ['initiation', b, ringB, initiation],
      ['response', a, ringA, response],
      ['cookie reply', a, ringA, cookieReply],
      ['data', b, ringB, data],
    ] as const) {
      const { counts, dropped } = run(backend, ring, seed);
      // Nothing forged gets through, and every message is counted by a reason.
      expect(counts[Received.Deliver], name).toBe(0);
      expect(counts[Received.Consumed], name).toBe(0);
      expect(dropped, name).toBe(PER_TYPE);
      await settle();
      expect(ring.free, `${name}: slots returned`).toBe(512);
    }
    // The genuine first initiation, replayed: authentic, but its timestamp is old.
    await settle();
    const again = ringB.acquire();
    ringB.bytes.set(initiation, ringB.offset[again]!);
    ringB.length[again] = initiation.length;
    expect(b.receive(again, '192.0.2.1', 51820)).toBe(Received.Dropped);
    expect(b.drops().handshake_replay).toBe(1);
    expect(snapshot()).toEqual(before);
    const drops = b.drops();
    for (const reason of ['short', 'bad_type', 'bad_mac1', 'unknown_index', 'bad_auth', 'data_replay']) {
      expect(drops[reason]! + (a.drops()[reason] ?? 0), reason).toBeGreaterThan(0);
    }

    // The genuine response, delivered last, still completes a's handshake, and data still flows.
    hold = false;
    const slot = ringA.acquire();
    ringA.bytes.set(response, ringA.offset[slot]!);
    ringA.length[slot] = response.length;
    expect(a.receive(slot, '192.0.2.2', 51820)).toBe(Received.Consumed);
    expect(a.wireguard.state.handshakes.completed).toBe(before.aCompleted + 1);
    const deliveredBefore = peerA.traffic.rxPackets;
    inject(a, ringA, ipPacket());
    await settle();
    expect(peerA.traffic.rxPackets).toBe(deliveredBefore + 1);
  }, 120_000);
});
