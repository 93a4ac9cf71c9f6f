/**
 * GossipTransport on a Node dgram socket. Gossip datagrams are at most 1400
 * bytes (codec.ts), below any common MTU, so they are never fragmented.
 * Send errors are counted, not thrown: a peer that vanished is the protocol's
 * business (it will be suspected), not an exception on the tick.
 *
 * Either family: an IPv6 bind address makes a udp6 socket, dual-stack as
 * Node makes it (IPV6_V6ONLY off), so a node bound to '::' gossips with
 * IPv4 and IPv6 members alike. IPv4 members are named in dotted text both
 * ways, as their records and seeds give them: a received ::ffff:a.b.c.d is
 * unmapped, and a send to dotted text from a udp6 socket is mapped.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { WeftError } from '../errors.ts';
import type { GossipHandler, GossipTransport } from './transport.ts';

export class UdpGossipTransport implements GossipTransport {
  readonly stats = { sent: 0, sendErrors: 0, received: 0 };
  private handler: GossipHandler | null = null;
  private readonly onSent = (err: Error | null): void => {
    if (err !== null) this.stats.sendErrors++;
  };

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly ipv6: boolean,
  ) {
    socket.on('message', (msg, rinfo) => {
      this.stats.received++;
      this.handler?.(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), unmapped(rinfo.address), rinfo.port);
    });
    // A late ICMP error surfaces as 'error' on some platforms; counting it keeps the process up.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
  }

  /** Bind a UDP socket of `address`'s family (IPv6 for an IPv6 literal, else IPv4); port 0 picks a free one (see `port`). */
  static bind(address: string, port: number): Promise<UdpGossipTransport> {
    const ipv6 = isIP(address) === 6;
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4' });
      const fail = (err: NodeJS.ErrnoException): void => {
        socket.close();
        const code = err.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'UDP_BIND_FAILED';
        const where = ipv6 ? `[${address}]:${port}` : `${address}:${port}`;
        reject(new WeftError(code, `cannot bind gossip socket to ${where}: ${err.message}`, { cause: err }));
      };
      socket.once('error', fail);
      socket.bind(port, address, () => {
        socket.off('error', fail);
        resolve(new UdpGossipTransport(socket, ipv6));
      });
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(address: string, port: number, bytes: Uint8Array): void {
    this.stats.sent++;
    try {
      // A udp6 socket reaches an IPv4 member through its mapped address (a udp4 one fails an IPv6 send: counted).
      this.socket.send(bytes, port, this.ipv6 && isIP(address) === 4 ? `::ffff:${address}` : address, this.onSent);
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

/** '::ffff:10.0.0.1' -> '10.0.0.1'; anything else as it is. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
