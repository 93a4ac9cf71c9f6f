/**
 * GossipTransport on a Node dgram socket. Gossip datagrams are at most 1400
 * bytes (codec.ts), below any common MTU, so they are never fragmented.
 * Send errors are counted, not thrown: a peer that vanished is the protocol's
 * business (it will be suspected), not an exception on the tick.
 */
import dgram from 'node:dgram';
import { WeftError } from '../errors.ts';
import type { GossipHandler, GossipTransport } from './transport.ts';

export class UdpGossipTransport implements GossipTransport {
  readonly stats = { sent: 0, sendErrors: 0, received: 0 };
  private handler: GossipHandler | null = null;
  private readonly onSent = (err: Error | null): void => {
    if (err !== null) this.stats.sendErrors++;
  };

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => {
      this.stats.received++;
      this.handler?.(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), rinfo.address, rinfo.port);
    });
    // A late ICMP error surfaces as 'error' on some platforms; counting it keeps the process up.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
  }

  /** Bind an IPv4 UDP socket; port 0 picks a free one (see `port`). */
  static bind(address: string, port: number): Promise<UdpGossipTransport> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: 'udp4' });
      const fail = (err: NodeJS.ErrnoException): void => {
        socket.close();
        const code = err.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'UDP_BIND_FAILED';
        reject(new WeftError(code, `cannot bind gossip socket to ${address}:${port}: ${err.message}`, { cause: err }));
      };
      socket.once('error', fail);
      socket.bind(port, address, () => {
        socket.off('error', fail);
        resolve(new UdpGossipTransport(socket));
      });
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(address: string, port: number, bytes: Uint8Array): void {
    this.stats.sent++;
    try {
      this.socket.send(bytes, port, address, this.onSent);
    } catch {
      this.stats.sendErrors++;
    }
  }

  onMessage(handler: GossipHandler): void {
    this.handler = handler;
  }

  close(): void {
    this.handler = null;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
