/**
 * Hostile and random input to both offload classes: they must never throw,
 * never leak or double-release a slot, never write outside a slot, and (with
 * checksum verification on) every merged write must re-segment to exactly
 * the packets that went into it.
 */
import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { GroCoalescer } from '../../../src/offload/gro.ts';
import { TsoSegmenter } from '../../../src/offload/tso.ts';
import { writeVnetHdr } from '../../../src/offload/virtio-net-hdr.ts';
import { seededRandom } from '../../helpers/random.ts';
import { ACK, FIN, PSH, type TcpSpec, payloadOf, segmentsOf, tcpPacket, udpPacket } from '../../helpers/tcp-packets.ts';

const SEED = 0x0ff10ad;
const ITERATIONS = 20_000;
const TIMESTAMPS = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];

function mutate(rand: () => number, buf: Uint8Array, len: number): number {
  const flips = Math.floor(rand() * 4);
  for (let f = 0; f < flips; f++) {
    const op = rand();
    if (op < 0.6) buf[Math.floor(rand() * len)] = (rand() * 256) | 0;
    else if (op < 0.8) len = Math.floor(rand() * (len + 1));
    else buf[Math.floor(rand() * Math.min(len, 60))]! ^= 1 << Math.floor(rand() * 8); // a header bit
  }
  return len;
}

describe(`offload under hostile input (seed ${SEED.toString(16)})`, () => {
  it(`TsoSegmenter: ${ITERATIONS} random and mutated reads, no throw, no leak`, () => {
    const rand = seededRandom(SEED);
    const ring = new PacketRing({ slots: 24, capacity: 2000 });
    const tso = new TsoSegmenter(ring);
    const out = new Int32Array(32);
    const stage = new Uint8Array(20_000);
    const seeds: Array<{ pkt: Uint8Array; type: number; flags: number }> = [
      { pkt: tcpPacket({ options: TIMESTAMPS, payload: payloadOf(9000), tcpChecksum: 'partial' }), type: 1, flags: 1 },
      { pkt: tcpPacket({ version: 6, payload: payloadOf(5000), flags: ACK | PSH | FIN, tcpChecksum: 'partial' }), type: 4, flags: 1 },
      { pkt: tcpPacket({ payload: payloadOf(900), tcpChecksum: 'partial' }), type: 0, flags: 1 },
      { pkt: udpPacket(6, payloadOf(700)), type: 0, flags: 1 },
    ];
    let emitted = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const hdrOff = Math.floor(rand() * 8);
      const pktOff = hdrOff + 10;
      let len: number;
      if (rand() < 0.1) {
        len = Math.floor(rand() * 3000);
        for (let j = 0; j < len + 10; j++) stage[hdrOff + j] = (rand() * 256) | 0;
      } else {
        const s = seeds[Math.floor(rand() * seeds.length)]!;
        stage.set(s.pkt, pktOff);
        const ipLen = s.pkt[0]! >> 4 === 4 ? 20 : 40;
        const gso = rand() < 0.9 ? 500 + Math.floor(rand() * 1500) : Math.floor(rand() * 3000);
        writeVnetHdr(stage, hdrOff, s.flags, s.type, 0, gso, ipLen, s.type === 0 && s.pkt[6] === 17 ? 6 : 16);
        len = mutate(rand, stage.subarray(pktOff), s.pkt.length);
        if (rand() < 0.2) stage[hdrOff + Math.floor(rand() * 10)] = (rand() * 256) | 0; // the virtio header itself
      }
      // A caller that sometimes passes nonsense offsets and lengths.
      const badCall = rand() < 0.02;
      const ok = tso.load(stage, hdrOff, badCall ? stage.length - 3 : pktOff, badCall ? 10 : len);
      let hog = -1;
      if (rand() < 0.2) hog = ring.acquire();
      while (ok && tso.pending) {
        if (rand() < 0.02) {
          tso.discard();
          break;
        }
        const at = Math.floor(rand() * 4);
        const n = tso.emit(out, at, 1 + Math.floor(rand() * 32));
        for (let k = 0; k < n; k++) {
          const s = out[at + k]!;
          expect(ring.offset[s]! >= ring.baseOf(s)).toBe(true);
          expect(ring.tailroomOf(s)).toBeGreaterThanOrEqual(ring.tailroom);
          ring.release(s); // throws if the slot was not owned: a double hand-out
        }
        emitted += n;
        if (n === 0 && hog >= 0) {
          ring.release(hog);
          hog = -1;
        }
      }
      if (hog >= 0) ring.release(hog);
      expect(ring.free).toBe(24);
    }
    expect(emitted).toBeGreaterThan(ITERATIONS);
    expect(tso.stats.superPackets).toBeGreaterThan(1000);
  });

  for (const verifyChecksums of [true, false]) {
    it(`GroCoalescer (verify ${verifyChecksums ? 'on' : 'off'}): ${ITERATIONS / 4} mutated batches, every packet written once, merges re-segment exactly`, () => {
      const rand = seededRandom(SEED + (verifyChecksums ? 1 : 2));
      const ring = new PacketRing({ slots: 64, capacity: 2000 });
      const gro = new GroCoalescer(ring, { verifyChecksums, maxBatch: 64, maxSegments: 16 });
      const tsoRing = new PacketRing({ slots: 128 });
      const tso = new TsoSegmenter(tsoRing);
      const slots = new Int32Array(64);
      const segOut = new Int32Array(128);
      const specs: TcpSpec[] = [
        { options: TIMESTAMPS, payload: payloadOf(12_000), srcPort: 1 },
        { version: 6, payload: payloadOf(9000), srcPort: 2 },
        { payload: payloadOf(6000), srcPort: 3, flags: ACK | PSH },
      ];
      const flows = specs.map((s) => segmentsOf(s, 1000 + Math.floor(rand() * 400)));
      let merged = 0;
      for (let it = 0; it < ITERATIONS / 4; it++) {
        const count = 1 + Math.floor(rand() * 40);
        const cursors = flows.map(() => 0);
        const originals: Uint8Array[] = [];
        for (let i = 0; i < count; i++) {
          const f = Math.floor(rand() * flows.length);
          const flow = flows[f]!;
          let p = flow[cursors[f]!++ % flow.length]!;
          if (rand() < 0.1) p = udpPacket(4, payloadOf(50));
          const s = ring.acquire();
          const off = ring.offset[s]!;
          ring.bytes.set(p, off);
          const len = rand() < 0.15 ? mutate(rand, ring.bytes.subarray(off, off + p.length), p.length) : p.length;
          ring.length[s] = len;
          if (rand() < 0.01) ring.offset[s] = ring.baseOf(s) + Math.floor(rand() * 12); // too little headroom
          slots[i] = s;
          originals.push(ring.bytes.slice(ring.offset[s]!, ring.offset[s]! + len));
        }
        const writes = gro.plan(slots, count);
        const seen = new Set<number>();
        let iov = 0;
        for (let w = 0; w < writes; w++) {
          const parts: Uint8Array[] = [];
          const members: number[] = [];
          for (let k = 0; k < gro.writeIovs[w]!; k++, iov++) {
            const s = gro.iovSlots[iov]!;
            const o = gro.iovOffsets[iov]!;
            const l = gro.iovLengths[iov]!;
            if (seen.has(s)) expect.fail(`slot ${s} in two iovecs`);
            seen.add(s);
            if (o < ring.baseOf(s) || o + l > ring.baseOf(s) + ring.slotSize) expect.fail(`iovec ${o}+${l} outside slot ${s}`);
            parts.push(ring.bytes.slice(o, o + l));
            members.push(Array.prototype.indexOf.call(slots, s) as number);
          }
          if (members.length < 2) continue;
          merged += members.length - 1;
          const src = Buffer.concat(parts);
          expect(tso.load(src, 0, 10, src.length - 10)).toBe(true);
          const n = tso.emit(segOut, 0, 128);
          expect(n).toBe(members.length);
          for (let k = 0; k < n; k++) {
            const got = tsoRing.packetOf(segOut[k]!).slice();
            const want = originals[members[k]!]!.slice();
            if (!verifyChecksums) {
              // Unverified input may carry wrong checksums; re-segmenting computes right ones.
              const ip = got[0]! >> 4 === 4 ? 20 : 40;
              for (const a of [got, want]) {
                if (ip === 20) a[10] = a[11] = 0;
                a[ip + 16] = a[ip + 17] = 0;
              }
            }
            // Compare in bulk; show the bytes only on a mismatch.
            if (!Buffer.from(got).equals(Buffer.from(want))) expect(Array.from(got)).toEqual(Array.from(want));
            tsoRing.release(segOut[k]!);
          }
        }
        expect(seen.size).toBe(count - countNoHeadroom(ring, slots, count));
        for (let i = 0; i < count; i++) ring.release(slots[i]!);
        expect(ring.free).toBe(64);
        expect(tsoRing.free).toBe(128);
      }
      expect(merged).toBeGreaterThan(1000);
    });
  }
});

function countNoHeadroom(ring: PacketRing, slots: Int32Array, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (ring.headroomOf(slots[i]!) < 10) n++;
  return n;
}
