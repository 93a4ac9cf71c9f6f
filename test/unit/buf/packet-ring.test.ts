import { describe, expect, it } from 'vitest';
import { PacketRing, SlotBatch, SlotState } from '../../../src/buf/packet-ring.ts';
import { isWeftError } from '../../../src/errors.ts';
import { thrownBy } from '../../helpers/errors.ts';

describe('PacketRing layout', () => {
  it('cuts one buffer into aligned slots with headroom in front of each packet', () => {
    const ring = new PacketRing({ slots: 4, capacity: 1500, headroom: 64, tailroom: 32 });
    expect(ring.slotSize % 64).toBe(0);
    expect(ring.slotSize).toBeGreaterThanOrEqual(64 + 1500 + 32);
    expect(ring.buffer.byteLength).toBe(4 * ring.slotSize);
    const s = ring.acquire();
    expect(ring.offset[s]).toBe(ring.baseOf(s) + 64);
    expect(ring.headroomOf(s)).toBe(64);
    expect(ring.tailroomOf(s)).toBe(ring.slotSize - 64);
  });

  it('gives each slot a Buffer view over exactly its own bytes', () => {
    const ring = new PacketRing({ slots: 3 });
    const s = ring.acquire();
    ring.bytes[ring.offset[s]!] = 0xab;
    const view = ring.slotBuffers[s]!;
    expect(view.buffer).toBe(ring.buffer);
    expect(view.byteOffset).toBe(ring.baseOf(s));
    expect(view.length).toBe(ring.slotSize);
    expect(view[ring.offset[s]! - ring.baseOf(s)]).toBe(0xab);
  });

  it('rejects configurations that cannot hold a packet with a clear error', () => {
    const bad = [
      { slots: 0 },
      { slots: 1.5 },
      { slots: 2, capacity: 100 },
      { slots: 2, headroom: 32 },
      { slots: 2, tailroom: 16 },
      { slots: 1 << 20, capacity: 65535 },
      { slots: 2, staging: -1 },
      { slots: 2, staging: 1.5 },
    ];
    for (const opts of bad) {
      const caught = thrownBy(() => new PacketRing(opts));
      expect(isWeftError(caught, 'RING_CONFIG'), JSON.stringify(opts)).toBe(true);
    }
  });
});

describe('PacketRing staging', () => {
  it('reserves cache-line aligned areas after the slots, for good, and says -1 when too little is left', () => {
    const ring = new PacketRing({ slots: 4, staging: 1000 });
    const slotsEnd = 4 * ring.slotSize;
    expect(ring.buffer.byteLength).toBe(slotsEnd + 1024); // rounded up to 64
    expect(ring.reserveStaging(100)).toBe(slotsEnd);
    expect(ring.reserveStaging(1)).toBe(slotsEnd + 128);
    expect(ring.reserveStaging(1000)).toBe(-1); // 832 bytes are left
    expect(ring.reserveStaging(832)).toBe(slotsEnd + 192);
    expect(ring.reserveStaging(1)).toBe(-1);
    expect(ring.reserveStaging(0)).toBe(-1);
    // Slots are where they were: the last slot still ends where staging begins.
    expect(ring.baseOf(3) + ring.slotSize).toBe(slotsEnd);
    expect(new PacketRing({ slots: 4 }).reserveStaging(1)).toBe(-1);
  });
});

describe('PacketRing ownership', () => {
  it('moves a slot Free -> Owned -> InFlight -> Free', () => {
    const ring = new PacketRing({ slots: 2 });
    expect(ring.stateOf(0)).toBe(SlotState.Free);
    const s = ring.acquire();
    expect(s).toBe(0);
    expect(ring.stateOf(s)).toBe(SlotState.Owned);
    ring.markInFlight(s);
    expect(ring.stateOf(s)).toBe(SlotState.InFlight);
    ring.release(s);
    expect(ring.stateOf(s)).toBe(SlotState.Free);
    expect(ring.free).toBe(2);
  });

  it('never hands out a slot twice before it is released', () => {
    const ring = new PacketRing({ slots: 64 });
    const seen = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const s = ring.acquire();
      expect(seen.has(s)).toBe(false);
      seen.add(s);
    }
    expect(ring.inUse).toBe(64);
  });

  it('returns -1 and counts when exhausted, and never grows', () => {
    const ring = new PacketRing({ slots: 3 });
    const bytes = ring.buffer.byteLength;
    const held = [ring.acquire(), ring.acquire(), ring.acquire()];
    expect(ring.acquire()).toBe(-1);
    expect(ring.acquire()).toBe(-1);
    expect(ring.exhausted).toBe(2);
    expect(ring.buffer.byteLength).toBe(bytes);
    ring.release(held[1]!);
    expect(ring.acquire()).toBe(held[1]);
    expect(ring.exhausted).toBe(2);
  });

  it('does not reuse an in-flight slot until its send completes', () => {
    const ring = new PacketRing({ slots: 2 });
    const a = ring.acquire();
    ring.markInFlight(a);
    const b = ring.acquire();
    expect(b).not.toBe(a);
    expect(ring.acquire()).toBe(-1); // a is still in flight
    ring.release(a); // the send callback fired
    expect(ring.acquire()).toBe(a);
  });

  it('resets offset and length on reuse', () => {
    const ring = new PacketRing({ slots: 1 });
    const s = ring.acquire();
    ring.length[s] = 100;
    ring.prepend(s, 22);
    ring.release(s);
    expect(ring.acquire()).toBe(s);
    expect(ring.length[s]).toBe(0);
    expect(ring.offset[s]).toBe(ring.baseOf(s) + ring.headroom);
  });

  it('throws on double release and on marking a free slot in flight (programmer errors)', () => {
    const ring = new PacketRing({ slots: 2 });
    const s = ring.acquire();
    ring.release(s);
    expect(() => ring.release(s)).toThrow(/one owner at a time/);
    expect(() => ring.markInFlight(s)).toThrow(/one owner at a time/);
    expect(() => ring.release(7)).toThrow(/out of range/);
    expect(ring.free).toBe(2); // the failed release did not corrupt the stack
  });
});

describe('PacketRing batches', () => {
  it('acquires a batch, counts a short batch once, and releases it', () => {
    const ring = new PacketRing({ slots: 5 });
    const batch = new SlotBatch(8);
    batch.count = ring.acquireBatch(batch.slots, 8);
    expect(batch.count).toBe(5);
    expect(ring.exhausted).toBe(1);
    expect(new Set(batch.slots.subarray(0, 5)).size).toBe(5);
    ring.releaseBatch(batch.slots, batch.count);
    expect(ring.free).toBe(5);
  });

  it('SlotBatch refuses to overflow', () => {
    const b = new SlotBatch(2);
    expect(b.push(1)).toBe(true);
    expect(b.push(2)).toBe(true);
    expect(b.push(3)).toBe(false);
    expect(b.count).toBe(2);
    b.clear();
    expect(b.count).toBe(0);
  });
});

describe('PacketRing headroom and tailroom', () => {
  it('prepends into the headroom and refuses past it', () => {
    const ring = new PacketRing({ slots: 1, headroom: 64 });
    const s = ring.acquire();
    ring.length[s] = 100;
    const start = ring.offset[s]!;
    expect(ring.prepend(s, 22)).toBe(start - 22);
    expect(ring.length[s]).toBe(122);
    expect(ring.prepend(s, 43)).toBe(-1);
    expect(ring.offset[s]).toBe(start - 22); // unchanged by the refused prepend
    expect(ring.prepend(s, 42)).toBe(ring.baseOf(s));
    ring.consume(s, 64);
    expect(ring.offset[s]).toBe(start);
    expect(ring.length[s]).toBe(100);
  });

  it('appends into the tailroom up to the end of the slot', () => {
    const ring = new PacketRing({ slots: 2, capacity: 1000, tailroom: 32 });
    const s = ring.acquire();
    ring.length[s] = 1000;
    const room = ring.tailroomOf(s);
    expect(room).toBeGreaterThanOrEqual(32);
    expect(ring.append(s, room + 1)).toBe(false);
    expect(ring.append(s, room)).toBe(true);
    expect(ring.offset[s]! + ring.length[s]!).toBe(ring.baseOf(s) + ring.slotSize);
  });

  it('keeps slots apart: writing a full slot leaves the neighbours untouched', () => {
    const ring = new PacketRing({ slots: 3 });
    const a = ring.acquire();
    const b = ring.acquire();
    const c = ring.acquire();
    ring.bytes.fill(0x11, ring.baseOf(a), ring.baseOf(a) + ring.slotSize);
    ring.bytes.fill(0x33, ring.baseOf(c), ring.baseOf(c) + ring.slotSize);
    ring.bytes.fill(0x22, ring.baseOf(b), ring.baseOf(b) + ring.slotSize);
    expect(ring.bytes[ring.baseOf(b) - 1]).toBe(0x11);
    expect(ring.bytes[ring.baseOf(c)]).toBe(0x33);
  });
});
