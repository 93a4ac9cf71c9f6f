/**
 * PacketRing: every packet weft touches lives in one preallocated ArrayBuffer,
 * cut into fixed slots. A slot is laid out as
 *
 *     base                 base+headroom                       base+headroom+capacity
 *      | headroom (outer   | packet bytes (up to capacity)      | tailroom (AEAD tag, |
 *      | headers go here)  |                                    | padding)            |
 *
 * so that encapsulation writes its header in front of the packet and its tag
 * behind it without copying the packet. Each slot's current packet is
 * described by two numbers kept in typed arrays indexed by slot: `offset`
 * (absolute byte offset of the first packet byte in `buffer`) and `length`.
 * The native layer reads and writes those same arrays, so a batch crosses
 * from C to JavaScript as slot numbers, never as objects.
 *
 * Ownership is explicit and checked: a slot is Free (on the free stack),
 * Owned (acquired by a reader or a stage that is working on it) or InFlight
 * (handed to a transport whose send has not completed). Only release() puts
 * it back on the free stack, so a slot is never reused while the kernel may
 * still be reading it. When no slot is free, acquire() returns -1 and counts
 * the miss; the ring never grows.
 */
import { WeftError } from '../errors.ts';

export const SlotState = {
  Free: 0,
  Owned: 1,
  InFlight: 2,
} as const;
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

/**
 * What a slot's TCP checksum field holds (PacketRing.csum), for the checksum
 * work that someone further along may do instead of weft
 * (docs/ARCHITECTURE.md, "Checksums left partial").
 */
export const CsumState = {
  /** As the packet arrived or was made: a checksum a receiver verifies. */
  Complete: 0,
  /**
   * A TCP packet whose checksum field holds only the folded pseudo-header sum
   * (CHECKSUM_PARTIAL): whoever takes it next must finish it (the peer, for
   * one that said it will, or the kernel, told by NEEDS_CSUM).
   */
  Partial: 1,
  /**
   * Received and authenticated end to end (a WireGuard AEAD tag): the TCP
   * checksum needs no verifying, and may be replaced by the partial form.
   */
  Authenticated: 2,
} as const;
export type CsumState = (typeof CsumState)[keyof typeof CsumState];

/** Outer headers need at most this much: VXLAN+Ethernet 22, WireGuard 16, a virtio-net header 10. */
export const MIN_HEADROOM = 64;
/** A ChaCha20-Poly1305 tag (16) plus WireGuard's padding to 16 bytes (at most 15). */
export const MIN_TAILROOM = 32;
/** Tailroom unless told otherwise. */
export const DEFAULT_TAILROOM = 64;
/** Slots start on cache-line boundaries so two slots never share a line. */
const SLOT_ALIGN = 64;
/** A slot's packet capacity unless told otherwise: a 1500-byte underlay's datagrams with room to spare (2 KiB slots). */
export const DEFAULT_CAPACITY = 1920;

/**
 * The slot capacity for an underlay whose packets are at most `underlayMtu`
 * bytes: every datagram it delivers (the UDP payload is smaller than the
 * packet) and every inner packet that fits it once encapsulated, rounded up
 * to whole cache lines; never below DEFAULT_CAPACITY. A 9000-byte underlay
 * gets 9024-byte capacities (9.1 KiB slots), so jumbo frames cross whole.
 */
export function capacityFor(underlayMtu: number): number {
  return Math.max(DEFAULT_CAPACITY, Math.min(65535, Math.ceil(underlayMtu / SLOT_ALIGN) * SLOT_ALIGN));
}

export interface PacketRingOptions {
  /** Number of slots; the ring's whole capacity in packets. */
  slots: number;
  /** Largest packet a slot holds between headroom and tailroom. Default DEFAULT_CAPACITY (2 KiB slots); capacityFor(mtu) for an underlay. */
  capacity?: number;
  /** Bytes reserved in front of the packet. Default and minimum 64. */
  headroom?: number;
  /** Bytes reserved behind the packet. Default 64, minimum 32. */
  tailroom?: number;
  /**
   * Bytes after the slots for staging areas (reserveStaging): buffers that
   * hold data on its way into slots, such as a TUN super-packet or a UDP GRO
   * run. In the same ArrayBuffer as the slots, so the copy into a slot is a
   * native memmove (copyWithin) rather than a JavaScript loop. Default 0.
   */
  staging?: number;
}

/** Where an owner stages data on its way into slots (PacketRing.stagingArea). */
export interface StagingArea {
  /** The ring's buffer when inRing, else one of the owner's own. */
  readonly buffer: ArrayBuffer;
  /** All of `buffer` as bytes; the area starts at `base`. */
  readonly bytes: Uint8Array;
  readonly base: number;
  readonly inRing: boolean;
}

/** The ring as status shows it: its slots, those free now, and how often a reader found none. */
export interface RingStatus {
  slots: number;
  free: number;
  exhausted: number;
}

export class PacketRing {
  readonly slotCount: number;
  readonly headroom: number;
  readonly tailroom: number;
  readonly capacity: number;
  /** Distance between the starts of two consecutive slots. */
  readonly slotSize: number;
  readonly buffer: ArrayBuffer;
  /** The whole ring as bytes; index with absolute offsets. */
  readonly bytes: Uint8Array;
  /** The whole ring as a DataView, for big-endian header fields. */
  readonly view: DataView;
  /** Absolute offset of each slot's first packet byte. */
  readonly offset: Int32Array;
  /** Length of each slot's packet in bytes. */
  readonly length: Int32Array;
  /**
   * One Buffer per slot, covering the whole slot, made once here so that
   * APIs that want a Buffer (dgram.send) get one without a per-packet view.
   * Index into it with `offset[slot] - baseOf(slot)`.
   */
  readonly slotBuffers: readonly Buffer[];
  /** Per slot, a CsumState: what its TCP checksum field holds. Complete when acquired. */
  readonly csum: Uint8Array;

  private readonly state: Uint8Array;
  /** Where the next staging reservation starts; staging runs to the end of the buffer. */
  private stagingNext: number;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private exhaustedCount = 0;

  constructor(options: PacketRingOptions) {
    const slots = options.slots;
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    const headroom = options.headroom ?? MIN_HEADROOM;
    const tailroom = options.tailroom ?? DEFAULT_TAILROOM;
    if (!Number.isInteger(slots) || slots < 1 || slots > 1 << 20) {
      throw new WeftError('RING_CONFIG', `ring slots must be an integer from 1 to ${1 << 20}, got ${slots}`);
    }
    if (!Number.isInteger(capacity) || capacity < 576 || capacity > 65535) {
      throw new WeftError('RING_CONFIG', `ring capacity must be an integer from 576 to 65535 bytes, got ${capacity}`);
    }
    if (!Number.isInteger(headroom) || headroom < MIN_HEADROOM || headroom > 4096) {
      throw new WeftError('RING_CONFIG', `ring headroom must be an integer from ${MIN_HEADROOM} to 4096 bytes, got ${headroom}`);
    }
    if (!Number.isInteger(tailroom) || tailroom < MIN_TAILROOM || tailroom > 4096) {
      throw new WeftError('RING_CONFIG', `ring tailroom must be an integer from ${MIN_TAILROOM} to 4096 bytes, got ${tailroom}`);
    }
    const slotSize = Math.ceil((headroom + capacity + tailroom) / SLOT_ALIGN) * SLOT_ALIGN;
    const staging = options.staging ?? 0;
    if (!Number.isInteger(staging) || staging < 0 || staging > 1 << 26) {
      throw new WeftError('RING_CONFIG', `ring staging must be an integer from 0 to ${1 << 26} bytes, got ${staging}`);
    }
    const stagingSize = Math.ceil(staging / SLOT_ALIGN) * SLOT_ALIGN;
    if (slots * slotSize + stagingSize > 2 ** 31 - 1) {
      throw new WeftError('RING_CONFIG', `ring of ${slots} slots of ${slotSize} bytes exceeds 2 GiB; use fewer slots`);
    }
    this.slotCount = slots;
    this.headroom = headroom;
    this.tailroom = tailroom;
    this.capacity = capacity;
    this.slotSize = slotSize;
    this.buffer = new ArrayBuffer(slots * slotSize + stagingSize);
    this.stagingNext = slots * slotSize;
    this.bytes = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.offset = new Int32Array(slots);
    this.length = new Int32Array(slots);
    this.state = new Uint8Array(slots);
    this.csum = new Uint8Array(slots);
    this.freeStack = new Int32Array(slots);
    const views: Buffer[] = [];
    // Fill the stack so that slot 0 is acquired first: tests and dumps read naturally.
    for (let i = 0; i < slots; i++) {
      this.freeStack[i] = slots - 1 - i;
      this.offset[i] = i * slotSize + headroom;
      views.push(Buffer.from(this.buffer, i * slotSize, slotSize));
    }
    this.freeTop = slots;
    this.slotBuffers = views;
  }

  /** Take a free slot and reset its packet to empty at the headroom boundary; -1 when none is free. */
  acquire(): number {
    if (this.freeTop === 0) {
      this.exhaustedCount++;
      return -1;
    }
    const slot = this.freeStack[--this.freeTop]!;
    this.state[slot] = SlotState.Owned;
    this.offset[slot] = slot * this.slotSize + this.headroom;
    this.length[slot] = 0;
    this.csum[slot] = CsumState.Complete;
    return slot;
  }

  /**
   * Fill `out` with up to `max` free slots; returns how many it took. A short
   * batch counts as one exhaustion, so the counter reads "times a reader found
   * the ring empty" rather than "packets that could have been read".
   */
  acquireBatch(out: Int32Array, max: number): number {
    const want = Math.min(max, out.length);
    let n = 0;
    while (n < want && this.freeTop > 0) {
      const slot = this.freeStack[--this.freeTop]!;
      this.state[slot] = SlotState.Owned;
      this.offset[slot] = slot * this.slotSize + this.headroom;
      this.length[slot] = 0;
      this.csum[slot] = CsumState.Complete;
      out[n++] = slot;
    }
    if (n < want) this.exhaustedCount++;
    return n;
  }

  /** Owned -> InFlight: the slot now belongs to a send that has not completed. */
  markInFlight(slot: number): void {
    if (this.state[slot] !== SlotState.Owned) this.misuse('markInFlight', slot);
    this.state[slot] = SlotState.InFlight;
  }

  /** Owned or InFlight -> Free. Releasing a free slot is a bug and throws. */
  release(slot: number): void {
    if (this.state[slot] === SlotState.Free || slot < 0 || slot >= this.slotCount) this.misuse('release', slot);
    this.state[slot] = SlotState.Free;
    this.freeStack[this.freeTop++] = slot;
  }

  /** Release `count` slots listed in `slots`. */
  releaseBatch(slots: Int32Array, count: number): void {
    for (let i = 0; i < count; i++) this.release(slots[i]!);
  }

  stateOf(slot: number): SlotState {
    return this.state[slot] as SlotState;
  }

  /** Absolute offset of the slot's first byte (the start of its headroom). */
  baseOf(slot: number): number {
    return slot * this.slotSize;
  }

  /** Bytes free in front of the slot's packet. */
  headroomOf(slot: number): number {
    return this.offset[slot]! - slot * this.slotSize;
  }

  /** Bytes free behind the slot's packet, up to the end of the slot. */
  tailroomOf(slot: number): number {
    return (slot + 1) * this.slotSize - (this.offset[slot]! + this.length[slot]!);
  }

  /**
   * Grow the packet forward by `n` bytes (to write an outer header in front of
   * it). Returns the new absolute offset, or -1 if the headroom is too small.
   */
  prepend(slot: number, n: number): number {
    const off = this.offset[slot]! - n;
    if (off < slot * this.slotSize) return -1;
    this.offset[slot] = off;
    this.length[slot] = this.length[slot]! + n;
    return off;
  }

  /** Drop `n` bytes from the front of the packet (an outer header was read). */
  consume(slot: number, n: number): void {
    this.offset[slot] = this.offset[slot]! + n;
    this.length[slot] = this.length[slot]! - n;
  }

  /** Grow the packet by `n` bytes at its end; false if the tailroom is too small. */
  append(slot: number, n: number): boolean {
    if (this.tailroomOf(slot) < n) return false;
    this.length[slot] = this.length[slot]! + n;
    return true;
  }

  /**
   * Reserve `bytes` of the staging area (see PacketRingOptions.staging) for
   * one owner, for good; returns its absolute offset in `buffer`
   * (cache-line aligned), or -1 when too little is left, and the caller
   * stages in memory of its own instead.
   */
  reserveStaging(bytes: number): number {
    const size = Math.ceil(bytes / SLOT_ALIGN) * SLOT_ALIGN;
    if (!(size > 0) || this.stagingNext + size > this.buffer.byteLength) return -1;
    const at = this.stagingNext;
    this.stagingNext += size;
    return at;
  }

  /**
   * A staging area of `bytes` for one owner: reserved in the ring's own
   * buffer when there is room (so copies into slots are a native memmove),
   * else a buffer of its own. Cold path: owners call it once, when made.
   */
  stagingArea(bytes: number): StagingArea {
    const base = this.reserveStaging(bytes);
    if (base >= 0) return { buffer: this.buffer, bytes: this.bytes, base, inRing: true };
    const buffer = new ArrayBuffer(bytes);
    return { buffer, bytes: new Uint8Array(buffer), base: 0, inRing: false };
  }

  /** A fresh Uint8Array over the slot's packet. Allocates: for tests and cold paths only. */
  packetOf(slot: number): Uint8Array {
    return new Uint8Array(this.buffer, this.offset[slot]!, this.length[slot]!);
  }

  /** Slots currently on the free stack. */
  get free(): number {
    return this.freeTop;
  }

  /** Slots Owned or InFlight. */
  get inUse(): number {
    return this.slotCount - this.freeTop;
  }

  /** Times acquire() or acquireBatch() came back short because the ring was empty. */
  get exhausted(): number {
    return this.exhaustedCount;
  }

  /** For status: a copy of the counters above. */
  status(): RingStatus {
    return { slots: this.slotCount, free: this.freeTop, exhausted: this.exhaustedCount };
  }

  private misuse(op: string, slot: number): never {
    throw new WeftError(
      'RING_MISUSE',
      `PacketRing.${op}(${slot}) on a slot in state ${this.state[slot] ?? 'out of range'}: a slot has one owner at a time`,
    );
  }
}

/**
 * A reusable list of slot numbers that moves between stages as one unit
 * (TUN read -> encapsulate -> send). Allocated once per stage, never per batch.
 */
export class SlotBatch {
  readonly slots: Int32Array;
  count = 0;

  constructor(max: number) {
    this.slots = new Int32Array(max);
  }

  get max(): number {
    return this.slots.length;
  }

  clear(): void {
    this.count = 0;
  }

  push(slot: number): boolean {
    if (this.count === this.slots.length) return false;
    this.slots[this.count++] = slot;
    return true;
  }
}
