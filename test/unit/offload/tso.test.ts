import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { TsoSegmenter } from '../../../src/offload/tso.ts';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  writeVnetHdr,
} from '../../../src/offload/virtio-net-hdr.ts';
import { internetChecksum } from '../../../src/wire/ip.ts';
import {
  ACK,
  CWR,
  ECE,
  FIN,
  PSH,
  type TcpSpec,
  partialChecksum,
  payloadOf,
  segmentsOf,
  tcpChecksumVerifies,
  tcpPacket,
  trueL4Checksum,
  udpPacket,
} from '../../helpers/tcp-packets.ts';

const TIMESTAMPS = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];

/** Stage a packet as a vnet-header TUN read would: header at hdrOff, packet right after it. */
function stage(pkt: Uint8Array, hdr: [number, number, number, number, number, number], hdrOff = 0): { src: Uint8Array; hdrOff: number; pktOff: number } {
  const src = new Uint8Array(hdrOff + 10 + pkt.length + 5).fill(0xcc);
  writeVnetHdr(src, hdrOff, ...hdr);
  src.set(pkt, hdrOff + 10);
  return { src, hdrOff, pktOff: hdrOff + 10 };
}

/** A TSO super-packet as Linux hands it over: checksum field partial, NEEDS_CSUM, gso fields set. */
function tsoInput(spec: TcpSpec, gso: number, hdrOff = 0, ecn = false) {
  const pkt = tcpPacket({ ...spec, tcpChecksum: 'partial' });
  const ipLen = spec.version === 6 ? 40 : 20;
  const tcpLen = 20 + (spec.options?.length ?? 0);
  const type = (spec.version === 6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4) | (ecn ? VIRTIO_NET_HDR_GSO_ECN : 0);
  return { pkt, ...stage(pkt, [VIRTIO_NET_HDR_F_NEEDS_CSUM, type, ipLen + tcpLen, gso, ipLen, 16], hdrOff) };
}

/** Emit everything, copying each output packet out and releasing its slot. */
function drain(tso: TsoSegmenter, ring: PacketRing, perCall = 64): Uint8Array[] {
  const out = new Int32Array(perCall);
  const got: Uint8Array[] = [];
  while (tso.pending) {
    const n = tso.emit(out, 0, perCall);
    if (n === 0) throw new Error('no progress');
    for (let i = 0; i < n; i++) {
      const s = out[i]!;
      // The packet may start up to 3 bytes early (payload alignment), never more.
      expect(ring.headroomOf(s)).toBeGreaterThanOrEqual(ring.headroom - 3);
      expect(ring.tailroomOf(s)).toBeGreaterThanOrEqual(ring.tailroom);
      got.push(ring.packetOf(s).slice());
      ring.release(s);
    }
  }
  return got;
}

function ipv4HeaderOk(p: Uint8Array): boolean {
  return internetChecksum(p, 0, (p[0]! & 15) * 4) === 0;
}

describe('TsoSegmenter: TCP segmentation', () => {
  for (const version of [4, 6] as const) {
    for (const [what, len] of [
      ['an exact multiple of gso_size', 5 * 1448],
      ['not a multiple of gso_size', 5 * 1448 + 100],
      ['shorter than gso_size', 700],
    ] as const) {
      it(`IPv${version}, payload ${what}: exactly the segments built by hand`, () => {
        const ring = new PacketRing({ slots: 16 });
        const tso = new TsoSegmenter(ring);
        const spec: TcpSpec = { version, seq: 123456, id: 777, options: TIMESTAMPS, payload: payloadOf(len), flags: ACK | PSH };
        const { src, hdrOff, pktOff, pkt } = tsoInput(spec, 1448);
        expect(tso.load(src, hdrOff, pktOff, pkt.length)).toBe(true);
        const got = drain(tso, ring);
        const want = segmentsOf(spec, 1448);
        expect(got.length).toBe(Math.ceil(len / 1448));
        expect(got.map((p) => Array.from(p))).toEqual(want.map((p) => Array.from(p)));
        for (const p of got) {
          expect(tcpChecksumVerifies(p)).toBe(true);
          if (version === 4) expect(ipv4HeaderOk(p)).toBe(true);
        }
        expect(tso.stats).toEqual({ packets: 1, superPackets: 1, segments: got.length, abandoned: 0 });
        expect(ring.free).toBe(16);
      });
    }
  }

  it('keeps CWR on the first segment only, FIN and PSH on the last only (ECN gso type)', () => {
    for (const version of [4, 6] as const) {
      const ring = new PacketRing({ slots: 8 });
      const tso = new TsoSegmenter(ring);
      const spec: TcpSpec = { version, flags: CWR | ECE | ACK | PSH | FIN, payload: payloadOf(3000) };
      const { src, hdrOff, pktOff, pkt } = tsoInput(spec, 1000, 0, true);
      expect(tso.load(src, hdrOff, pktOff, pkt.length)).toBe(true);
      const got = drain(tso, ring);
      const at = version === 4 ? 33 : 53;
      expect(got.map((p) => p[at])).toEqual([CWR | ECE | ACK, ECE | ACK, ECE | ACK | PSH | FIN]);
      expect(got.map((p) => Array.from(p))).toEqual(segmentsOf(spec, 1000).map((p) => Array.from(p)));
    }
  });

  it('wraps the sequence number past 2^32 and the IPv4 id past 65535', () => {
    const ring = new PacketRing({ slots: 8 });
    const tso = new TsoSegmenter(ring);
    const spec: TcpSpec = { seq: 0xffffffff - 1500, id: 0xfffe, payload: payloadOf(4 * 1000) };
    const { src, hdrOff, pktOff, pkt } = tsoInput(spec, 1000);
    tso.load(src, hdrOff, pktOff, pkt.length);
    const got = drain(tso, ring);
    const dv = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset);
    expect(got.map((p) => dv(p).getUint32(24))).toEqual([0xffffffff - 1500, 0xffffffff - 500, 499, 1499]);
    expect(got.map((p) => dv(p).getUint16(4))).toEqual([0xfffe, 0xffff, 0, 1]);
    expect(got.map((p) => Array.from(p))).toEqual(segmentsOf(spec, 1000).map((p) => Array.from(p)));
  });

  it('ignores the super-packet checksum field and hdr_len hint: the result is the same with garbage in them', () => {
    const ring = new PacketRing({ slots: 8 });
    const tso = new TsoSegmenter(ring);
    const spec: TcpSpec = { version: 6, payload: payloadOf(2500) };
    const pkt = tcpPacket({ ...spec, tcpChecksum: 0xbeef });
    const { src, hdrOff, pktOff } = stage(pkt, [0, VIRTIO_NET_HDR_GSO_TCPV6, 7, 1200, 0, 0]);
    tso.load(src, hdrOff, pktOff, pkt.length);
    expect(drain(tso, ring).map((p) => Array.from(p))).toEqual(segmentsOf(spec, 1200).map((p) => Array.from(p)));
  });

  it('emits a super-packet without payload as one bare segment', () => {
    const ring = new PacketRing({ slots: 4 });
    const tso = new TsoSegmenter(ring);
    const spec: TcpSpec = { flags: ACK | FIN };
    const { src, hdrOff, pktOff, pkt } = tsoInput(spec, 1448);
    expect(tso.load(src, hdrOff, pktOff, pkt.length)).toBe(true);
    expect(drain(tso, ring).map((p) => Array.from(p))).toEqual([Array.from(tcpPacket(spec))]);
  });

  it('gives the same bytes at every staging alignment, with an odd gso_size', () => {
    const spec: TcpSpec = { options: TIMESTAMPS, payload: payloadOf(6000, 3) };
    const want = segmentsOf(spec, 1397).map((p) => Array.from(p));
    for (let hdrOff = 0; hdrOff < 8; hdrOff++) {
      const ring = new PacketRing({ slots: 8 });
      const tso = new TsoSegmenter(ring);
      const { src, pktOff, pkt } = tsoInput(spec, 1397, hdrOff);
      tso.load(src, hdrOff, pktOff, pkt.length);
      expect(drain(tso, ring).map((p) => Array.from(p))).toEqual(want);
    }
  });
});

describe('TsoSegmenter: packets without GSO', () => {
  it('copies a packet unchanged when no checksum is asked for', () => {
    const ring = new PacketRing({ slots: 2 });
    const tso = new TsoSegmenter(ring);
    const pkt = udpPacket(4, payloadOf(300), 0x1234);
    const { src, hdrOff, pktOff } = stage(pkt, [0, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 0, 0], 3);
    expect(tso.load(src, hdrOff, pktOff, pkt.length)).toBe(true);
    expect(drain(tso, ring).map((p) => Array.from(p))).toEqual([Array.from(pkt)]);
    expect(tso.stats).toEqual({ packets: 1, superPackets: 0, segments: 1, abandoned: 0 });
  });

  it('completes a partial TCP checksum (NEEDS_CSUM), IPv4 and IPv6', () => {
    for (const version of [4, 6] as const) {
      const ring = new PacketRing({ slots: 2 });
      const tso = new TsoSegmenter(ring);
      const spec: TcpSpec = { version, options: TIMESTAMPS, payload: payloadOf(1001) };
      const partial = tcpPacket({ ...spec, tcpChecksum: 'partial' });
      const ipLen = version === 4 ? 20 : 40;
      const { src, hdrOff, pktOff } = stage(partial, [VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, ipLen, 16], 1);
      tso.load(src, hdrOff, pktOff, partial.length);
      expect(drain(tso, ring).map((p) => Array.from(p))).toEqual([Array.from(tcpPacket(spec))]);
    }
  });

  /** Set two payload bytes so that the true checksum computes to 0 (the sum to 0xffff). */
  function zeroChecksum(pkt: Uint8Array, protocol: number, field: number): void {
    const at = pkt.length - 2;
    pkt[at] = 0;
    pkt[at + 1] = 0;
    const sum = ~trueL4Checksum(pkt, protocol, field) & 0xffff;
    const fix = 0xffff - sum;
    pkt[at] = fix >> 8;
    pkt[at + 1] = fix & 0xff;
    expect(trueL4Checksum(pkt, protocol, field)).toBe(0);
  }

  it('sends a UDP checksum that computes to 0 as 0xffff (RFC 768), a TCP one as 0', () => {
    for (const version of [4, 6] as const) {
      const ipLen = version === 4 ? 20 : 40;
      const udp = udpPacket(version, payloadOf(200, version));
      zeroChecksum(udp, 17, 6);
      udp[ipLen + 6] = partialChecksum(udp, 17, udp.length - ipLen) >> 8;
      udp[ipLen + 7] = partialChecksum(udp, 17, udp.length - ipLen) & 0xff;
      const tcp = tcpPacket({ version, payload: payloadOf(200, version) });
      zeroChecksum(tcp, 6, 16);
      const p = partialChecksum(tcp, 6, tcp.length - ipLen);
      tcp[ipLen + 16] = p >> 8;
      tcp[ipLen + 17] = p & 0xff;

      const ring = new PacketRing({ slots: 2 });
      const tso = new TsoSegmenter(ring);
      let st = stage(udp, [VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, ipLen, 6]);
      tso.load(st.src, st.hdrOff, st.pktOff, udp.length);
      const [u] = drain(tso, ring);
      expect([u![ipLen + 6], u![ipLen + 7]]).toEqual([0xff, 0xff]);
      st = stage(tcp, [VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, ipLen, 16]);
      tso.load(st.src, st.hdrOff, st.pktOff, tcp.length);
      const [t] = drain(tso, ring);
      expect([t![ipLen + 16], t![ipLen + 17]]).toEqual([0, 0]);
      expect(tcpChecksumVerifies(t!)).toBe(true);
    }
  });
});

describe('TsoSegmenter: drops', () => {
  type Staged = { src: Uint8Array; hdrOff: number; pktOff: number; len: number };
  type Case = [reason: string, what: string, make: () => Staged];
  const v4 = (spec: TcpSpec = {}) => tcpPacket({ payload: payloadOf(3000), ...spec });
  const small = () => tcpPacket({ payload: payloadOf(500) }); // 540 bytes
  const gso4 = (pkt: Uint8Array, gso = 1000, type = VIRTIO_NET_HDR_GSO_TCPV4) => ({ ...stage(pkt, [1, type, 40, gso, 20, 16]), len: pkt.length });
  const plain = (pkt: Uint8Array, flags: number, start: number, offset: number) => ({ ...stage(pkt, [flags, 0, 0, 0, start, offset]), len: pkt.length });
  const mutate = (pkt: Uint8Array, at: number, value: number) => {
    pkt[at] = value;
    return pkt;
  };
  const cases: Case[] = [
    ['short', 'an empty packet', () => ({ ...stage(v4(), [0, 1, 40, 1000, 20, 16]), len: 0 })],
    ['short', 'a packet past the end of the staging buffer', () => ({ ...stage(v4(), [0, 1, 40, 1000, 20, 16]), len: 4000 })],
    ['short', 'a header past the end of the staging buffer', () => ({ src: new Uint8Array(8), hdrOff: 0, pktOff: 0, len: 4 })],
    ['bad_csum_offset', 'NEEDS_CSUM, csum_start + csum_offset + 2 one past the end', () => plain(small(), 1, 540 - 17, 16)],
    ['bad_csum_offset', 'NEEDS_CSUM, csum_offset alone past the end', () => plain(small(), 1, 0, 539)],
    ['gso_unsupported', 'gso UDP (UFO)', () => gso4(v4(), 1000, 3)],
    ['gso_unsupported', 'gso UDP_L4 (USO)', () => gso4(v4(), 1000, 5)],
    ['gso_unsupported', 'gso type 2 (unknown)', () => gso4(v4(), 1000, 2)],
    ['gso_unsupported', 'the ECN bit without a GSO type', () => gso4(v4(), 1000, VIRTIO_NET_HDR_GSO_ECN)],
    ['version_mismatch', 'TCPV4 on an IPv6 packet', () => gso4(v4({ version: 6 }))],
    ['version_mismatch', 'TCPV6 on an IPv4 packet', () => gso4(v4(), 1000, VIRTIO_NET_HDR_GSO_TCPV6)],
    ['not_tcp', 'TCPV4, protocol UDP', () => gso4(mutate(v4(), 9, 17))],
    ['not_tcp', 'TCPV6, next header hop-by-hop', () => gso4(mutate(v4({ version: 6 }), 6, 0), 1000, VIRTIO_NET_HDR_GSO_TCPV6)],
    ['fragment', 'IPv4 MF set', () => gso4(mutate(v4(), 6, 0x20))],
    ['fragment', 'IPv4 fragment offset 1', () => gso4(mutate(v4(), 7, 0x01))],
    ['bad_header_length', 'IPv4 IHL 4', () => gso4(mutate(v4(), 0, 0x44))],
    ['bad_header_length', 'IPv4 IHL 15 past a 59-byte packet', () => ({ ...gso4(mutate(v4(), 0, 0x4f)), len: 59 })],
    ['bad_header_length', 'IPv4, no room for a TCP header', () => ({ ...gso4(v4()), len: 39 })],
    ['bad_header_length', 'IPv4, 19 bytes', () => ({ ...gso4(v4()), len: 19 })],
    ['bad_header_length', 'IPv6, 39 bytes', () => ({ ...gso4(v4({ version: 6 }), 1000, VIRTIO_NET_HDR_GSO_TCPV6), len: 39 })],
    ['bad_header_length', 'TCP data offset 4', () => gso4(mutate(v4(), 32, 0x40))],
    ['bad_header_length', 'TCP data offset 15 past a 70-byte packet', () => ({ ...gso4(mutate(v4(), 32, 0xf0)), len: 70 })],
    ['zero_gso_size', 'gso_size 0', () => gso4(v4(), 0)],
    ['segment_too_big', 'headers + gso_size one past the slot capacity', () => gso4(v4(), 1961)],
    ['segment_too_big', 'a packet without GSO one past the slot capacity', () => plain(tcpPacket({ payload: payloadOf(1961) }), 0, 0, 0)],
  ];
  for (const [reason, what, make] of cases) {
    it(`drops ${reason}: ${what}`, () => {
      const ring = new PacketRing({ slots: 4, capacity: 2000 });
      const tso = new TsoSegmenter(ring);
      const { src, hdrOff, pktOff, len } = make();
      expect(tso.load(src, hdrOff, pktOff, len)).toBe(false);
      expect(tso.pending).toBe(false);
      const drops = Object.entries(tso.drops).filter(([, n]) => n > 0);
      expect(drops).toEqual([[reason, 1]]);
      expect(tso.emit(new Int32Array(4), 0, 4)).toBe(0);
      expect(ring.free).toBe(4);
    });
  }

  it('accepts csum_start + csum_offset + 2 exactly at the end', () => {
    const ring = new PacketRing({ slots: 4, capacity: 2000 });
    const tso = new TsoSegmenter(ring);
    const { src, hdrOff, pktOff, len } = plain(small(), 1, 540 - 18, 16);
    expect(tso.load(src, hdrOff, pktOff, len)).toBe(true);
    expect(drain(tso, ring)).toHaveLength(1);
  });

  it('accepts exactly the largest segment a slot holds', () => {
    const ring = new PacketRing({ slots: 4, capacity: 2000 });
    const tso = new TsoSegmenter(ring);
    const { src, hdrOff, pktOff, len } = gso4(v4(), 1960);
    expect(tso.load(src, hdrOff, pktOff, len)).toBe(true);
    expect(drain(tso, ring).map((p) => p.length)).toEqual([2000, 3040 - 1960]);
  });
});

describe('TsoSegmenter: ring exhaustion and ownership', () => {
  it('resumes where it stopped when the ring runs dry, with the same bytes', () => {
    const spec: TcpSpec = { options: TIMESTAMPS, payload: payloadOf(10 * 1448 + 7) };
    const want = segmentsOf(spec, 1448).map((p) => Array.from(p));
    const ring = new PacketRing({ slots: 8 });
    const hog: number[] = [];
    for (let i = 0; i < 5; i++) hog.push(ring.acquire()); // 3 slots left
    const tso = new TsoSegmenter(ring);
    const { src, hdrOff, pktOff, pkt } = tsoInput(spec, 1448, 2);
    tso.load(src, hdrOff, pktOff, pkt.length);
    const out = new Int32Array(20);
    const got: number[][] = [];
    const take = (n: number, at: number) => {
      for (let i = 0; i < n; i++) {
        got.push(Array.from(ring.packetOf(out[at + i]!)));
        ring.release(out[at + i]!);
      }
    };
    let n = tso.emit(out, 5, 15);
    expect(n).toBe(3);
    expect(tso.pending).toBe(true);
    expect(ring.free).toBe(0);
    expect(tso.emit(out, 0, 20)).toBe(0); // still dry: nothing lost
    take(n, 5);
    n = tso.emit(out, 0, 2); // room for 3, asked for 2
    expect(n).toBe(2);
    take(n, 0);
    n = tso.emit(out, 18, 10); // out has room for 2
    expect(n).toBe(2);
    take(n, 18);
    for (const s of hog) ring.release(s);
    n = tso.emit(out, 0, 20);
    expect(n).toBe(4);
    take(n, 0);
    expect(tso.pending).toBe(false);
    expect(got).toEqual(want);
    expect(ring.free).toBe(8);
  });

  it('discard() abandons the rest without touching slots already handed out', () => {
    const ring = new PacketRing({ slots: 8 });
    const tso = new TsoSegmenter(ring);
    const { src, hdrOff, pktOff, pkt } = tsoInput({ payload: payloadOf(5000) }, 1000);
    tso.load(src, hdrOff, pktOff, pkt.length);
    const out = new Int32Array(8);
    expect(tso.emit(out, 0, 2)).toBe(2);
    expect(ring.free).toBe(6);
    expect(tso.discard()).toBe(3);
    expect(tso.pending).toBe(false);
    expect(ring.free).toBe(6);
    expect(tso.discard()).toBe(0);
    ring.release(out[0]!);
    ring.release(out[1]!);
    expect(ring.free).toBe(8);
    expect(tso.stats.abandoned).toBe(3);
  });

  it('load() while pending abandons the unfinished packet and counts it', () => {
    const ring = new PacketRing({ slots: 8 });
    const tso = new TsoSegmenter(ring);
    const a = tsoInput({ payload: payloadOf(5000) }, 1000);
    const b = tsoInput({ payload: payloadOf(2000), seq: 5 }, 1000);
    tso.load(a.src, a.hdrOff, a.pktOff, a.pkt.length);
    const out = new Int32Array(8);
    expect(tso.emit(out, 0, 1)).toBe(1);
    ring.release(out[0]!);
    tso.load(b.src, b.hdrOff, b.pktOff, b.pkt.length);
    expect(tso.stats.abandoned).toBe(4);
    expect(drain(tso, ring).map((p) => Array.from(p))).toEqual(segmentsOf({ payload: payloadOf(2000), seq: 5 }, 1000).map((p) => Array.from(p)));
    expect(ring.free).toBe(8);
  });
});
