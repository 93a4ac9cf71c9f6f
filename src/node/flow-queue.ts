/**
 * FlowQueue: the router's own queue between the TUN device and the
 * encapsulations, flow queueing with CoDel in the manner of FQ-CoDel
 * (RFC 8290, with CoDel from RFC 8289), over PacketRing slots.
 *
 * Why it exists: while a bulk TCP flow runs, weft is the bottleneck, so
 * packets wait somewhere in front of it. Left to the kernel, they wait in
 * the TUN device's FIFO (txqueuelen packets of up to 64 KiB each: tens of
 * milliseconds), where a ping or an RPC waits behind the whole train, and
 * the kernel's tail drop (which Linux 6.18's TUN does instead of stopping
 * the queue) hits whichever packet comes last. So the router reads the
 * device as fast as it can and queues here, where it can choose:
 *  - each flow (hash of addresses, protocol and ports) has its own queue,
 *    served by deficit round robin; a flow that was idle goes first (the
 *    new-flows list), so a ping or a request overtakes a bulk train;
 *  - each queue runs CoDel: when its packets have waited longer than
 *    `target` for a whole `interval`, it drops (or marks CE, when the
 *    packet is ECN-capable) at increasing rate, which tells TCP to slow
 *    down before the standing queue becomes latency for everyone;
 *  - past `limit` packets, the head of the fattest flow is dropped, never
 *    the newcomer's.
 *
 * Everything lives in typed arrays sized at construction: the per-slot
 * next pointer and enqueue time, the per-flow queues and CoDel state, and
 * the two flow lists. Enqueue and dequeue allocate nothing.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import { markCongestionExperienced } from '../wire/ecn.ts';

export interface FlowQueueOptions {
  ring: PacketRing;
  /** Flow queues (a power of two). Default 1024, as fq_codel. */
  flows?: number;
  /** Packets queued at most; past it the fattest flow loses its head. Default 1024. */
  limit?: number;
  /** Bytes a flow may send per round: about one MTU. Default 1514. */
  quantum?: number;
  /** CoDel's acceptable standing delay, ms. Default 1. */
  targetMs?: number;
  /** CoDel's interval: how long the delay must stay above target before dropping, ms. Default 10. */
  intervalMs?: number;
  /** Hash seed, so a sender cannot aim flows at one queue. Default random. */
  seed?: number;
  /** Where to count (the router's stats); default an object of its own. */
  stats?: FlowQueueStats;
  /**
   * The standing queue CoDel controls is outside this one (the socket's
   * receive queue, whose wait each packet's enqueue time carries), and this
   * queue is emptied every batch. Then a flow with at most a quantum here
   * is still not dropped (a sparse flow, or a batch's last packet), but
   * that no longer means its delay went away: only a packet below target
   * does. Default false: RFC 8289's rule, for a queue that is the standing one.
   */
  queueOutside?: boolean;
}

export interface FlowQueueStats {
  enqueued: number;
  /** Dropped by CoDel (the delay stayed above target), and marked CE instead of dropped. */
  codelDrops: number;
  ecnMarks: number;
  /** Dropped from the fattest flow because the queue was at its packet limit. */
  overlimitDrops: number;
}

const NONE = -1;
/** Packets dropped from the fattest flow per scan when over the limit (fq_codel's drop batch). */
const OVERLIMIT_BATCH = 64;
/** Which list a flow is on. */
const OFF = 0;
const NEW = 1;
const OLD = 2;

export class FlowQueue {
  readonly stats: FlowQueueStats;
  private readonly ring: PacketRing;
  private readonly mask: number;
  private readonly limit: number;
  private readonly quantum: number;
  private readonly target: number;
  private readonly interval: number;
  private readonly seed: number;
  private readonly queueOutside: boolean;
  // per slot
  private readonly next: Int32Array;
  private readonly enqueuedAt: Float64Array;
  private readonly flowOf: Int32Array;
  // per flow
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly backlog: Float64Array;
  private readonly deficit: Int32Array;
  private readonly list: Uint8Array;
  private readonly listNext: Int32Array;
  private readonly dropping: Uint8Array;
  private readonly dropCount: Int32Array;
  private readonly lastDropCount: Int32Array;
  private readonly firstAbove: Float64Array;
  private readonly dropNext: Float64Array;
  // the two lists of flows with packets (or just emptied, on the new list)
  private newHead = NONE;
  private newTail = NONE;
  private oldHead = NONE;
  private oldTail = NONE;
  /** Packets and bytes queued now. */
  packets = 0;
  bytes = 0;

  constructor(options: FlowQueueOptions) {
    const flows = options.flows ?? 1024;
    if (!Number.isInteger(flows) || flows < 1 || (flows & (flows - 1)) !== 0) throw new RangeError(`FlowQueue flows must be a power of two, got ${flows}`);
    this.ring = options.ring;
    this.stats = options.stats ?? { enqueued: 0, codelDrops: 0, ecnMarks: 0, overlimitDrops: 0 };
    this.mask = flows - 1;
    this.limit = options.limit ?? 1024;
    this.quantum = options.quantum ?? 1514;
    this.target = options.targetMs ?? 1;
    this.interval = options.intervalMs ?? 10;
    this.queueOutside = options.queueOutside ?? false;
    this.seed = (options.seed ?? Math.floor(Math.random() * 0x100000000)) | 0;
    const slots = options.ring.slotCount;
    this.next = new Int32Array(slots).fill(NONE);
    this.enqueuedAt = new Float64Array(slots);
    this.flowOf = new Int32Array(slots);
    this.head = new Int32Array(flows).fill(NONE);
    this.tail = new Int32Array(flows).fill(NONE);
    this.backlog = new Float64Array(flows);
    this.deficit = new Int32Array(flows);
    this.list = new Uint8Array(flows);
    this.listNext = new Int32Array(flows).fill(NONE);
    this.dropping = new Uint8Array(flows);
    this.dropCount = new Int32Array(flows);
    this.lastDropCount = new Int32Array(flows);
    this.firstAbove = new Float64Array(flows);
    this.dropNext = new Float64Array(flows);
  }

  /** Queue the IP packet in `slot` (taken over), stamped `now` (ms). */
  enqueue(slot: number, now: number): void {
    const ring = this.ring;
    const flow = flowHash(ring.bytes, ring.offset[slot]!, ring.length[slot]!, this.seed) & this.mask;
    this.flowOf[slot] = flow;
    this.enqueuedAt[slot] = now;
    this.next[slot] = NONE;
    const tail = this.tail[flow]!;
    if (tail === NONE) this.head[flow] = slot;
    else this.next[tail] = slot;
    this.tail[flow] = slot;
    const len = ring.length[slot]!;
    this.backlog[flow] = this.backlog[flow]! + len;
    this.packets++;
    this.bytes += len;
    this.stats.enqueued++;
    if (this.list[flow] === OFF) {
      this.list[flow] = NEW;
      this.deficit[flow] = this.quantum;
      this.append(flow, NEW);
    }
    if (this.packets > this.limit) this.dropFattest();
  }

  /** The next packet to send (the caller takes the slot), or -1 when empty. `now` in ms. */
  dequeue(now: number): number {
    for (;;) {
      const fromNew = this.newHead !== NONE;
      const flow = fromNew ? this.newHead : this.oldHead;
      if (flow === NONE) return NONE;
      if (this.deficit[flow]! <= 0) {
        // Spent its quantum: it goes to the back of the old flows with a fresh one.
        this.deficit[flow] = this.deficit[flow]! + this.quantum;
        this.shift(fromNew);
        this.list[flow] = OLD;
        this.append(flow, OLD);
        continue;
      }
      const slot = this.codelDequeue(flow, now);
      if (slot === NONE) {
        this.shift(fromNew);
        // An emptied new flow waits one turn on the old list, so a flow that sends
        // one packet per quantum cannot stay "new" forever and starve the others.
        if (fromNew && this.oldHead !== NONE) {
          this.list[flow] = OLD;
          this.append(flow, OLD);
        } else this.list[flow] = OFF;
        continue;
      }
      this.deficit[flow] = this.deficit[flow]! - this.ring.length[slot]!;
      return slot;
    }
  }

  /** Release every queued packet (stopping). */
  clear(): void {
    for (let flow = 0; flow <= this.mask; flow++) {
      for (let s = this.head[flow]!; s !== NONE; s = this.next[s]!) this.ring.release(s);
      this.head[flow] = NONE;
      this.tail[flow] = NONE;
      this.backlog[flow] = 0;
      this.list[flow] = OFF;
      this.dropping[flow] = 0;
    }
    this.newHead = this.newTail = this.oldHead = this.oldTail = NONE;
    this.packets = 0;
    this.bytes = 0;
  }

  /** RFC 8289's dequeue for one flow: the head packet, after any drops CoDel's state calls for. */
  private codelDequeue(flow: number, now: number): number {
    let slot = this.pop(flow);
    if (slot === NONE) {
      this.dropping[flow] = 0;
      return NONE;
    }
    let okToDrop = this.aboveTarget(flow, slot, now);
    if (this.dropping[flow] !== 0) {
      if (!okToDrop) this.dropping[flow] = 0;
      while (this.dropping[flow] !== 0 && now >= this.dropNext[flow]!) {
        this.dropCount[flow] = this.dropCount[flow]! + 1;
        if (this.signal(slot)) {
          // Marked, not dropped: it goes out, and the next drop is scheduled.
          this.dropNext[flow] = this.controlLaw(this.dropNext[flow]!, this.dropCount[flow]!);
          return slot;
        }
        slot = this.pop(flow);
        if (slot === NONE) {
          this.dropping[flow] = 0;
          return NONE;
        }
        okToDrop = this.aboveTarget(flow, slot, now);
        if (!okToDrop) this.dropping[flow] = 0;
        else this.dropNext[flow] = this.controlLaw(this.dropNext[flow]!, this.dropCount[flow]!);
      }
      return slot;
    }
    if (okToDrop) {
      // Enter dropping. If it was dropping recently, resume near the rate it had reached.
      const delta = this.dropCount[flow]! - this.lastDropCount[flow]!;
      this.dropCount[flow] = delta > 1 && now - this.dropNext[flow]! < 16 * this.interval ? delta : 1;
      this.lastDropCount[flow] = this.dropCount[flow]!;
      this.dropping[flow] = 1;
      this.dropNext[flow] = this.controlLaw(now, this.dropCount[flow]!);
      if (this.signal(slot)) return slot;
      slot = this.pop(flow);
      if (slot === NONE) this.dropping[flow] = 0;
    }
    return slot;
  }

  /** Has this flow's delay been above target for a whole interval? (RFC 8289's "ok to drop".) */
  private aboveTarget(flow: number, slot: number, now: number): boolean {
    const below = now - this.enqueuedAt[slot]! < this.target;
    if (below || this.backlog[flow]! <= this.quantum) {
      if (below || !this.queueOutside) this.firstAbove[flow] = 0;
      return false;
    }
    if (this.firstAbove[flow] === 0) {
      this.firstAbove[flow] = now + this.interval;
      return false;
    }
    return now >= this.firstAbove[flow]!;
  }

  private controlLaw(t: number, count: number): number {
    return t + this.interval / Math.sqrt(count);
  }

  /** Signal congestion with `slot`: true when marked CE (keep it), false when dropped (released). */
  private signal(slot: number): boolean {
    const ring = this.ring;
    if (markCongestionExperienced(ring.bytes, ring.offset[slot]!, ring.length[slot]!)) {
      this.stats.ecnMarks++;
      return true;
    }
    this.stats.codelDrops++;
    ring.release(slot);
    return false;
  }

  /**
   * Over the packet limit: drop from the head of the flow with the most bytes
   * queued (RFC 8290 section 4.1), up to half its backlog and at most
   * OVERLIMIT_BATCH packets, so the scan over every flow is paid once per
   * batch rather than once per packet of a flood.
   */
  private dropFattest(): void {
    let fattest = 0;
    for (let flow = 1; flow <= this.mask; flow++) if (this.backlog[flow]! > this.backlog[fattest]!) fattest = flow;
    const keep = this.backlog[fattest]! / 2;
    for (let i = 0; i < OVERLIMIT_BATCH && this.backlog[fattest]! > keep; i++) {
      const slot = this.pop(fattest);
      if (slot === NONE) return;
      this.stats.overlimitDrops++;
      this.ring.release(slot);
    }
  }

  private pop(flow: number): number {
    const slot = this.head[flow]!;
    if (slot === NONE) return NONE;
    const next = this.next[slot]!;
    this.head[flow] = next;
    if (next === NONE) this.tail[flow] = NONE;
    const len = this.ring.length[slot]!;
    this.backlog[flow] = this.backlog[flow]! - len;
    this.packets--;
    this.bytes -= len;
    return slot;
  }

  private append(flow: number, to: number): void {
    this.listNext[flow] = NONE;
    if (to === NEW) {
      if (this.newTail === NONE) this.newHead = flow;
      else this.listNext[this.newTail] = flow;
      this.newTail = flow;
    } else {
      if (this.oldTail === NONE) this.oldHead = flow;
      else this.listNext[this.oldTail] = flow;
      this.oldTail = flow;
    }
  }

  /** Remove the head of the new (or old) list. */
  private shift(fromNew: boolean): void {
    if (fromNew) {
      const flow = this.newHead;
      this.newHead = this.listNext[flow]!;
      if (this.newHead === NONE) this.newTail = NONE;
    } else {
      const flow = this.oldHead;
      this.oldHead = this.listNext[flow]!;
      if (this.oldHead === NONE) this.oldTail = NONE;
    }
  }
}

/**
 * A flow's hash: addresses, protocol and, for TCP and UDP (and not a later
 * fragment), the ports. Anything shorter or unknown hashes by what is there,
 * so it is never thrown on.
 */
export function flowHash(bytes: Uint8Array, off: number, len: number, seed: number): number {
  let h = seed ^ 0x811c9dc5;
  const version = len > 0 ? bytes[off]! >> 4 : 0;
  let from = off;
  let to = off;
  let proto = 0;
  let ports = -1;
  if (version === 4 && len >= 20) {
    from = off + 12;
    to = off + 20;
    proto = bytes[off + 9]!;
    const ihl = (bytes[off]! & 0x0f) * 4;
    const fragmentOffset = ((bytes[off + 6]! & 0x1f) << 8) | bytes[off + 7]!;
    if (fragmentOffset === 0 && len >= ihl + 4) ports = off + ihl;
  } else if (version === 6 && len >= 40) {
    from = off + 8;
    to = off + 40;
    proto = bytes[off + 6]!;
    if (len >= 44) ports = off + 40;
  }
  for (let i = from; i < to; i += 4) h = Math.imul(h ^ ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!), 0x01000193);
  h = Math.imul(h ^ proto, 0x01000193);
  if (ports >= 0 && (proto === 6 || proto === 17)) h = Math.imul(h ^ ((bytes[ports]! << 24) | (bytes[ports + 1]! << 16) | (bytes[ports + 2]! << 8) | bytes[ports + 3]!), 0x01000193);
  // Final avalanche, so the low bits (the queue index) depend on every input bit.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
