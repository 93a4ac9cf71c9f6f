/**
 * How gossip datagrams leave and arrive. The membership core only sees this
 * interface: udp-transport.ts puts it on a dgram socket, the simulator on
 * an in-process network with latency, loss and partitions.
 *
 * Gossip is a separate socket from the data plane on purpose: control
 * messages are few, sealed with the cluster key and copied freely, while the
 * data plane's ring and slot rules exist for millions of packets a second.
 */
export type GossipHandler = (bytes: Uint8Array, address: string, port: number) => void;

export interface GossipTransport {
  /** Send one datagram; fire and forget (gossip tolerates loss by design). */
  send(address: string, port: number, bytes: Uint8Array): void;
  /** The one receive handler; set once by the membership. */
  onMessage(handler: GossipHandler): void;
  close(): void;
}
