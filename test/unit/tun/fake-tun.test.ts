import { describe, expect, it } from 'vitest';
import { PacketRing, SlotBatch } from '../../../src/buf/packet-ring.ts';
import { isWeftError } from '../../../src/errors.ts';
import { FakeTun } from '../../../src/tun/fake-tun.ts';

function packet(len: number, seed: number): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = (seed + i) & 0xff;
  p[0] = 0x45;
  return p;
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('FakeTun', () => {
  it('copies injected packets into ring slots and appends them to the batch', () => {
    const tun = new FakeTun();
    const ring = new PacketRing({ slots: 8 });
    const batch = new SlotBatch(8);
    const a = packet(60, 1);
    const b = packet(1400, 2);
    tun.inject(a);
    tun.inject(b);
    a.fill(0); // inject copied it
    expect(tun.pending).toBe(2);
    batch.push(7); // something already in the batch stays there
    expect(tun.readBatch(ring, batch, 8)).toBe(2);
    expect(batch.count).toBe(3);
    expect(batch.slots[0]).toBe(7);
    expect(Array.from(ring.packetOf(batch.slots[1]!))).toEqual(Array.from(packet(60, 1)));
    expect(Array.from(ring.packetOf(batch.slots[2]!))).toEqual(Array.from(b));
    expect(ring.inUse).toBe(2);
    expect(tun.stats).toMatchObject({ readPackets: 2, readBytes: 1460, readBatches: 1 });
    expect(tun.readBatch(ring, batch, 8)).toBe(0);
    expect(tun.stats.readBatches).toBe(1);
  });

  it('reads at most max packets and no more than the batch has room for', () => {
    const tun = new FakeTun();
    const ring = new PacketRing({ slots: 16 });
    for (let i = 0; i < 10; i++) tun.inject(packet(40, i));
    const batch = new SlotBatch(3);
    expect(tun.readBatch(ring, batch, 2)).toBe(2);
    expect(tun.readBatch(ring, batch, 8)).toBe(1);
    expect(tun.readBatch(ring, batch, 8)).toBe(0);
    expect(tun.pending).toBe(7);
    expect(ring.inUse).toBe(3);
  });

  it('drops and counts one packet per call when the ring is full, and packets larger than a slot', () => {
    const tun = new FakeTun();
    const ring = new PacketRing({ slots: 2, capacity: 576 });
    const held = [ring.acquire(), ring.acquire()];
    tun.inject(packet(100, 1));
    tun.inject(packet(100, 2));
    const batch = new SlotBatch(4);
    expect(tun.readBatch(ring, batch, 4)).toBe(0);
    expect(tun.stats.droppedRingFull).toBe(1);
    expect(tun.pending).toBe(1);
    for (const s of held) ring.release(s);
    tun.inject(packet(577, 3));
    expect(tun.readBatch(ring, batch, 4)).toBe(1);
    expect(tun.stats.droppedTooBig).toBe(1);
    expect(ring.packetOf(batch.slots[0]!)[1]).toBe(3); // the second 100-byte packet
    expect(ring.inUse).toBe(1);
  });

  it('keeps copies of written packets and does not release the slots', () => {
    const tun = new FakeTun();
    const ring = new PacketRing({ slots: 4 });
    const slots = new Int32Array(2);
    for (let i = 0; i < 2; i++) {
      const s = ring.acquire();
      ring.bytes.set(packet(50 + i, i), ring.offset[s]!);
      ring.length[s] = 50 + i;
      slots[i] = s;
    }
    expect(tun.writeBatch(ring, slots, 2)).toBe(2);
    ring.bytes.fill(0);
    expect(tun.written.map((p) => Array.from(p))).toEqual([Array.from(packet(50, 0)), Array.from(packet(51, 1))]);
    expect(ring.inUse).toBe(2);
    expect(tun.stats).toMatchObject({ writePackets: 2, writeBytes: 101, writeErrors: 0 });

    tun.rejectWrite = (p) => p.length === 51;
    expect(tun.writeBatch(ring, slots, 2)).toBe(1);
    expect(tun.stats.writeErrors).toBe(1);
    expect(tun.written).toHaveLength(3);
  });

  it('calls the readable handler from a microtask after inject, once for several injects', async () => {
    const tun = new FakeTun();
    const ring = new PacketRing({ slots: 8 });
    const batch = new SlotBatch(8);
    const seen: number[] = [];
    tun.onReadable(() => {
      batch.clear();
      seen.push(tun.readBatch(ring, batch, 8));
      ring.releaseBatch(batch.slots, batch.count);
    });
    tun.inject(packet(40, 1));
    tun.inject(packet(40, 2));
    expect(seen).toEqual([]); // not synchronously
    await Promise.resolve();
    expect(seen).toEqual([2]);
    await turns(3);
    expect(seen).toEqual([2]); // nothing left: no more calls
  });

  it('is level-triggered: calls again on later event loop turns while packets wait', async () => {
    const tun = new FakeTun();
    const ring = new PacketRing({ slots: 8 });
    const batch = new SlotBatch(2);
    let calls = 0;
    tun.onReadable(() => {
      calls++;
      batch.clear();
      tun.readBatch(ring, batch, 2);
      ring.releaseBatch(batch.slots, batch.count);
    });
    for (let i = 0; i < 5; i++) tun.inject(packet(40, i));
    await turns(10);
    expect(calls).toBe(3);
    expect(tun.pending).toBe(0);
  });

  it('stops calling after onReadable(null) and refuses use after close', async () => {
    const tun = new FakeTun('fk1');
    let calls = 0;
    tun.onReadable(() => calls++);
    tun.onReadable(null);
    tun.inject(packet(40, 1));
    await turns(3);
    expect(calls).toBe(0);
    expect(tun.pending).toBe(1);
    tun.close();
    tun.close();
    const ring = new PacketRing({ slots: 1 });
    const err = (() => {
      try {
        tun.readBatch(ring, new SlotBatch(1), 1);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isWeftError(err, 'TUN_CLOSED')).toBe(true);
    expect(tun.name).toBe('fk1');
  });
});
