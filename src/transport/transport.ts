/**
 * Transport: how encapsulated packets reach other nodes. The backends see
 * only this interface, so tests can swap the real UDP socket for the
 * in-memory network in memory-transport.ts.
 *
 * Slot ownership crosses this boundary in both directions:
 * - send(slot) takes the slot. The transport marks it InFlight and releases
 *   it to the ring when the kernel has taken the bytes (or the send failed).
 *   The caller must not touch the slot after send().
 * - A receive handler is given a slot the transport filled. The handler owns
 *   it from then on and must release it or pass it on (to a TUN write).
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import { WeftError } from '../errors.ts';
import type { WaitHistogram } from './wait-histogram.ts';

/** A UDP endpoint, validated when it is created (an IP literal, never a host name). */
export interface UdpEndpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * Called once per received datagram. `slot` holds the datagram at
 * ring.offset[slot] with ring.length[slot] bytes; the handler owns it.
 */
export type ReceiveHandler = (slot: number, fromAddress: string, fromPort: number) => void;

export interface TransportStats {
  sentPackets: number;
  sentBytes: number;
  sendErrors: number;
  receivedPackets: number;
  receivedBytes: number;
  /** Datagrams dropped on receipt because no ring slot was free. */
  droppedRingFull: number;
  /** Datagrams dropped on receipt because they did not fit a slot. */
  droppedOversize: number;
}

/** What a batching transport adds to its stats: flushes that reached the kernel, and the offloads in use now. */
export interface TransportBatchStatus {
  /** sentPackets / sendBatches is the mean batch size. */
  readonly sendBatches: number;
  /** Sends use UDP GSO (asked for, until the kernel refuses it once). */
  readonly gso: boolean;
  /** Receives use UDP GRO (asked for, and the kernel has it). */
  readonly gro: boolean;
}

export interface Transport {
  readonly ring: PacketRing;
  readonly stats: TransportStats;
  /** Batching transports only: their batch and offload status. */
  readonly batch?: TransportBatchStatus;
  /** The local UDP port, once bound. */
  readonly localPort: number;
  send(slot: number, to: UdpEndpoint): void;
  /**
   * Hand sends queued by send() to the kernel now. A batching transport
   * queues sends and flushes when its batch is full or, at the latest, on the
   * next event loop turn; callers that just sent a batch call this so it
   * leaves at once. Optional: transports that send immediately need none.
   */
  flush?(): void;
  onReceive(handler: ReceiveHandler | null): void;
  /**
   * Called after each batch of received datagrams has gone through the
   * receive handler, so a receiver can write what the batch produced in one
   * go (the router coalesces TCP segments for the TUN device there).
   * Optional: a transport without it delivers one datagram at a time and the
   * receiver must finish each on its own.
   */
  onBatchEnd?(handler: (() => void) | null): void;
  /**
   * While the receive handler runs: how long the datagram it was given
   * waited in the socket's queue, in ms (the kernel's arrival stamp to its
   * receive). Optional: a transport that cannot tell has none, and its
   * datagrams count as not having waited.
   */
  readonly receiveWaitMs?: number;
  /** Every received message's wait in the socket's queue, counted (a transport with arrival stamps). */
  readonly receiveWaits?: WaitHistogram;
  close(): Promise<void>;
}

export function newTransportStats(): TransportStats {
  return {
    sentPackets: 0,
    sentBytes: 0,
    sendErrors: 0,
    receivedPackets: 0,
    receivedBytes: 0,
    droppedRingFull: 0,
    droppedOversize: 0,
  };
}

/**
 * Copy a received datagram into a fresh slot at the headroom boundary.
 * Returns the slot, or -1 (counted) when the ring is full or the datagram is
 * larger than a slot's capacity.
 */
export function copyIntoSlot(ring: PacketRing, stats: TransportStats, data: Uint8Array): number {
  if (data.length > ring.capacity) {
    stats.droppedOversize++;
    return -1;
  }
  const slot = ring.acquire();
  if (slot < 0) {
    stats.droppedRingFull++;
    return -1;
  }
  ring.bytes.set(data, ring.offset[slot]!);
  ring.length[slot] = data.length;
  stats.receivedPackets++;
  stats.receivedBytes += data.length;
  return slot;
}

/**
 * The error for a socket that would not bind to `where` ("address:port"),
 * worded the same whichever transport tried: PORT_IN_USE when another
 * socket holds it, UDP_BIND_FAILED otherwise.
 */
export function bindError(where: string, err: Error, errno: string | undefined): WeftError {
  const options = { cause: err, ...(errno ? { errno } : {}) };
  return errno === 'EADDRINUSE'
    ? new WeftError('PORT_IN_USE', `UDP ${where} is already in use: stop the other process or choose another port`, options)
    : new WeftError('UDP_BIND_FAILED', `cannot bind UDP ${where}: ${err.message}`, options);
}
