/**
 * Initiations that arrive while the node is under load wait here and are
 * answered a few at a time, after the data that arrived with them.
 *
 * A flood reaches the socket mixed with data; the batch transport hands it
 * over in receive batches (with UDP GRO, a single run can hold hundreds of
 * initiations). Answering every initiation inside the batch would make the
 * data packets behind it wait for all of that MAC work, which is what a
 * pod's ping feels as latency. So under load an initiation is copied here
 * and the batch goes on; the queue drains in separate event-loop turns, a
 * bounded number per turn, so I/O (data) is served between them. The
 * queue is bounded too: past MAX_QUEUED the newest is dropped and counted,
 * as wireguard-go's handshake queue drops when full. Without load nothing
 * is deferred and the handshake is answered at once, as before.
 */

import { INIT_LEN } from './messages.ts';

/** Initiations waiting at most: a flood beyond what a turn-by-turn drain keeps up with is shed. */
export const MAX_QUEUED = 1024;
/** Initiations answered per event-loop turn: about a millisecond of MAC work between I/O. */
export const PER_TURN = 64;

export type InitiationHandler = (message: Uint8Array, fromAddress: string, fromPort: number) => void;

export class InitiationQueue {
  /** A ring of MAX_QUEUED entries: messages, their sources. */
  private readonly messages: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(MAX_QUEUED);
  private readonly addresses: string[] = new Array<string>(MAX_QUEUED).fill('');
  private readonly ports = new Uint16Array(MAX_QUEUED);
  private head = 0;
  private count = 0;
  private scheduled: NodeJS.Immediate | undefined;
  /** Initiations dropped because the queue was full. */
  overflowed = 0;

  constructor(private readonly handle: InitiationHandler) {
    this.drain = this.drain.bind(this);
  }

  get length(): number {
    return this.count;
  }

  /** Queue a copy of the initiation at bytes[off, off + INIT_LEN); false when the queue is full. */
  push(bytes: Uint8Array, off: number, fromAddress: string, fromPort: number): boolean {
    if (this.count === MAX_QUEUED) {
      this.overflowed++;
      return false;
    }
    const i = (this.head + this.count) % MAX_QUEUED;
    this.messages[i] = bytes.slice(off, off + INIT_LEN);
    this.addresses[i] = fromAddress;
    this.ports[i] = fromPort;
    this.count++;
    this.scheduled ??= setImmediate(this.drain);
    return true;
  }

  /** Forget everything queued (the backend stops). */
  clear(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.messages.fill(undefined);
    this.head = this.count = 0;
  }

  private drain(): void {
    this.scheduled = undefined;
    for (let n = 0; n < PER_TURN && this.count > 0; n++) {
      const i = this.head;
      const message = this.messages[i]!;
      this.messages[i] = undefined;
      this.head = (i + 1) % MAX_QUEUED;
      this.count--;
      this.handle(message, this.addresses[i]!, this.ports[i]!);
    }
    if (this.count > 0) this.scheduled = setImmediate(this.drain);
  }
}
