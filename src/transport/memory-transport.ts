/**
 * An in-memory UDP network for tests: transports attach to a MemoryNetwork
 * under an address and port and deliver to each other asynchronously, with
 * optional loss. It keeps the real transport's slot contract: send() takes
 * the slot and releases it after "the kernel took it" (a microtask later);
 * the receiver gets its own copy in its own ring.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import type { ReceiveHandler, Transport, TransportStats, UdpEndpoint } from './transport.ts';
import { copyIntoSlot, newTransportStats } from './transport.ts';

export class MemoryNetwork {
  private readonly nodes = new Map<string, MemoryTransport>();
  /** Probability in [0, 1) that a datagram is lost; deterministic with `random`. */
  lossRate = 0;
  random: () => number = Math.random;
  delivered = 0;
  lost = 0;

  attach(ring: PacketRing, address: string, port: number): MemoryTransport {
    const key = `${address}:${port}`;
    if (this.nodes.has(key)) throw new Error(`MemoryNetwork: ${key} already attached`);
    const t = new MemoryTransport(this, ring, address, port);
    this.nodes.set(key, t);
    return t;
  }

  detach(t: MemoryTransport): void {
    this.nodes.delete(`${t.address}:${t.localPort}`);
  }

  /** Deliver a copy of `data` from `from` to `to`, or drop it as the network would. */
  deliver(data: Uint8Array, from: MemoryTransport, to: UdpEndpoint): void {
    const dst = this.nodes.get(`${to.address}:${to.port}`);
    if (!dst || (this.lossRate > 0 && this.random() < this.lossRate)) {
      this.lost++;
      return;
    }
    this.delivered++;
    dst.receive(data, from.address, from.localPort);
  }
}

export class MemoryTransport implements Transport {
  readonly stats: TransportStats = newTransportStats();
  private handler: ReceiveHandler | null = null;
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    readonly ring: PacketRing,
    readonly address: string,
    readonly localPort: number,
  ) {}

  send(slot: number, to: UdpEndpoint): void {
    const ring = this.ring;
    ring.markInFlight(slot);
    const data = ring.bytes.slice(ring.offset[slot]!, ring.offset[slot]! + ring.length[slot]!);
    this.stats.sentPackets++;
    this.stats.sentBytes += data.length;
    queueMicrotask(() => {
      ring.release(slot);
      if (!this.closed) this.network.deliver(data, this, to);
    });
  }

  /** Called by the network: copy into this ring and hand the slot to the handler. */
  receive(data: Uint8Array, fromAddress: string, fromPort: number): void {
    if (this.closed) return;
    const slot = copyIntoSlot(this.ring, this.stats, data);
    if (slot < 0) return;
    if (this.handler) this.handler(slot, fromAddress, fromPort);
    else this.ring.release(slot);
  }

  onReceive(handler: ReceiveHandler | null): void {
    this.handler = handler;
  }

  /** Sends leave at once: nothing is queued. */
  flush(): void {}

  close(): Promise<void> {
    this.closed = true;
    this.network.detach(this);
    return Promise.resolve();
  }
}
