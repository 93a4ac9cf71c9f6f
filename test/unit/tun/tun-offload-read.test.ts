/**
 * TunOffload.read asks the device only as often as it must: a read that
 * stopped at EAGAIN before filling the stage means the device is empty, so
 * an idle packet costs one read call, not a second one to hear EAGAIN again.
 * A fake addon stands in for the device: a queue of packets behind zero
 * virtio-net headers (no GSO, no checksum asked).
 */
import { describe, expect, it } from 'vitest';
import { PacketRing, SlotBatch } from '../../../src/buf/packet-ring.ts';
import type { WeftNative } from '../../../src/native/addon.ts';
import { VNET_HDR_LEN } from '../../../src/offload/virtio-net-hdr.ts';
import { TunOffload } from '../../../src/tun/tun-offload.ts';
import type { TunStats } from '../../../src/tun/tun-device.ts';
import { udpPacket } from '../../helpers/packets.ts';

function fakeDevice(queue: Uint8Array[]): { addon: WeftNative; calls: number[] } {
  const calls: number[] = [];
  const tunReadBatch = (_fd: number, buffer: ArrayBuffer, offsets: Int32Array, lengths: Int32Array, slots: Int32Array, count: number): number => {
    let n = 0;
    while (n < count && queue.length > 0) {
      const p = queue.shift()!;
      const at = offsets[slots[n]!]!;
      const bytes = new Uint8Array(buffer);
      bytes.fill(0, at, at + VNET_HDR_LEN);
      bytes.set(p, at + VNET_HDR_LEN);
      lengths[slots[n]!] = VNET_HDR_LEN + p.length;
      n++;
    }
    calls.push(n);
    return n;
  };
  return { addon: { tunReadBatch } as unknown as WeftNative, calls };
}

function stats(): TunStats {
  return { readPackets: 0, readBytes: 0, readBatches: 0, writePackets: 0, writeBytes: 0, writeErrors: 0, droppedTooBig: 0, droppedRingFull: 0 };
}

describe('TunOffload.read', () => {
  const packet = (i: number) => udpPacket('10.244.1.5', '10.244.2.7', [i, 1, 2, 3]);

  it('one waiting packet costs one read: the read that stopped short said the device is empty', () => {
    const ring = new PacketRing({ slots: 64 });
    const { addon, calls } = fakeDevice([packet(0)]);
    const offload = new TunOffload(addon, ring, 64, false);
    const batch = new SlotBatch(64);
    expect(offload.read(3, ring, batch, 64, stats())).toBe(1);
    expect(calls).toEqual([1]);
    const slot = batch.slots[0]!;
    expect(Array.from(ring.bytes.subarray(ring.offset[slot]!, ring.offset[slot]! + ring.length[slot]!))).toEqual(Array.from(packet(0)));
  });

  it('a full stage reads on until the batch is full or a read comes back short', () => {
    const ring = new PacketRing({ slots: 64 });
    const { addon, calls } = fakeDevice(Array.from({ length: 11 }, (_, i) => packet(i)));
    const offload = new TunOffload(addon, ring, 64, false);
    const batch = new SlotBatch(64);
    expect(offload.read(3, ring, batch, 64, stats())).toBe(11);
    expect(calls).toEqual([8, 3]);
    // Nothing left: the next readiness reads once and finds nothing.
    batch.count = 0;
    expect(offload.read(3, ring, batch, 64, stats())).toBe(0);
    expect(calls).toEqual([8, 3, 0]);
  });
});
