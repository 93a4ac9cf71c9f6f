import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../src/buf/packet-ring.ts';
import type { WeftNative } from '../../src/native/addon.ts';
import { formatIpv4 } from '../../src/transport/address-names.ts';
import { newTransportStats } from '../../src/transport/transport.ts';
import { GRO_STAGING_BYTES, UdpGroStage } from '../../src/transport/udp-gro-stage.ts';
import { Fuzz, fuzzCount } from './fuzz-helpers.ts';

const SEED = 0x6_40_57a6;
const COUNT = fuzzCount(10_000);
const STAGED = 16;
const STAGE_SIZE = 65536;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

interface Run {
  data: Uint8Array;
  /** What the kernel says: the run's length (above STAGE_SIZE: cut by MSG_TRUNC) and datagram size (0: one datagram). */
  len: number;
  seg: number;
  addr: number;
  port: number;
}

/** The datagrams a run holds, as [offset, size], in order: what UDP GRO promises. */
function segments(r: Run): [number, number][] {
  if (r.len > STAGE_SIZE || r.len <= 0) return [];
  const seg = r.seg > 0 ? r.seg : r.len;
  const out: [number, number][] = [];
  for (let off = 0; off < r.len; off += seg) out.push([off, Math.min(seg, r.len - off)]);
  return out;
}

/** Run contents: windows of one random pool (drawing 64 KiB per run byte by byte would be most of the test's time). */
let pool: Uint8Array = new Uint8Array(0);

function randomRun(f: Fuzz, capacity: number): Run {
  const kind = f.int(10);
  let len: number;
  let seg: number;
  if (kind < 4) {
    // A GSO run as a peer sends it: equal datagrams, the last one maybe shorter.
    seg = f.pick([1, 2, 3, 64, 1280, 1420, 1448, capacity - 1, capacity, capacity + 1, 1 + f.int(4000)]);
    len = Math.min(STAGE_SIZE, seg * (1 + f.int(64)) - (f.chance(0.5) ? f.int(seg) : 0));
  } else if (kind < 6) {
    // One datagram: no segment size.
    seg = f.pick([0, 0, -1]);
    len = f.pick([0, 1, 8, capacity, capacity + 1, f.int(capacity + 1), f.int(STAGE_SIZE + 1)]);
  } else if (kind < 8) {
    // Hostile: sizes the kernel should never report.
    seg = f.pick([0, -1, -65536, 1, 0x7fffffff, -0x80000000, STAGE_SIZE, STAGE_SIZE + 1, f.int(70000) - 1000]);
    len = f.pick([0, -1, -0x80000000, 1, STAGE_SIZE, STAGE_SIZE + 1, 0x7fffffff, f.int(STAGE_SIZE + 1)]);
    // 64 Ki one-byte datagrams are a fine input now and then, but not in one run of every hundred.
    if (seg > 0 && seg < 16 && len <= STAGE_SIZE && f.chance(0.9)) len = Math.min(len, f.int(4096));
  } else {
    // Truncated: the run was longer than the staging buffer (MSG_TRUNC).
    seg = f.pick([0, 1420, 1 + f.int(2000)]);
    len = STAGE_SIZE + 1 + f.int(100_000);
  }
  const size = Math.max(0, Math.min(len, STAGE_SIZE));
  const start = f.int(pool.length - size + 1);
  const data = pool.subarray(start, start + size);
  return { data, len, seg, addr: 0xc0000200 + f.int(256), port: f.int(65536) };
}

function fuzzStage(seed: number, ringStaging: boolean): void {
  const f = new Fuzz(seed);
  pool = f.bytes(4 * STAGE_SIZE);
  const capacity = f.pick([576, 1500, 2048, 9000]);
  const ring = new PacketRing({ slots: 64, capacity, staging: ringStaging ? GRO_STAGING_BYTES : 0 });
  const startFree = ring.free;
  let batch: Run[] = [];
  let ret = 0;
  const addon = {
    udpRecvBatch(fd: number, buffer: ArrayBuffer, offsets: Int32Array, lengths: Int32Array, slots: Int32Array, count: number, capacity: number, addrs: Uint32Array, ports: Uint16Array, segSizes?: Int32Array): number {
      check(fd === 7 && count === STAGED && capacity === STAGE_SIZE && segSizes !== undefined, 'udpRecvBatch arguments');
      if (ret <= 0) return ret;
      const bytes = new Uint8Array(buffer);
      batch.forEach((r, i) => {
        check(offsets[i]! >= 0 && offsets[i]! + STAGE_SIZE <= buffer.byteLength && slots.length === STAGED, 'staging offsets');
        bytes.set(r.data, offsets[i]!);
        lengths[i] = r.len;
        segSizes![i] = r.seg;
        addrs[i] = r.addr;
        ports[i] = r.port;
      });
      return ret;
    },
  } as unknown as WeftNative;
  const stage = new UdpGroStage(addon, ring);
  const stats = newTransportStats();
  const held: { slot: number; copy: Uint8Array }[] = [];
  const nameOf = formatIpv4; // the stage names senders through the transport's (here IPv4) AddressFamily
  let delivered: { slot: number; from: string; port: number; bytes: Uint8Array }[] = [];
  let holdChance = 0;
  let coalescedRuns = 0;
  let coalescedDatagrams = 0;

  for (let i = 0; i < COUNT;) {
    // Release some held slots (a consumer that finishes late), checking nothing overwrote them.
    if (held.length > 0 && f.chance(0.5)) {
      const keep = f.chance(0.3) ? held.length - f.int(held.length + 1) : 0;
      for (const h of held.splice(keep)) {
        check(Buffer.compare(ring.packetOf(h.slot), h.copy) === 0, 'a held slot was overwritten');
        ring.release(h.slot);
      }
    }
    holdChance = f.pick([0, 0, 0.1, 0.5, 1]);
    const n = f.chance(0.05) ? f.pick([0, -11, -105]) : 1 + f.int(STAGED);
    batch = n > 0 ? Array.from({ length: n }, () => randomRun(f, capacity)) : [];
    ret = n;
    i += Math.max(n, 1);
    delivered = [];
    const withHandler = f.chance(0.9);
    const before = { ...stats };
    const freeBefore = ring.free;
    const got = stage.receive(7, stats, withHandler ? (slot, from, port) => {
      const bytes = ring.packetOf(slot).slice();
      delivered.push({ slot, from, port, bytes });
      if (f.chance(holdChance)) held.push({ slot, copy: bytes });
      else ring.release(slot);
    } : null);
    check(got === n, `receive returned ${got} for ${n}`);
    if (n <= 0) {
      check(JSON.stringify(stats) === JSON.stringify(before), 'stats moved on an empty receive');
      continue;
    }
    // Every delivered datagram is intact, in order, from its run's sender; what was not delivered is counted.
    let d = 0;
    let expectOversize = 0;
    let expectRingFull = 0;
    let receivedBytes = 0;
    for (const r of batch) {
      if (r.len > STAGE_SIZE) {
        expectOversize++;
        continue;
      }
      const segs = segments(r);
      if (r.seg > 0 && r.seg < r.len) {
        coalescedRuns++;
        coalescedDatagrams += segs.length;
      }
      for (let s = 0; s < segs.length; s++) {
        const [off, size] = segs[s]!;
        if (size > ring.capacity) {
          expectOversize++;
          continue;
        }
        const got = withHandler ? delivered[d] : undefined;
        if (withHandler && got === undefined) {
          // The ring ran dry: the rest of this run is dropped and counted, and the next run tries again.
          expectRingFull += segs.length - s;
          break;
        }
        if (got !== undefined) {
          if (Buffer.compare(got.bytes, r.data.subarray(off, off + size)) !== 0) {
            expect(got.bytes, `input ${i}: datagram at ${off} of a run of ${r.len} in ${r.seg}`).toEqual(r.data.subarray(off, off + size));
          }
          check(got.from === nameOf(r.addr) && got.port === r.port, 'sender');
        }
        d++;
        receivedBytes += size;
      }
    }
    if (withHandler) {
      check(d === delivered.length, `${delivered.length} delivered, ${d} expected`);
      check(stats.droppedRingFull - before.droppedRingFull === expectRingFull, `ring-full drops ${stats.droppedRingFull - before.droppedRingFull}, expected ${expectRingFull}`);
      if (expectRingFull > 0) check(held.length === ring.slotCount, 'a run was cut with slots free');
      check(stats.receivedBytes - before.receivedBytes === receivedBytes, 'received bytes');
    } else {
      check(ring.free === freeBefore, 'a receive without a handler kept slots');
      check(stats.droppedRingFull === before.droppedRingFull || freeBefore === 0, 'ring-full drops with free slots');
    }
    if (withHandler) check(stats.receivedPackets - before.receivedPackets === delivered.length, 'received packets');
    check(stats.droppedOversize - before.droppedOversize === expectOversize, `oversize drops ${stats.droppedOversize - before.droppedOversize}, expected ${expectOversize}`);
    check(ring.free + held.length === startFree, `slots leaked: ${startFree - ring.free - held.length}`);
  }
  for (const h of held.splice(0)) ring.release(h.slot);
  expect(ring.free).toBe(startFree);
  expect(stage.coalescedRuns).toBe(coalescedRuns);
  expect(stage.coalescedDatagrams).toBe(coalescedDatagrams);
  expect(stats.receivedPackets).toBeGreaterThan(COUNT);
  expect(stats.droppedRingFull).toBeGreaterThan(0);
  expect(stats.droppedOversize).toBeGreaterThan(0);
}

describe(`UDP GRO splitting under hostile runs (seed ${SEED.toString(16)})`, () => {
  it(`splits ${COUNT} runs staged in the ring: every datagram intact, every drop counted, no slot leaked`, () => {
    fuzzStage(SEED, true);
  }, Math.max(30_000, COUNT));
  it(`splits ${COUNT} runs staged in its own buffer (word copies, odd offsets) the same way`, () => {
    fuzzStage(SEED + 1, false);
  }, Math.max(30_000, COUNT));
});
