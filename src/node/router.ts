/**
 * The router: the loop that moves packets between the TUN device and the
 * data plane's sockets. It owns no protocol logic; it owns the rhythm. TUN
 * readiness drives outbound work in batches; each received datagram is
 * handed to the data plane with the encapsulation whose socket it came in
 * on and, when it yields an inner packet, written to the TUN device: at the end of the transport's receive batch
 * when the transport reports one (so the device can coalesce a flow's
 * segments into one write), at once otherwise.
 *
 * Outbound packets pass through a FlowQueue (flow-queue.ts): each TUN
 * readiness reads what the device has (at most `tunBudget` batches) into
 * it, then sends at most `sendBudget` packets from it, new flows first; what
 * is left is sent on the next turn (setImmediate), after the sockets have
 * had theirs. So the queue in front of weft lives where weft can order it
 * and keep it short, not in the device's FIFO, and neither direction can
 * starve the other.
 */
import { CsumState, SlotBatch } from '../buf/packet-ring.ts';
import type { PacketRing } from '../buf/packet-ring.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';
import { Received } from '../dataplane/encapsulation.ts';
import type { Encapsulation } from '../dataplane/encapsulation.ts';
import type { Transport } from '../transport/transport.ts';
import type { TunDevice } from '../tun/tun-device.ts';
import { writeTooBig } from '../wire/icmp-too-big.ts';
import { FlowQueue } from './flow-queue.ts';
import type { FlowQueueOptions, FlowQueueStats } from './flow-queue.ts';
import { IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, isLinkScopedDestination } from '../wire/ip.ts';

export interface RouterOptions {
  ring: PacketRing;
  tun: TunDevice;
  /** Sends through the peer table; each encapsulation's socket is listened on. */
  dataplane: Dataplane;
  /** Packets read from the TUN device per batch. Default 64. */
  batchSize?: number;
  /** Batches read per readiness callback before yielding to the event loop. Default 8. */
  tunBudget?: number;
  /** Packets sent from the flow queue per turn of the event loop. Default 128: two send batches. */
  sendBudget?: number;
  /** Milliseconds from a monotonic clock, for the queues' delays. Default performance.now; tests pass their own. */
  clock?: () => number;
  /** The outbound flow queue's settings (its ring is this router's). */
  queue?: Omit<FlowQueueOptions, 'ring'>;
  /** Received packets held for one TUN write batch at most. Default 256. */
  writeBatchSize?: number;
  /**
   * The largest inner packet the underlay carries once encapsulated (its MTU
   * less the encapsulation's overhead). A larger packet from the device (its
   * MTU raised by hand, a smaller underlay) is answered like a router would:
   * ICMP "fragmentation needed" / ICMPv6 "packet too big". Default: no limit.
   */
  maxPacket?: number;
}

/** "Too big" answers per TUN readiness callback at most: the sender learns from the first; a flood costs little. */
const TOO_BIG_ANSWERS_PER_CALLBACK = 8;

export interface RouterStats extends FlowQueueStats {
  /** Readiness callbacks that read at least one packet, and the packets they read. */
  tunBatches: number;
  tunPackets: number;
  /** Inner packets written to the TUN device, and writes that failed. */
  delivered: number;
  tunWriteErrors: number;
  /** Multicast, broadcast and link-local packets from the TUN device: link-scoped, never forwarded. */
  linkScoped: number;
  /** Packets too big for the underlay once encapsulated (dropped), and those answered with ICMP too big. */
  tooBig: number;
  tooBigAnswered: number;
}

export class Router {
  readonly stats: RouterStats = {
    tunBatches: 0,
    tunPackets: 0,
    delivered: 0,
    tunWriteErrors: 0,
    linkScoped: 0,
    tooBig: 0,
    tooBigAnswered: 0,
    enqueued: 0,
    codelDrops: 0,
    ecnMarks: 0,
    overlimitDrops: 0,
  };
  private readonly ring: PacketRing;
  private readonly tun: TunDevice;
  private readonly dataplane: Dataplane;
  /** Every encapsulation's socket, flushed after each TUN readiness. */
  private readonly transports: Transport[];
  private readonly batch: SlotBatch;
  private readonly tunBudget: number;
  private readonly sendBudget: number;
  private readonly clock: () => number;
  /** Outbound packets read from the device and not yet sent. */
  readonly queue: FlowQueue;
  /**
   * Inbound packets of the receive batch under way, written at its end in
   * flow order. Its CoDel acts on how long they waited in the socket's queue.
   */
  readonly inbound: FlowQueue;
  /** When the receive batch under way started (ms), -1 between batches. */
  private inboundNow = -1;
  private sendScheduled = false;
  /** Received inner packets waiting for the end of their receive batch. */
  private readonly pendingWrites: Int32Array;
  private pendingCount = 0;
  private running = false;
  private readonly maxPacket: number;

  constructor(options: RouterOptions) {
    this.ring = options.ring;
    this.tun = options.tun;
    this.dataplane = options.dataplane;
    this.transports = this.dataplane.encapsulations.map((e) => e.transport);
    this.batch = new SlotBatch(options.batchSize ?? 64);
    this.pendingWrites = new Int32Array(options.writeBatchSize ?? 256);
    this.tunBudget = options.tunBudget ?? 8;
    this.sendBudget = options.sendBudget ?? 128;
    this.clock = options.clock ?? (() => performance.now());
    // Three quarters of the ring: a full queue leaves slots for receiving, and the limit stays above what
    // the pods' TCP keeps in flight here (BBR, whose window grows with ACK bursts: four streams kept more
    // than 3,072 segments, so the default ring is 8,192); below it the over-limit drops cost four streams
    // 20 to 40% of their throughput in retransmissions (docs/ARCHITECTURE.md, "Queues").
    // CoDel outbound at RFC 8289's 5 ms / 100 ms: a ping never waits in this queue (it is its own flow), so
    // the target only sets how hard bulk flows are pushed back; measured against 1 ms / 10 ms, the latency
    // under load was the same and TCP lost 5 to 10% less throughput to retransmissions.
    this.queue = new FlowQueue({ limit: Math.floor((this.ring.slotCount * 3) / 4), targetMs: 5, intervalMs: 100, ...options.queue, ring: this.ring, stats: this.stats });
    // Written at every batch end and whenever it holds a write batch, so its limit is never reached.
    // Inbound at 1 ms / 10 ms: this standing queue is the socket's FIFO, where a ping does wait behind bulk.
    this.inbound = new FlowQueue({ targetMs: 1, intervalMs: 10, ...options.queue, limit: this.pendingWrites.length, queueOutside: true, ring: this.ring, stats: this.stats });
    this.maxPacket = options.maxPacket ?? Infinity;
    this.pumpTun = this.pumpTun.bind(this);
    this.flushWrites = this.flushWrites.bind(this);
    this.sendLater = this.sendLater.bind(this);
  }



  start(): void {
    if (this.running) return;
    this.running = true;
    this.tun.onReadable(this.pumpTun);
    for (const e of this.dataplane.encapsulations) this.listen(e);
  }

  /** One handler per socket, made once here, never per datagram. */
  private listen(encapsulation: Encapsulation): void {
    const transport = encapsulation.transport;
    if (transport.onBatchEnd) {
      transport.onReceive((slot, a, p) => this.deliver(encapsulation, slot, a, p));
      transport.onBatchEnd(this.flushWrites);
    } else {
      transport.onReceive((slot, a, p) => {
        this.deliver(encapsulation, slot, a, p);
        this.flushWrites();
      });
    }
  }

  stop(): void {
    this.running = false;
    this.tun.onReadable(null);
    for (const transport of this.transports) {
      transport.onReceive(null);
      transport.onBatchEnd?.(null);
    }
    this.flushWrites();
    this.queue.clear();
    this.inbound.clear();
  }

  /** Read what the TUN device has ready into the flow queue, a bounded number of batches, then send a turn's worth. */
  pumpTun(): void {
    const batch = this.batch;
    const max = batch.max;
    const queue = this.queue;
    // One clock reading per callback: the packets of one read waited from the same moment on.
    const now = this.clock();
    let answers = TOO_BIG_ANSWERS_PER_CALLBACK;
    for (let round = 0; round < this.tunBudget; round++) {
      batch.count = 0;
      const n = this.tun.readBatch(this.ring, batch, max);
      if (n === 0) break;
      this.stats.tunBatches++;
      this.stats.tunPackets += n;
      const slots = batch.slots;
      const ring = this.ring;
      for (let i = 0; i < n; i++) {
        const slot = slots[i]!;
        const off = ring.offset[slot]!;
        // The data plane validates the header and counts malformed packets; here only
        // enough bytes to read the destination are needed (IPv4 20, IPv6 40).
        const v = ring.bytes[off]! >> 4;
        const len = ring.length[slot]!;
        if (((v === 4 && len >= IPV4_MIN_HEADER_LEN) || (v === 6 && len >= IPV6_HEADER_LEN)) && isLinkScopedDestination(ring.bytes, off)) {
          this.stats.linkScoped++;
          ring.release(slot);
        } else if (len > this.maxPacket) {
          if (this.tooBig(slot, off, len, answers > 0)) answers--;
        } else queue.enqueue(slot, now);
      }
      if (n < max) break;
    }
    // "Too big" answers go back to the device now: no receive batch is open inside this callback.
    this.flushWrites();
    this.send(now);
  }

  /**
   * Send up to sendBudget packets from the flow queue, and hand them to the
   * kernel now, in as few syscalls as each transport can. Whatever is left
   * goes on the next turn, after the sockets' readiness.
   */
  private send(now: number): void {
    const queue = this.queue;
    const dataplane = this.dataplane;
    for (let i = 0; i < this.sendBudget; i++) {
      const slot = queue.dequeue(now);
      if (slot < 0) break;
      dataplane.send(slot);
    }
    for (const t of this.transports) t.flush?.();
    if (queue.packets > 0 && !this.sendScheduled && this.running) {
      this.sendScheduled = true;
      setImmediate(this.sendLater);
    }
  }

  private sendLater(): void {
    this.sendScheduled = false;
    if (this.running) this.send(this.clock());
  }

  /**
   * Count a packet too big for the underlay and, when `mayAnswer`, turn its slot
   * into the ICMP answer queued for the device. False (slot released) when no
   * answer went out.
   */
  private tooBig(slot: number, off: number, len: number, mayAnswer: boolean): boolean {
    this.stats.tooBig++;
    const n = mayAnswer ? writeTooBig(this.ring.bytes, off, len, this.maxPacket) : 0;
    if (n === 0) {
      this.ring.release(slot);
      return false;
    }
    this.ring.length[slot] = n;
    // The slot holds our ICMP answer now, whatever the packet's TCP checksum was.
    this.ring.csum[slot] = CsumState.Complete;
    this.stats.tooBigAnswered++;
    this.pendingWrites[this.pendingCount++] = slot;
    if (this.pendingCount === this.pendingWrites.length) this.flushWrites();
    return true;
  }

  private deliver(encapsulation: Encapsulation, slot: number, fromAddress: string, fromPort: number): void {
    if (this.dataplane.receive(slot, fromAddress, fromPort, encapsulation) !== Received.Deliver) return;
    // One clock reading per receive batch; the packet's own wait in the socket's queue is the transport's to tell.
    if (this.inboundNow < 0) this.inboundNow = this.clock();
    this.inbound.enqueue(slot, this.inboundNow - (encapsulation.transport.receiveWaitMs ?? 0));
    if (this.inbound.packets === this.pendingWrites.length) this.flushWrites();
  }

  /**
   * Write what was received so far to the TUN device: the inbound queue's
   * packets in its order (new flows first; CoDel drops what waited too
   * long), after any "too big" answers, in batches of writeBatchSize.
   */
  flushWrites(): void {
    this.inboundNow = -1;
    const inbound = this.inbound;
    const slots = this.pendingWrites;
    const now = inbound.packets > 0 ? this.clock() : 0;
    for (;;) {
      let n = this.pendingCount;
      while (n < slots.length) {
        const slot = inbound.dequeue(now);
        if (slot < 0) break;
        slots[n++] = slot;
      }
      if (n === 0) return;
      this.pendingCount = 0;
      const written = this.tun.writeBatch(this.ring, slots, n);
      this.stats.delivered += written;
      this.stats.tunWriteErrors += n - written;
      for (let i = 0; i < n; i++) this.ring.release(slots[i]!);
      if (inbound.packets === 0) return;
    }
  }
}
