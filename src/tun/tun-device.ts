/**
 * TunDevice: the packet device every later layer sees. Packets cross it as
 * PacketRing slots, never as objects: a read fills slots the device acquired
 * from the ring, a write sends slots the caller owns. Two implementations:
 * NativeTun (a kernel TUN device, native-tun.ts) and FakeTun (in memory, for
 * tests of the layers above, fake-tun.ts).
 *
 * The readiness model is level-triggered, like epoll on the fd: the handler
 * given to onReadable() is called while packets are waiting, once per event
 * loop turn. A handler reads one or a few batches and returns; whatever is
 * left makes it fire again on the next turn, so one busy device cannot
 * starve the rest of the event loop.
 */
import type { PacketRing, SlotBatch } from '../buf/packet-ring.ts';

export interface TunStats {
  /** Packets read into ring slots and handed to the caller. */
  readPackets: number;
  readBytes: number;
  writePackets: number;
  writeBytes: number;
  /** Writes the kernel refused (e.g. EINVAL for a packet that is not IPv4/IPv6). */
  writeErrors: number;
  /** Packets read into a scratch buffer and dropped because the ring had no free slot. */
  droppedRingFull: number;
  /** Packets dropped because they were larger than the ring's slot capacity (MTU above capacity). */
  droppedTooBig: number;
  /** readBatch calls that returned at least one packet; readPackets / readBatches is the mean batch. */
  readBatches: number;
}

export interface TunDevice {
  readonly name: string;
  readonly stats: TunStats;
  /**
   * Acquire up to `max` slots from the ring, read ready packets into them,
   * append the filled slot numbers to batch (batch.count grows); unused slots
   * go back to the ring. Returns packets read. The caller owns the appended
   * slots and releases them. When the ring has no free slot while packets are
   * waiting, one packet is read into a scratch buffer and dropped (counted in
   * droppedRingFull), so the device never spins on a full ring.
   */
  readBatch(ring: PacketRing, batch: SlotBatch, max: number): number;
  /** Write the packets of `count` slots (ring.offset/length); does not release them. Returns packets written. */
  writeBatch(ring: PacketRing, slots: Int32Array, count: number): number;
  /** Call `handler` whenever packets are ready; one handler; null stops. */
  onReadable(handler: (() => void) | null): void;
  close(): void;
}

export function emptyTunStats(): TunStats {
  return {
    readPackets: 0,
    readBytes: 0,
    writePackets: 0,
    writeBytes: 0,
    writeErrors: 0,
    droppedRingFull: 0,
    droppedTooBig: 0,
    readBatches: 0,
  };
}

/** The largest IP packet a TUN device can hand over (IPv4 total length / IPv6 payload length limit). */
export const MAX_TUN_PACKET = 65535;

/** Linux IFNAMSIZ - 1: interface names are at most 15 bytes. */
export const MAX_IFNAME_BYTES = 15;
