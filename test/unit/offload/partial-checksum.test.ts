/**
 * TCP checksums left partial: the segmenter's `leavePartial`, finishing them
 * (for a peer or a device that takes only whole ones), and the coalescer
 * writing a vouched-for segment with NEEDS_CSUM. Expected bytes come from the
 * independent builders in test/helpers/tcp-packets.ts.
 */
import { describe, expect, it } from 'vitest';
import { CsumState, PacketRing } from '../../../src/buf/packet-ring.ts';
import { GroCoalescer } from '../../../src/offload/gro.ts';
import { finishPartialChecksums, finishTcpChecksum, tcpHeaderStart } from '../../../src/offload/partial-checksum.ts';
import { TsoSegmenter } from '../../../src/offload/tso.ts';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  writeVnetHdr,
} from '../../../src/offload/virtio-net-hdr.ts';
import { FakeTun } from '../../../src/tun/fake-tun.ts';
import { ACK, PSH, type TcpSpec, partialChecksum, payloadOf, segmentsOf, tcpPacket, trueL4Checksum, udpPacket } from '../../helpers/tcp-packets.ts';

const TCP = 6;

/** A super-packet as a TUN read stages it: [vnet header | packet]. */
function staged(version: 4 | 6, payload: Uint8Array, gso: number): { src: Uint8Array; spec: TcpSpec } {
  const spec = { version, payload, flags: ACK | PSH };
  const pkt = tcpPacket({ ...spec, tcpChecksum: 'partial' });
  const ipLen = version === 6 ? 40 : 20;
  const src = new Uint8Array(10 + pkt.length);
  writeVnetHdr(src, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, version === 6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4, ipLen + 20, gso, ipLen, 16);
  src.set(pkt, 10);
  return { src, spec };
}

function segment(tso: TsoSegmenter, src: Uint8Array): Int32Array {
  expect(tso.load(src, 0, 10, src.length - 10)).toBe(true);
  const out = new Int32Array(64);
  const n = tso.emit(out, 0, 64);
  expect(tso.pending).toBe(false);
  return out.subarray(0, n);
}

function put(ring: PacketRing, pkt: Uint8Array, state: number): number {
  const s = ring.acquire();
  ring.bytes.set(pkt, ring.offset[s]!);
  ring.length[s] = pkt.length;
  ring.csum[s] = state;
  return s;
}

describe('TsoSegmenter with leavePartial', () => {
  for (const version of [4, 6] as const) {
    it(`IPv${version}: each segment's field holds its own pseudo-header sum, marked Partial; finished, it is the whole segment byte for byte`, () => {
      const ring = new PacketRing({ slots: 16 });
      const { src, spec } = staged(version, payloadOf(5000, version), 1400);
      const slots = segment(new TsoSegmenter(ring, { leavePartial: true }), src);
      const expected = segmentsOf(spec, 1400);
      expect(slots.length).toBe(expected.length);
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i]!;
        expect(ring.csum[s]).toBe(CsumState.Partial);
        const want = expected[i]!;
        const got = ring.packetOf(s);
        const ipLen = version === 6 ? 40 : 20;
        // Everything but the checksum as a full segmenter writes it; the checksum partial.
        expect(Array.from(got.subarray(0, ipLen + 16))).toEqual(Array.from(want.subarray(0, ipLen + 16)));
        expect(Array.from(got.subarray(ipLen + 18))).toEqual(Array.from(want.subarray(ipLen + 18)));
        expect((got[ipLen + 16]! << 8) | got[ipLen + 17]!).toBe(partialChecksum(want, TCP, want.length - ipLen));
        expect(finishTcpChecksum(ring.bytes, ring.offset[s]!, ring.length[s]!)).toBe(true);
        expect(Array.from(ring.packetOf(s))).toEqual(Array.from(want));
      }
    });
  }

  it('without leavePartial every segment is whole and marked Complete', () => {
    const ring = new PacketRing({ slots: 16 });
    const { src, spec } = staged(4, payloadOf(3000), 1400);
    const slots = segment(new TsoSegmenter(ring), src);
    const expected = segmentsOf(spec, 1400);
    for (let i = 0; i < slots.length; i++) {
      expect(ring.csum[slots[i]!]).toBe(CsumState.Complete);
      expect(Array.from(ring.packetOf(slots[i]!))).toEqual(Array.from(expected[i]!));
    }
  });

  it('a plain TCP packet with NEEDS_CSUM passes on partial; a UDP one is finished', () => {
    const ring = new PacketRing({ slots: 16 });
    const tso = new TsoSegmenter(ring, { leavePartial: true });
    const tcp = tcpPacket({ payload: payloadOf(100), tcpChecksum: 'partial' });
    const src = new Uint8Array(10 + tcp.length);
    writeVnetHdr(src, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 20, 16);
    src.set(tcp, 10);
    const [s] = segment(tso, src);
    expect(ring.csum[s!]).toBe(CsumState.Partial);
    expect(Array.from(ring.packetOf(s!))).toEqual(Array.from(tcp));

    const udp = udpPacket(4, payloadOf(60));
    const usrc = new Uint8Array(10 + udp.length);
    writeVnetHdr(usrc, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 20, 6);
    usrc.set(udp, 10);
    const [u] = segment(tso, usrc);
    expect(ring.csum[u!]).toBe(CsumState.Complete);
    expect(Array.from(ring.packetOf(u!))).toEqual(Array.from(udpPacket(4, payloadOf(60), trueL4Checksum(udp, 17, 6))));
  });
});

describe('finishing partial checksums', () => {
  it('tcpHeaderStart refuses fragments, other protocols and short packets', () => {
    const tcp = tcpPacket({ payload: payloadOf(10) });
    expect(tcpHeaderStart(tcp, 0, tcp.length)).toBe(20);
    expect(tcpHeaderStart(tcp, 0, 39)).toBe(-1);
    const frag = tcp.slice();
    frag[6] = 0x20; // MF
    expect(tcpHeaderStart(frag, 0, frag.length)).toBe(-1);
    const udp = udpPacket(4, payloadOf(30));
    expect(tcpHeaderStart(udp, 0, udp.length)).toBe(-1);
    expect(tcpHeaderStart(tcpPacket({ version: 6 }), 0, 60)).toBe(40);
  });

  it('a device without offloads gets whole checksums (FakeTun as such a device); Complete slots are left alone', () => {
    const ring = new PacketRing({ slots: 8 });
    const whole = tcpPacket({ payload: payloadOf(700, 3) });
    const partial = tcpPacket({ payload: payloadOf(700, 3), tcpChecksum: 'partial' });
    const odd = tcpPacket({ payload: payloadOf(10), tcpChecksum: 0x1234 });
    const slots = Int32Array.of(put(ring, partial, CsumState.Partial), put(ring, odd, CsumState.Complete));
    const tun = new FakeTun();
    expect(tun.writeBatch(ring, slots, 2)).toBe(2);
    expect(Array.from(tun.written[0]!)).toEqual(Array.from(whole));
    expect(Array.from(tun.written[1]!)).toEqual(Array.from(odd));
    expect(ring.csum[slots[0]!]).toBe(CsumState.Complete);
    finishPartialChecksums(ring, slots, 2); // nothing left to do
    expect(Array.from(ring.packetOf(slots[0]!))).toEqual(Array.from(whole));
  });
});

describe('GroCoalescer and vouched-for checksums', () => {
  /** The virtio header the plan wrote in front of the slot's packet. */
  function vnetOf(ring: PacketRing, s: number): number[] {
    const off = ring.offset[s]! - 10;
    return Array.from(ring.bytes.subarray(off, off + 10));
  }

  it('a lone Partial or Authenticated TCP segment goes with NEEDS_CSUM and the pseudo-header sum; a Complete one behind a zero header', () => {
    const ring = new PacketRing({ slots: 8 });
    const gro = new GroCoalescer(ring, { verifyChecksums: true, maxBatch: 8 });
    const pkt = tcpPacket({ payload: payloadOf(300), flags: ACK | PSH, tcpChecksum: 0xbeef });
    const slots = Int32Array.of(put(ring, pkt, CsumState.Partial), put(ring, pkt, CsumState.Authenticated), put(ring, pkt, CsumState.Complete));
    expect(gro.plan(slots, 3)).toBe(3);
    const partialHdr = [VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 40, 0, 0, 0, 20, 0, 16, 0];
    expect(vnetOf(ring, slots[0]!)).toEqual(partialHdr);
    expect(vnetOf(ring, slots[1]!)).toEqual(partialHdr);
    expect(vnetOf(ring, slots[2]!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const ps = partialChecksum(pkt, TCP, pkt.length - 20);
    for (const s of [slots[0]!, slots[1]!]) expect((ring.bytes[ring.offset[s]! + 36]! << 8) | ring.bytes[ring.offset[s]! + 37]!).toBe(ps);
    // The Complete one keeps its (wrong) checksum for the kernel to judge, and was not merged.
    expect((ring.bytes[ring.offset[slots[2]!]! + 36]! << 8) | ring.bytes[ring.offset[slots[2]!]! + 37]!).toBe(0xbeef);
  });

  it('merges Partial segments without verifying them; Complete ones with a bad checksum stay apart', () => {
    const ring = new PacketRing({ slots: 16 });
    const gro = new GroCoalescer(ring, { verifyChecksums: true, maxBatch: 16 });
    const segs = segmentsOf({ payload: payloadOf(2800), flags: ACK }, 1400).map((p) => {
      const q = p.slice();
      q[36] = 0;
      q[37] = 0; // no longer a valid checksum
      return q;
    });
    const partial = Int32Array.from(segs.map((p) => put(ring, p, CsumState.Partial)));
    expect(gro.plan(partial, partial.length)).toBe(1);
    const bad = Int32Array.from(segs.map((p) => put(ring, p, CsumState.Complete)));
    expect(gro.plan(bad, bad.length)).toBe(2);
  });
});
