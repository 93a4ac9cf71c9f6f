/**
 * FakeTun: an in-memory TunDevice for unit tests of the layers above it.
 *
 * inject() queues a packet "from the kernel"; readBatch copies queued packets
 * into ring slots exactly as NativeTun reads them (same slot bookkeeping,
 * same drops when the ring is full or a packet is larger than a slot).
 * writeBatch keeps a copy of every packet in `written`. Readiness follows the
 * native device: level-triggered, the handler is called while packets wait.
 * The first call after inject() comes from a microtask; later calls for
 * packets the handler left behind come from setImmediate, one per event loop
 * turn, like a real poll (and so a handler that never reads cannot hang the
 * test in a microtask loop).
 *
 * Allocates freely: it is for tests, not for the hot path.
 */
import type { PacketRing, SlotBatch } from '../buf/packet-ring.ts';
import { WeftError } from '../errors.ts';
import { finishPartialChecksums } from '../offload/partial-checksum.ts';
import { emptyTunStats, MAX_TUN_PACKET } from './tun-device.ts';
import type { TunDevice, TunStats } from './tun-device.ts';

export class FakeTun implements TunDevice {
  readonly name: string;
  readonly stats: TunStats = emptyTunStats();
  /** Copies of every packet written, in order. Tests may clear it. */
  readonly written: Uint8Array[] = [];
  /**
   * When set, writeBatch refuses packets for which it returns true (counted
   * in writeErrors), as the kernel refuses a packet that is not IPv4/IPv6.
   */
  rejectWrite: ((packet: Uint8Array) => boolean) | null = null;

  private readonly queue: Uint8Array[] = [];
  private handler: (() => void) | null = null;
  private scheduled = false;
  private isClosed = false;

  constructor(name = 'fake0') {
    this.name = name;
  }

  /** Queue `packet` to be read; the bytes are copied now, so the caller may reuse its buffer. */
  inject(packet: Uint8Array): void {
    if (this.isClosed) throw new WeftError('TUN_CLOSED', `FakeTun.inject on '${this.name}' after close()`);
    if (packet.length > MAX_TUN_PACKET) {
      throw new WeftError('TUN_CONFIG', `FakeTun.inject: a TUN packet is at most ${MAX_TUN_PACKET} bytes, got ${packet.length}`);
    }
    this.queue.push(packet.slice());
    this.schedule(false);
  }

  /** Packets injected and not yet read. */
  get pending(): number {
    return this.queue.length;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  readBatch(ring: PacketRing, batch: SlotBatch, max: number): number {
    this.checkOpen('readBatch');
    const want = Math.min(max, batch.slots.length - batch.count, this.queue.length);
    if (!(want > 0)) return 0;
    let kept = 0;
    let bytes = 0;
    while (kept < want && this.queue.length > 0) {
      const slot = ring.acquire();
      if (slot < 0) {
        // Same policy as NativeTun: with no free slot, one waiting packet is dropped.
        if (kept === 0) {
          this.queue.shift();
          this.stats.droppedRingFull++;
        }
        break;
      }
      const packet = this.queue.shift()!;
      if (packet.length > ring.capacity) {
        this.stats.droppedTooBig++;
        ring.release(slot);
        continue;
      }
      ring.bytes.set(packet, ring.offset[slot]!);
      ring.length[slot] = packet.length;
      batch.slots[batch.count++] = slot;
      bytes += packet.length;
      kept++;
    }
    if (kept > 0) {
      this.stats.readPackets += kept;
      this.stats.readBytes += bytes;
      this.stats.readBatches++;
    }
    return kept;
  }

  writeBatch(ring: PacketRing, slots: Int32Array, count: number): number {
    this.checkOpen('writeBatch');
    // As a device without offloads: what it is given is what a pod receives.
    finishPartialChecksums(ring, slots, count);
    let n = 0;
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      const off = ring.offset[slot]!;
      const len = ring.length[slot]!;
      const packet = ring.bytes.slice(off, off + len);
      if (this.rejectWrite?.(packet) === true) {
        this.stats.writeErrors++;
        continue;
      }
      this.written.push(packet);
      this.stats.writePackets++;
      this.stats.writeBytes += len;
      n++;
    }
    return n;
  }

  onReadable(handler: (() => void) | null): void {
    if (handler !== null) this.checkOpen('onReadable');
    this.handler = handler;
    this.schedule(false);
  }

  close(): void {
    this.isClosed = true;
    this.handler = null;
    this.queue.length = 0;
  }

  private schedule(nextTurn: boolean): void {
    if (this.scheduled || this.handler === null || this.queue.length === 0) return;
    this.scheduled = true;
    if (nextTurn) setImmediate(this.fire);
    else queueMicrotask(this.fire);
  }

  private readonly fire = (): void => {
    this.scheduled = false;
    if (this.handler === null || this.queue.length === 0) return;
    this.handler();
    this.schedule(true);
  };

  private checkOpen(op: string): void {
    if (this.isClosed) throw new WeftError('TUN_CLOSED', `FakeTun.${op} on '${this.name}' after close()`);
  }
}
