/**
 * The portable transport: one Node dgram socket. It is the baseline every
 * faster transport is measured against, and it works wherever Node does.
 *
 * What it costs per packet, and why: Node's dgram makes a Buffer per received
 * datagram and a request object per send, so this path is not allocation
 * free; weft's own code on it is. In particular there is no closure per send:
 * UDP sends on one socket complete in the order they were issued (libuv
 * queues them per handle and only tries a synchronous send when its queue is
 * empty), so one callback releases the oldest in-flight slot from a FIFO.
 * Sends bypass DNS: every endpoint is an IP literal checked when it was made,
 * and the socket's lookup hook hands the literal straight back.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { PacketRing } from '../buf/packet-ring.ts';
import { WeftError } from '../errors.ts';
import type { ReceiveHandler, Transport, TransportStats, UdpEndpoint } from './transport.ts';
import { bindError, copyIntoSlot, newTransportStats } from './transport.ts';

export interface DgramTransportOptions {
  ring: PacketRing;
  /** Local address to bind; default all addresses of the family. */
  bindAddress?: string;
  /** Local port; 0 picks a free one. */
  port: number;
  /** The socket's family; default the bind address's, else IPv4. */
  family?: 4 | 6;
  /** Socket buffer sizes in bytes; large buffers absorb bursts a single-threaded reader cannot. */
  receiveBufferSize?: number;
  sendBufferSize?: number;
}

const DEFAULT_SOCKET_BUFFER = 4 << 20;

export function makeEndpoint(address: string, port: number, what = 'endpoint'): UdpEndpoint {
  if (isIP(address) === 0) {
    throw new WeftError('ENDPOINT_INVALID', `${what} address must be an IPv4 or IPv6 literal, got "${address}"`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new WeftError('ENDPOINT_INVALID', `${what} port must be an integer from 1 to 65535, got ${port}`);
  }
  return { address, port };
}

export class DgramTransport implements Transport {
  readonly ring: PacketRing;
  readonly stats: TransportStats = newTransportStats();
  private readonly socket: dgram.Socket;
  private handler: ReceiveHandler | null = null;
  private port = 0;
  private closed = false;
  // FIFO of in-flight slots, in send order; sized to the ring so it cannot overflow.
  private readonly inFlight: Int32Array;
  private head = 0;
  private tail = 0;
  private pending = 0;
  private readonly afterSend: (err: Error | null) => void;

  private constructor(socket: dgram.Socket, ring: PacketRing) {
    this.socket = socket;
    this.ring = ring;
    this.inFlight = new Int32Array(ring.slotCount);
    // Bound once: the single completion callback for every send.
    this.afterSend = (err) => {
      const slot = this.inFlight[this.head]!;
      this.head = this.head + 1 === this.inFlight.length ? 0 : this.head + 1;
      this.pending--;
      if (err) this.stats.sendErrors++;
      this.ring.release(slot);
    };
    socket.on('message', (msg, rinfo) => {
      const slot = copyIntoSlot(this.ring, this.stats, msg);
      if (slot < 0) return;
      if (this.handler) this.handler(slot, rinfo.address, rinfo.port);
      else this.ring.release(slot);
    });
    // Errors on an unconnected UDP socket are per-send (ICMP feedback) or fatal at bind;
    // both are reported elsewhere, so the event only needs a listener to not crash the process.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
  }

  static async open(options: DgramTransportOptions): Promise<DgramTransport> {
    // An IPv6 bind address needs a udp6 socket: a udp4 one refuses it with EINVAL.
    const family = options.family ?? (options.bindAddress !== undefined && isIP(options.bindAddress) === 6 ? 6 : 4);
    const socket = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      // Endpoints are IP literals; skip dns.lookup and its extra tick per send.
      lookup: (address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void) =>
        cb(null, address, family),
    } as dgram.SocketOptions);
    const transport = new DgramTransport(socket, options.ring);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        socket.close();
        const host = options.bindAddress ?? (family === 6 ? '::' : '0.0.0.0');
        // As endpoints are written: an IPv6 address in brackets, like the batch transport's errors.
        const where = host.includes(':') ? `[${host}]:${options.port}` : `${host}:${options.port}`;
        reject(bindError(where, err, err.code));
      };
      socket.once('error', onError);
      socket.bind({ port: options.port, ...(options.bindAddress ? { address: options.bindAddress } : {}), exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.setRecvBufferSize(options.receiveBufferSize ?? DEFAULT_SOCKET_BUFFER);
    socket.setSendBufferSize(options.sendBufferSize ?? DEFAULT_SOCKET_BUFFER);
    transport.port = socket.address().port;
    return transport;
  }

  get localPort(): number {
    return this.port;
  }

  /** Slots handed to the kernel whose send has not completed yet. */
  get inFlightCount(): number {
    return this.pending;
  }

  send(slot: number, to: UdpEndpoint): void {
    const ring = this.ring;
    if (this.closed) {
      this.stats.sendErrors++;
      ring.release(slot);
      return;
    }
    const base = ring.baseOf(slot);
    const len = ring.length[slot]!;
    ring.markInFlight(slot);
    this.inFlight[this.tail] = slot;
    this.tail = this.tail + 1 === this.inFlight.length ? 0 : this.tail + 1;
    this.pending++;
    this.stats.sentPackets++;
    this.stats.sentBytes += len;
    this.socket.send(ring.slotBuffers[slot]!, ring.offset[slot]! - base, len, to.port, to.address, this.afterSend);
  }

  onReceive(handler: ReceiveHandler | null): void {
    this.handler = handler;
  }

  /** Sends leave at once: nothing is queued. */
  flush(): void {}

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.handler = null;
    // Closing the socket completes queued sends with an error, which releases their slots.
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
