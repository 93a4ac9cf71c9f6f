/**
 * A transport for unit tests of the router: it wraps an in-memory one and
 * hands datagrams over in batches, saying when a batch ends, as the native
 * batch transport does after each recvmmsg; `waitMs` is what it reports as
 * each datagram's wait in the socket's queue (receiveWaitMs).
 */
import type { PacketRing } from '../../src/buf/packet-ring.ts';
import type { ReceiveHandler, Transport, TransportStats, UdpEndpoint } from '../../src/transport/transport.ts';

export class BatchingTransport implements Transport {
  waitMs = 0;
  private handler: ReceiveHandler | null = null;
  private end: (() => void) | null = null;
  private readonly held: Array<[number, string, number]> = [];
  constructor(private readonly inner: Transport) {
    inner.onReceive((slot, a, p) => {
      this.held.push([slot, a, p]);
      if (this.held.length === 1) setImmediate(() => this.drain());
    });
  }
  get receiveWaitMs(): number {
    return this.waitMs;
  }
  get ring(): PacketRing {
    return this.inner.ring;
  }
  get stats(): TransportStats {
    return this.inner.stats;
  }
  get localPort(): number {
    return this.inner.localPort;
  }
  send(slot: number, to: UdpEndpoint): void {
    this.inner.send(slot, to);
  }
  onReceive(handler: ReceiveHandler | null): void {
    this.handler = handler;
  }
  onBatchEnd(handler: (() => void) | null): void {
    this.end = handler;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  private drain(): void {
    for (const [slot, a, p] of this.held.splice(0)) this.handler?.(slot, a, p);
    this.end?.();
  }
}
