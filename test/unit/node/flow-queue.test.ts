import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { FlowQueue, flowHash } from '../../../src/node/flow-queue.ts';
import { icmpEcho } from '../../helpers/packets.ts';
import { tcpPacket } from '../../helpers/tcp-packets.ts';

/** Put `pkt` in a fresh slot of `ring`. */
function slotWith(ring: PacketRing, pkt: Uint8Array): number {
  const slot = ring.acquire();
  if (slot < 0) throw new Error('ring exhausted');
  ring.bytes.set(pkt, ring.offset[slot]!);
  ring.length[slot] = pkt.length;
  return slot;
}

function bytesOf(ring: PacketRing, slot: number): number[] {
  return Array.from(ring.packetOf(slot));
}

/** A bulk TCP segment of flow `port` (1400 bytes of payload), sequence `i`. */
function bulk(port: number, i: number, tos = 0): Uint8Array {
  return tcpPacket({ srcPort: port, dstPort: 5201, seq: i * 1400, payload: new Uint8Array(1400).fill(i & 0xff), tos });
}

/** Dequeue everything at time `now`, releasing the slots; the packets in order. */
function drain(q: FlowQueue, ring: PacketRing, now: number): number[][] {
  const out: number[][] = [];
  for (let slot = q.dequeue(now); slot >= 0; slot = q.dequeue(now)) {
    out.push(bytesOf(ring, slot));
    ring.release(slot);
  }
  return out;
}

describe('FlowQueue', () => {
  it('keeps each flow in order, byte for byte, and returns every slot', () => {
    const ring = new PacketRing({ slots: 64 });
    const q = new FlowQueue({ ring, seed: 1 });
    const sent = Array.from({ length: 20 }, (_, i) => bulk(40000, i));
    for (const p of sent) q.enqueue(slotWith(ring, p), 0);
    expect(q.packets).toBe(20);
    expect(q.bytes).toBe(sent.reduce((n, p) => n + p.length, 0));
    expect(drain(q, ring, 0)).toEqual(sent.map((p) => Array.from(p)));
    expect(q.packets).toBe(0);
    expect(q.bytes).toBe(0);
    expect(ring.free).toBe(64);
  });

  it('lets a new flow (a ping) overtake a bulk train after at most one quantum', () => {
    const ring = new PacketRing({ slots: 128 });
    const q = new FlowQueue({ ring, seed: 1 });
    for (let i = 0; i < 100; i++) q.enqueue(slotWith(ring, bulk(40000, i)), 0);
    const ping = icmpEcho({ seq: 7 });
    q.enqueue(slotWith(ring, ping), 0);
    const order = drain(q, ring, 0);
    // The bulk flow spends its quantum (1514 bytes: two 1440-byte segments) first.
    expect(order.findIndex((p) => p.length === ping.length && p.every((b, i) => b === ping[i]))).toBe(2);
    expect(order).toHaveLength(101);
    expect(ring.free).toBe(128);
  });

  it('shares the link between bulk flows by bytes (deficit round robin)', () => {
    const ring = new PacketRing({ slots: 128 });
    const q = new FlowQueue({ ring, seed: 3 });
    for (let i = 0; i < 40; i++) q.enqueue(slotWith(ring, bulk(40001, i)), 0);
    for (let i = 0; i < 40; i++) q.enqueue(slotWith(ring, bulk(40002, i)), 0);
    const ports = drain(q, ring, 0).slice(0, 40).map((p) => (p[20]! << 8) | p[21]!);
    const first = ports.filter((p) => p === 40001).length;
    // 40 packets served while both were backlogged: equal shares, within one quantum.
    expect(Math.abs(first - 20)).toBeLessThanOrEqual(2);
  });

  it('drops with CoDel once a flow has waited above target for a whole interval, at a rising rate', () => {
    const ring = new PacketRing({ slots: 256 });
    const q = new FlowQueue({ ring, seed: 1, targetMs: 1, intervalMs: 10 });
    for (let i = 0; i < 200; i++) q.enqueue(slotWith(ring, bulk(40000, i)), 0);
    // 5 ms of delay: above target, but not yet for an interval.
    const slot = q.dequeue(5);
    expect(slot).toBeGreaterThanOrEqual(0);
    ring.release(slot);
    expect(q.stats.codelDrops).toBe(0);
    ring.release(q.dequeue(14));
    expect(q.stats.codelDrops).toBe(0);
    // Above target since 5 ms for more than 10 ms: one drop; the next one interval/sqrt(count) after.
    const dropsAt = (now: number): number => {
      ring.release(q.dequeue(now));
      return q.stats.codelDrops;
    };
    expect(dropsAt(16)).toBe(1);
    expect(dropsAt(25.9)).toBe(1);
    expect(dropsAt(26.01)).toBe(2);
    expect(dropsAt(26 + 10 / Math.SQRT2 - 0.01)).toBe(2);
    expect(dropsAt(26 + 10 / Math.SQRT2 + 0.01)).toBe(3);
    // Every slot is either queued or back in the ring.
    expect(ring.free + q.packets).toBe(256);
    q.clear();
    expect(ring.free).toBe(256);
  });

  it('marks an ECN-capable packet CE instead of dropping it, with a valid IPv4 header checksum', () => {
    const ring = new PacketRing({ slots: 64 });
    const q = new FlowQueue({ ring, seed: 1, targetMs: 1, intervalMs: 10 });
    for (let i = 0; i < 20; i++) q.enqueue(slotWith(ring, bulk(40000, i, 0x02)), 0);
    ring.release(q.dequeue(5));
    const slot = q.dequeue(16);
    expect(q.stats.codelDrops).toBe(0);
    expect(q.stats.ecnMarks).toBe(1);
    const pkt = ring.packetOf(slot);
    expect(pkt[1]! & 3).toBe(3);
    const want = bulk(40000, 1, 0x03);
    expect(Array.from(pkt)).toEqual(Array.from(want));
    ring.release(slot);
    q.clear();
    expect(ring.free).toBe(64);
  });

  it('past its limit drops the fattest flow, never the newcomer', () => {
    const ring = new PacketRing({ slots: 64 });
    const q = new FlowQueue({ ring, seed: 1, limit: 16 });
    for (let i = 0; i < 16; i++) q.enqueue(slotWith(ring, bulk(40000, i)), 0);
    const ping = icmpEcho({ seq: 1 });
    q.enqueue(slotWith(ring, ping), 0);
    // Half the bulk flow's backlog went, from its head.
    expect(q.stats.overlimitDrops).toBe(8);
    expect(q.packets).toBe(9);
    const out = drain(q, ring, 0);
    expect(out.some((p) => p.length === ping.length && p.every((b, i) => b === ping[i]))).toBe(true);
    expect(out.filter((p) => p.length !== ping.length).map((p) => p[p.length - 1])).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(ring.free).toBe(64);
  });
});

describe('flowHash', () => {
  it('is the same for one 5-tuple and differs by port; never throws on short or odd packets', () => {
    const a1 = bulk(40000, 1);
    const a2 = bulk(40000, 2);
    const b = bulk(40001, 1);
    expect(flowHash(a1, 0, a1.length, 9)).toBe(flowHash(a2, 0, a2.length, 9));
    expect(flowHash(a1, 0, a1.length, 9)).not.toBe(flowHash(b, 0, b.length, 9));
    expect(flowHash(a1, 0, a1.length, 9)).not.toBe(flowHash(a1, 0, a1.length, 10));
    const v6 = tcpPacket({ version: 6, srcPort: 1, dstPort: 2 });
    expect(flowHash(v6, 0, v6.length, 1)).toBe(flowHash(v6, 0, v6.length, 1));
    const junk = new Uint8Array(64);
    for (let len = 0; len <= 64; len++) {
      for (const first of [0x00, 0x45, 0x4f, 0x60, 0xff]) {
        junk[0] = first;
        expect(flowHash(junk, 0, len, 1)).toBeGreaterThanOrEqual(0);
      }
    }
  });
});
