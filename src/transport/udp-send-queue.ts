/**
 * UdpSendQueue: the send half of the batch transport.
 *
 * Datagrams queue as numbers (slot, destination address in the socket
 * family's native form, port) and leave in one udpSendBatch (sendmmsg,
 * optionally UDP GSO). sendmmsg copies every datagram before it returns,
 * so the slots are released right after it: there is no completion to
 * wait for. When to flush is the transport's business; this holds the
 * queue, the call and its tally.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import type { WeftNative } from '../native/addon.ts';
import type { AddressFamily } from './address-names.ts';
import type { TransportStats, UdpEndpoint } from './transport.ts';

export class UdpSendQueue {
  /** Flushes that reached the kernel: sentPackets / sendBatches is the mean batch size. */
  sendBatches = 0;
  /** Messages the kernel took: a GSO message of many datagrams counts once. */
  sendMessages = 0;
  /** Whether sends use UDP GSO now: the option, until the kernel refuses it once. */
  gso: boolean;
  /** Entries queued for the next flush. */
  queued = 0;

  private readonly addon: WeftNative;
  private readonly ring: PacketRing;
  private readonly family: AddressFamily;
  private readonly slots: Int32Array;
  private readonly addrs: Uint32Array | Uint8Array;
  private readonly ports: Uint16Array;
  /** failures, last errno, bytes, GSO refused, messages: written by udpSendBatch. */
  private readonly status = new Int32Array(5);

  constructor(addon: WeftNative, ring: PacketRing, family: AddressFamily, capacity: number, gso: boolean) {
    this.addon = addon;
    this.ring = ring;
    this.family = family;
    this.gso = gso;
    this.slots = new Int32Array(capacity);
    this.addrs = family.array(capacity);
    this.ports = new Uint16Array(capacity);
  }

  /** Queue `slot` for `to`; false (nothing queued) when this socket's family cannot reach it. The caller checks room. */
  push(slot: number, to: UdpEndpoint): boolean {
    const i = this.queued;
    if (!this.family.put(this.addrs, i, to)) return false;
    this.slots[i] = slot;
    this.ports[i] = to.port;
    this.queued = i + 1;
    return true;
  }

  /** Hand every queued datagram to the kernel on `fd` (or count them failed when fd < 0) and release their slots. */
  flush(fd: number, stats: TransportStats): void {
    const n = this.queued;
    if (n === 0) return;
    this.queued = 0;
    const ring = this.ring;
    const slots = this.slots;
    if (fd >= 0) {
      const status = this.status;
      const sent = this.addon.udpSendBatch(fd, ring.buffer, ring.offset, ring.length, slots, n, this.addrs, this.ports, status, this.gso);
      if (status[3] === 1) this.gso = false;
      this.sendBatches++;
      this.sendMessages += status[4]!;
      stats.sentPackets += sent;
      stats.sentBytes += status[2]!;
      stats.sendErrors += status[0]!;
    } else stats.sendErrors += n;
    for (let i = 0; i < n; i++) ring.release(slots[i]!);
  }

  /** errno of the last failed datagram in the last flush, 0 if none failed. */
  get lastErrno(): number {
    return this.status[1]!;
  }
}
