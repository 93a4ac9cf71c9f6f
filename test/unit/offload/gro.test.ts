import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { isWeftError } from '../../../src/errors.ts';
import { onesSum } from '../../../src/offload/checksum.ts';
import { GroCoalescer } from '../../../src/offload/gro.ts';
import { TsoSegmenter } from '../../../src/offload/tso.ts';
import { internetChecksum, writeIpv4HeaderChecksum } from '../../../src/wire/ip.ts';
import { udpPacket as udpV4 } from '../../helpers/packets.ts';
import {
  ACK,
  CWR,
  ECE,
  FIN,
  PSH,
  RST,
  SYN,
  URG,
  type TcpSpec,
  payloadOf,
  segmentsOf,
  tcpPacket,
  trueTcpChecksum,
} from '../../helpers/tcp-packets.ts';

const TIMESTAMPS = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];

interface Write {
  /** The 10-byte virtio header. */
  hdr: number[];
  /** Everything after the header, all iovecs concatenated. */
  body: Uint8Array;
  slots: number[];
}

function setup(options: { verifyChecksums?: boolean; maxSegments?: number; slots?: number; capacity?: number } = {}) {
  const ring = new PacketRing({ slots: options.slots ?? 128, capacity: options.capacity ?? 1920 });
  const gro = new GroCoalescer(ring, {
    verifyChecksums: options.verifyChecksums ?? true,
    maxBatch: 128,
    ...(options.maxSegments === undefined ? {} : { maxSegments: options.maxSegments }),
  });
  return { ring, gro };
}

/** Put packets into slots, plan, and read back each write as the kernel would receive it. */
function run(ring: PacketRing, gro: GroCoalescer, pkts: Uint8Array[]): Write[] {
  const slots = new Int32Array(pkts.length);
  pkts.forEach((p, i) => {
    const s = ring.acquire();
    ring.bytes.set(p, ring.offset[s]!);
    ring.length[s] = p.length;
    slots[i] = s;
  });
  const n = gro.plan(slots, pkts.length);
  const writes: Write[] = [];
  let iov = 0;
  for (let w = 0; w < n; w++) {
    expect(gro.writePackets[w]).toBe(gro.writeIovs[w]);
    const parts: number[] = [];
    const ws: number[] = [];
    for (let k = 0; k < gro.writeIovs[w]!; k++, iov++) {
      const off = gro.iovOffsets[iov]!;
      const len = gro.iovLengths[iov]!;
      parts.push(...ring.bytes.subarray(off, off + len));
      ws.push(gro.iovSlots[iov]!);
    }
    writes.push({ hdr: parts.slice(0, 10), body: Uint8Array.from(parts.slice(10)), slots: ws });
  }
  expect(iov).toBe(gro.iovCount);
  // Every packet is in exactly one write; the slots stay the caller's.
  expect(writes.flatMap((w) => w.slots).sort((a, b) => a - b)).toEqual(Array.from(slots).sort((a, b) => a - b));
  for (const s of slots) ring.release(s);
  expect(ring.free).toBe(ring.slotCount);
  return writes;
}

const ZERO_HDR = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const arr = (p: Uint8Array) => Array.from(p);

/** Re-segment a write's body with the TSO code, as the kernel would. */
function resegment(w: Write): Uint8Array[] {
  const ring = new PacketRing({ slots: 80 });
  const tso = new TsoSegmenter(ring);
  const src = Uint8Array.from([...w.hdr, ...w.body]);
  expect(tso.load(src, 0, 10, w.body.length)).toBe(true);
  const out = new Int32Array(80);
  const n = tso.emit(out, 0, 80);
  expect(tso.pending).toBe(false);
  return Array.from(out.subarray(0, n), (s) => ring.packetOf(s).slice());
}

describe('GroCoalescer: merging a flow', () => {
  for (const version of [4, 6] as const) {
    for (const [what, len, flags] of [
      ['full segments', 6 * 1448, ACK],
      ['a short last segment with PSH', 6 * 1448 + 333, ACK | PSH],
    ] as const) {
      it(`IPv${version}, ${what}: one write that is the super-packet, CHECKSUM_PARTIAL, and re-segments to the originals`, () => {
        const { ring, gro } = setup();
        const spec: TcpSpec = { version, seq: 0xfffff000, id: 0xfffd, options: TIMESTAMPS, payload: payloadOf(len, 1), flags };
        const segs = segmentsOf(spec, 1448);
        const writes = run(ring, gro, segs);
        expect(writes).toHaveLength(1);
        const w = writes[0]!;
        const ipLen = version === 4 ? 20 : 40;
        // NEEDS_CSUM; TCPV4/TCPV6; hdr_len; gso_size; csum_start; csum_offset 16 (little-endian).
        expect(w.hdr).toEqual([1, version === 4 ? 1 : 4, ipLen + 32, 0, 1448 & 0xff, 1448 >> 8, ipLen, 0, 16, 0]);
        // The body is the super-packet: the head's headers with the whole length, PSH if the last had it,
        // and the partial (pseudo-header) checksum.
        expect(arr(w.body)).toEqual(arr(tcpPacket({ ...spec, tcpChecksum: 'partial' })));
        if (version === 4) expect(internetChecksum(w.body, 0, 20)).toBe(0);
        // What the kernel will do: sum from csum_start to the end, field included, and complement.
        expect(~onesSum(w.body, ipLen, w.body.length - ipLen, 0) & 0xffff).toBe(trueTcpChecksum(w.body));
        expect(resegment(w).map(arr)).toEqual(segs.map(arr));
        expect(gro.stats).toEqual({ packets: segs.length, writes: 1, merged: segs.length - 1, checksumFailed: 0, noHeadroom: 0 });
      });
    }
  }

  it('writes the virtio header in front of the first slot and one payload iovec per follower', () => {
    const { ring, gro } = setup();
    const segs = segmentsOf({ payload: payloadOf(3 * 1000) }, 1000);
    const slots = new Int32Array(3);
    segs.forEach((p, i) => {
      const s = ring.acquire();
      ring.bytes.set(p, ring.offset[s]!);
      ring.length[s] = p.length;
      slots[i] = s;
    });
    expect(gro.plan(slots, 3)).toBe(1);
    expect(Array.from(gro.iovOffsets.subarray(0, 3))).toEqual([ring.offset[slots[0]!]! - 10, ring.offset[slots[1]!]! + 40, ring.offset[slots[2]!]! + 40]);
    expect(Array.from(gro.iovLengths.subarray(0, 3))).toEqual([10 + 1040, 1000, 1000]);
    expect(Array.from(gro.iovSlots.subarray(0, 3))).toEqual(Array.from(slots));
    expect([gro.writeIovs[0], gro.writePackets[0], gro.iovCount]).toEqual([3, 3, 3]);
  });

  it('merges interleaved flows per flow, in order', () => {
    const { ring, gro } = setup();
    const a = segmentsOf({ srcPort: 1, payload: payloadOf(3000, 1) }, 1000);
    const b = segmentsOf({ srcPort: 2, payload: payloadOf(2000, 2) }, 1000);
    const c = segmentsOf({ version: 6, srcPort: 1, payload: payloadOf(2000, 3) }, 1000);
    const writes = run(ring, gro, [a[0]!, b[0]!, c[0]!, a[1]!, b[1]!, c[1]!, a[2]!]);
    expect(writes.map((w) => resegment(w).map(arr))).toEqual([a.map(arr), b.map(arr), c.map(arr)]);
  });

  it('keeps order within a flow: a packet that cannot merge ends its flow\'s group', () => {
    const { ring, gro } = setup();
    const segs = segmentsOf({ payload: payloadOf(4000), flags: ACK }, 1000);
    // The third segment carries URG: written alone, and the fourth must not join the first two.
    const urg = tcpPacket({ seq: 3000, id: 0x1236, flags: ACK | URG, payload: payloadOf(4000).subarray(2000, 3000) });
    const writes = run(ring, gro, [segs[0]!, segs[1]!, urg, segs[3]!]);
    expect(writes.map((w) => w.hdr[1])).toEqual([1, 0, 0]);
    expect(arr(writes[1]!.body)).toEqual(arr(urg));
    expect(arr(writes[2]!.body)).toEqual(arr(segs[3]!));
  });

  it('still writes every packet once, in per-flow order, with more flows than it tracks', () => {
    const { ring, gro } = setup();
    const flows = Array.from({ length: 12 }, (_, f) => segmentsOf({ srcPort: 100 + f, payload: payloadOf(3000, f) }, 1000));
    const pkts: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) for (const f of flows) pkts.push(f[i]!);
    const writes = run(ring, gro, pkts);
    for (let f = 0; f < 12; f++) {
      const mine = writes.filter((w) => w.body[21] === 100 + f).flatMap((w) => (w.hdr[1] === 0 ? [w.body] : resegment(w)));
      expect(mine.map(arr)).toEqual(flows[f]!.map(arr));
    }
    // The first eight flows merge; the other four find the table full and go packet by packet.
    expect(writes.length).toBe(8 + 4 * 3);
  });

  it('writes non-TCP packets alone with a zero header, untouched', () => {
    const { ring, gro } = setup();
    const udp = udpV4('10.244.1.2', '10.244.2.3', payloadOf(100));
    const junk = Uint8Array.from([0x99, 1, 2]);
    const segs = segmentsOf({ payload: payloadOf(2000) }, 1000);
    const writes = run(ring, gro, [segs[0]!, udp, junk, segs[1]!]);
    expect(writes.map((w) => w.hdr)).toEqual([[1, 1, 40, 0, 0xe8, 3, 20, 0, 16, 0], ZERO_HDR, ZERO_HDR]);
    expect(arr(writes[1]!.body)).toEqual(arr(udp));
    expect(arr(writes[2]!.body)).toEqual(arr(junk));
  });
});

describe('GroCoalescer: what must not merge', () => {
  const base: TcpSpec = { options: TIMESTAMPS, payload: payloadOf(3000) };
  const seg = (i: number, over: TcpSpec = {}, spec: TcpSpec = base) => {
    const s = segmentsOf(spec, 1000)[i]!;
    return Object.keys(over).length === 0 ? s : tcpPacket({ ...spec, seq: 1000 + i * 1000, id: 0x1234 + i, payload: payloadOf(3000).subarray(i * 1000, i * 1000 + 1000), ...over });
  };
  const v6 = { ...base, version: 6 } as const;
  const cases: Array<[string, () => Uint8Array[]]> = [
    ['a different source port', () => [seg(0), seg(1, { srcPort: 9 })]],
    ['a different destination address', () => [seg(0), seg(1, { dst: '10.244.2.4' })]],
    ['a gap in the sequence', () => [seg(0), seg(1, { seq: 2001 })]],
    ['different TCP options', () => [seg(0), seg(1, { options: [1, 1, 8, 10, 0, 0, 0x12, 0x35, 0, 0, 0x56, 0x78] })]],
    ['a different TCP header length', () => [seg(0), seg(1, { options: [...TIMESTAMPS, 1, 1, 1, 1] })]],
    ['a different ACK number', () => [seg(0), seg(1, { ack: 7778 })]],
    ['a different window', () => [seg(0), seg(1, { window: 503 })]],
    ['an IPv4 id not one past the previous', () => [seg(0), seg(1, { id: 0x1234 })]],
    ['a different TOS', () => [seg(0), seg(1, { tos: 2 })]],
    ['a different TTL', () => [seg(0), seg(1, { ttl: 63 })]],
    ['a different DF', () => [seg(0), seg(1, { df: false })]],
    ['IPv4 options', () => [seg(0, { ipOptions: [1, 1, 1, 0] }), seg(1, { ipOptions: [1, 1, 1, 0] })]],
    ['a different IPv6 flow label', () => [seg(0, {}, v6), seg(1, { flowLabel: 5 }, v6)]],
    ['a different IPv6 traffic class', () => [seg(0, {}, v6), seg(1, { trafficClass: 4 }, v6)]],
    ['a different IPv6 hop limit', () => [seg(0, {}, v6), seg(1, { hopLimit: 3 }, v6)]],
    ['IPv4 then IPv6', () => [seg(0), seg(1, {}, v6)]],
    ['a follower with FIN', () => [seg(0), seg(1, { flags: ACK | FIN })]],
    ['a follower with SYN', () => [seg(0), seg(1, { flags: ACK | SYN })]],
    ['a follower with RST', () => [seg(0), seg(1, { flags: ACK | RST })]],
    ['a follower with URG', () => [seg(0), seg(1, { flags: ACK | URG })]],
    ['a follower with CWR', () => [seg(0), seg(1, { flags: ACK | CWR })]],
    ['a follower with ECE', () => [seg(0), seg(1, { flags: ACK | ECE })]],
    ['a follower without ACK', () => [seg(0), seg(1, { flags: PSH })]],
    ['a head with ECE', () => [seg(0, { flags: ACK | ECE }), seg(1, { flags: ACK | ECE })]],
    ['a head with PSH', () => [seg(0, { flags: ACK | PSH }), seg(1)]],
    ['a follower without payload', () => [seg(0), seg(1, { payload: [] })]],
    ['a follower longer than the head', () => [seg(0, { payload: payloadOf(500) }), seg(1, { seq: 1500, payload: payloadOf(1000) })]],
    ['a packet with trailing bytes', () => [seg(0), Uint8Array.from([...seg(1), 0, 0])]],
    ['a different IPv4 reserved flag bit', () => {
      const p = seg(1);
      p[6]! |= 0x80;
      writeIpv4HeaderChecksum(p, 0);
      return [seg(0), p];
    }],
    ['a different urgent pointer (URG clear)', () => {
      const p = seg(1);
      p[20 + 19] = 1;
      const c = trueTcpChecksum(p);
      p[20 + 16] = c >> 8;
      p[20 + 17] = c & 0xff;
      return [seg(0), p];
    }],
    ['a bad TCP checksum (verify on)', () => [seg(0), seg(1, { tcpChecksum: 0x1111 })]],
    ['a bad IPv4 header checksum (verify on)', () => {
      const p = seg(1);
      p[10]! ^= 0x40;
      return [seg(0), p];
    }],
  ];
  for (const [what, make] of cases) {
    it(`${what}: written separately, each unchanged`, () => {
      const { ring, gro } = setup();
      const pkts = make();
      const writes = run(ring, gro, pkts);
      expect(writes.map((w) => w.hdr)).toEqual(pkts.map(() => ZERO_HDR));
      expect(writes.map((w) => arr(w.body))).toEqual(pkts.map(arr));
      expect(gro.stats.merged).toBe(0);
    });
  }

  it('counts bad checksums, and merges them when verification is off', () => {
    const bad = seg(1, { tcpChecksum: 0x1111 });
    let { ring, gro } = setup();
    run(ring, gro, [seg(0), bad, seg(2)]);
    expect(gro.stats.checksumFailed).toBe(1);
    ({ ring, gro } = setup({ verifyChecksums: false }));
    const writes = run(ring, gro, [seg(0), bad, seg(2)]);
    expect(writes).toHaveLength(1);
    expect(gro.stats).toEqual({ packets: 3, writes: 1, merged: 2, checksumFailed: 0, noHeadroom: 0 });
  });

  it('a short middle segment ends the group: only the last may be short', () => {
    const { ring, gro } = setup();
    const short = tcpPacket({ ...base, seq: 2000, id: 0x1235, payload: payloadOf(500) });
    const after = tcpPacket({ ...base, seq: 2500, id: 0x1236, payload: payloadOf(1000) });
    const writes = run(ring, gro, [seg(0), short, after]);
    expect(writes.map((w) => w.slots.length)).toEqual([2, 1]);
    expect(arr(writes[1]!.body)).toEqual(arr(after));
  });

  it('a follower with PSH closes the group and puts PSH on the head', () => {
    const { ring, gro } = setup();
    const pushed = seg(1, { flags: ACK | PSH });
    const writes = run(ring, gro, [seg(0), pushed, seg(2)]);
    expect(writes.map((w) => w.slots.length)).toEqual([2, 1]);
    expect(writes[0]!.body[20 + 13]).toBe(ACK | PSH);
    expect(resegment(writes[0]!).map(arr)).toEqual([arr(seg(0)), arr(pushed)]);
  });

  it('stops at maxSegments', () => {
    const { ring, gro } = setup({ maxSegments: 4 });
    const segs = segmentsOf({ payload: payloadOf(6000) }, 1000);
    const writes = run(ring, gro, segs);
    expect(writes.map((w) => w.slots.length)).toEqual([4, 2]);
    expect(writes.flatMap(resegment).map(arr)).toEqual(segs.map(arr));
  });

  it('stops before the IPv4 total length would pass 65535', () => {
    const { ring, gro } = setup();
    // 52 + 45 * 1448 = 65212 fits; a 46th segment would make 66660.
    const segs = segmentsOf({ options: TIMESTAMPS, payload: payloadOf(50 * 1448) }, 1448);
    const writes = run(ring, gro, segs);
    expect(writes.map((w) => w.slots.length)).toEqual([45, 5]);
    expect(writes[0]!.body.length).toBe(65212);
    expect(writes.flatMap(resegment).map(arr)).toEqual(segs.map(arr));
  });

  it('stops before the IPv6 payload length would pass 65535', () => {
    const { ring, gro } = setup();
    // Payload length 32 + 45 * 1428 = 64292; a 46th would make 65720.
    const segs = segmentsOf({ version: 6, options: TIMESTAMPS, payload: payloadOf(47 * 1428) }, 1428);
    const writes = run(ring, gro, segs);
    expect(writes.map((w) => w.slots.length)).toEqual([45, 2]);
    expect(writes.flatMap(resegment).map(arr)).toEqual(segs.map(arr));
  });
});

describe('GroCoalescer: the caller\'s side', () => {
  it('leaves out a packet with no room for the header, and counts it', () => {
    const { ring, gro } = setup();
    const s = ring.acquire();
    ring.offset[s] = ring.baseOf(s) + 9;
    ring.length[s] = 40;
    expect(gro.plan(Int32Array.of(s), 1)).toBe(0);
    expect(gro.stats.noHeadroom).toBe(1);
    ring.release(s);
  });

  it('throws on more packets than maxBatch: a programming error, not input', () => {
    const ring = new PacketRing({ slots: 8 });
    const gro = new GroCoalescer(ring, { verifyChecksums: true, maxBatch: 4 });
    let err: unknown;
    try {
      gro.plan(new Int32Array(5), 5);
    } catch (e) {
      err = e;
    }
    expect(isWeftError(err, 'RING_MISUSE')).toBe(true);
    expect(gro.plan(new Int32Array(0), 0)).toBe(0);
  });
});
