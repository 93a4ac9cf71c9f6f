/**
 * The offload layer's per-byte cost: onesSum (32-bit words through a cached
 * Uint32Array view) against src/wire's byte-pair internetChecksum, on an
 * MTU-sized packet and a 64 KiB super-packet; then whole-packet work:
 * cutting a 64 KiB TSO super-packet into segments, and planning the GRO
 * writes for those segments again. Scavenges show whether anything was
 * allocated per call.
 *
 *   tsc -p tsconfig.build.json && node --expose-gc dist/bench/offload/checksum-bench.js
 */
import { PacketRing } from '../../src/buf/packet-ring.ts';
import { onesSum } from '../../src/offload/checksum.ts';
import { GroCoalescer } from '../../src/offload/gro.ts';
import { TsoSegmenter } from '../../src/offload/tso.ts';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, writeVnetHdr } from '../../src/offload/virtio-net-hdr.ts';
import { internetChecksum } from '../../src/wire/ip.ts';
import { tcpPacket } from '../../test/helpers/tcp-packets.ts';
import { measure, printTable } from '../util/measure.ts';
import type { Measurement } from '../util/measure.ts';

const SMALL_OPS = Number(process.env.BENCH_OPS ?? 1_000_000);
const BIG_OPS = Math.max(1, Math.floor(SMALL_OPS / 40));
const MSS = 1448;

const data = new Uint8Array(65536 + 16);
for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 9)) & 0xff;

/** A TCP/IPv4 super-packet (timestamps option) of `payload` bytes, staged behind its virtio header at `hdrOff`. */
function stageSuperPacket(stage: Uint8Array, hdrOff: number, payload: number): number {
  const pktOff = hdrOff + 10;
  const len = 52 + payload;
  const timestamps = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];
  stage.set(tcpPacket({ seq: 1, ack: 2, options: timestamps, payload: data.subarray(0, payload), tcpChecksum: 0 }), pktOff);
  writeVnetHdr(stage, hdrOff, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 52, MSS, 20, 16);
  return len;
}

async function main(): Promise<void> {
  const rows: Measurement[] = [];
  let sink = 0;
  for (const [len, ops] of [
    [1400, SMALL_OPS],
    [65536, BIG_OPS],
  ] as const) {
    rows.push(await measure(`internetChecksum ${len} B`, ops, () => (sink ^= internetChecksum(data, 0, len))));
    rows.push(await measure(`onesSum ${len} B (aligned)`, ops, () => (sink ^= onesSum(data, 0, len, 0))));
    rows.push(await measure(`onesSum ${len} B (odd start)`, ops, () => (sink ^= onesSum(data, 1, len, 0))));
  }

  // TSO: a 45-segment super-packet (65212 bytes) cut into ring slots, which go straight back.
  // Staged at hdrOff 6 (IP packet on a 4-byte boundary) and at hdrOff 0 (packet at 10,
  // 2 bytes off): the segmenter places each output so the payload copy stays aligned.
  const ring = new PacketRing({ slots: 256 });
  const tso = new TsoSegmenter(ring);
  const out = new Int32Array(64);
  const segmentOps = Math.max(1, Math.floor(SMALL_OPS / 50));
  const stage = new Uint8Array(70_000);
  let superLen = 0;
  for (const hdrOff of [0, 6]) {
    superLen = stageSuperPacket(stage, hdrOff, 45 * MSS);
    rows.push(
      await measure(`TSO 64 KiB -> 45 segments, packet at +${hdrOff + 10} (per super-packet)`, segmentOps, () => {
        tso.load(stage, hdrOff, hdrOff + 10, superLen);
        const n = tso.emit(out, 0, 64);
        for (let i = 0; i < n; i++) ring.release(out[i]!);
      }),
    );
  }

  // The same from the ring's own staging area (as weft's TUN device stages): memmove plus a sum.
  const staged = new PacketRing({ slots: 256, staging: 70_000 });
  const at = staged.reserveStaging(70_000);
  const tsoStaged = new TsoSegmenter(staged);
  stageSuperPacket(staged.bytes.subarray(at), 0, 45 * MSS);
  const stagedRow = await measure(`TSO 64 KiB -> 45 segments, from ring staging (per super-packet)`, segmentOps, () => {
    tsoStaged.load(staged.bytes, at, at + 10, superLen);
    const n = tsoStaged.emit(out, 0, 64);
    for (let i = 0; i < n; i++) staged.release(out[i]!);
  });
  rows.push(stagedRow);
  // With the checksum left partial (between weft nodes): the memmove alone.
  const tsoPartial = new TsoSegmenter(staged, { leavePartial: true });
  const partialRow = await measure(`TSO 64 KiB -> 45 segments, from ring staging, checksums left partial (per super-packet)`, segmentOps, () => {
    tsoPartial.load(staged.bytes, at, at + 10, superLen);
    const n = tsoPartial.emit(out, 0, 64);
    for (let i = 0; i < n; i++) staged.release(out[i]!);
  });
  rows.push(partialRow);

  // GRO: plan the writes for those 45 segments (checksums verified), re-cut before each plan
  // since planning patches the head in place.
  const gro = new GroCoalescer(ring, { verifyChecksums: true, maxBatch: 64 });
  tso.load(stage, 6, 16, superLen);
  const segs = tso.emit(out, 0, 64);
  const saved = new Uint8Array(100);
  const head = ring.offset[out[0]!]!;
  saved.set(ring.bytes.subarray(head, head + 100));
  let writes = 0;
  rows.push(
    await measure(`GRO plan 45 segments, verify on (per batch)`, segmentOps, () => {
      ring.bytes.set(saved, head);
      writes += gro.plan(out, segs);
    }),
  );
  if (gro.stats.merged !== gro.stats.packets - gro.stats.writes || writes !== gro.stats.writes) throw new Error('GRO bench did not merge');
  if (gro.stats.writes * 44 !== gro.stats.merged) throw new Error(`GRO bench merged ${gro.stats.merged} in ${gro.stats.writes} writes`);

  printTable(rows);
  const tsoRow = rows[rows.length - 3]!;
  const groRow = rows[rows.length - 1]!;
  const per = (m: Measurement) => (m.nsPerOp / 45).toFixed(0);
  console.log(`\nTSO: ${per(tsoRow)} ns per ${MSS}-byte segment from a separate buffer, ${per(stagedRow)} from ring staging, ${per(partialRow)} with the checksum left partial; GRO: ${per(groRow)} ns per segment (sink ${sink & 1})`);
}

await main();
