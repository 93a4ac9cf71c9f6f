/**
 * The X25519 work of answering initiations, at most PER_TURN per event-loop
 * turn; the rest waits here, in a bounded queue, for later turns.
 *
 * An initiation that passed the cheap gate (MAC1; under load, MAC2 and the
 * per-source limit: handshaker.admitInitiation) costs a responder about
 * 0.1 to 0.3 ms of curve and hash work. Done inside a receive batch, a
 * burst of them (the first tick of a flood, before load is detected, can
 * bring 64; a node starting beside a thousand peers, more) holds every data
 * packet behind them for tens of milliseconds, which is what a pod's ping
 * feels. So each turn of the event loop answers a few and the rest wait
 * until the next turn, with I/O (data) served in between. Past MAX_QUEUED
 * the newest is shed and counted, as wireguard-go's handshake queue sheds.
 * With no burst, an initiation is answered at once, inside its batch.
 */

/** Initiations answered per event-loop turn: a millisecond or two of X25519 and hashing. */
export const PER_TURN = 8;
/** Initiations waiting at most; 256 is 32 turns of work, far past any honest burst's need to wait. */
export const MAX_QUEUED = 256;

/** What became of a submitted initiation. */
export const Submitted = {
  /** Answered at once: the handler ran and accepted it. */
  Done: 0,
  /** Answered at once: the handler ran and dropped it (it counted why). */
  Failed: 1,
  /** Waiting for a later turn. */
  Queued: 2,
  /** The queue was full: shed. */
  Full: 3,
} as const;

/** Answers one initiation; false when it dropped it. */
export type InitiationHandler = (message: Uint8Array, fromAddress: string, fromPort: number) => boolean;

export class InitiationQueue {
  /** A ring of MAX_QUEUED entries: messages (owned copies) and their sources. */
  private readonly messages: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(MAX_QUEUED);
  private readonly addresses: string[] = new Array<string>(MAX_QUEUED).fill('');
  private readonly ports = new Uint16Array(MAX_QUEUED);
  private head = 0;
  private count = 0;
  /** Answered since the last turn began. */
  private ranThisTurn = 0;
  private scheduled: NodeJS.Immediate | undefined;
  /** Initiations shed because the queue was full. */
  overflowed = 0;

  constructor(private readonly handle: InitiationHandler) {
    this.turn = this.turn.bind(this);
  }

  get length(): number {
    return this.count;
  }

  /** Answer `message` now if this turn has room and nothing waits before it; else queue it. */
  submit(message: Uint8Array, fromAddress: string, fromPort: number): number {
    if (this.count === 0 && this.ranThisTurn < PER_TURN) {
      this.ranThisTurn++;
      this.scheduled ??= setImmediate(this.turn);
      return this.handle(message, fromAddress, fromPort) ? Submitted.Done : Submitted.Failed;
    }
    if (this.count === MAX_QUEUED) {
      this.overflowed++;
      return Submitted.Full;
    }
    const i = (this.head + this.count) % MAX_QUEUED;
    this.messages[i] = message;
    this.addresses[i] = fromAddress;
    this.ports[i] = fromPort;
    this.count++;
    this.scheduled ??= setImmediate(this.turn);
    return Submitted.Queued;
  }

  /** Forget everything queued (the backend stops). */
  clear(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.messages.fill(undefined);
    this.head = this.count = this.ranThisTurn = 0;
  }

  /** A new turn: answer up to PER_TURN of what waits; come back next turn if more does. */
  private turn(): void {
    this.scheduled = undefined;
    this.ranThisTurn = 0;
    while (this.ranThisTurn < PER_TURN && this.count > 0) {
      const i = this.head;
      const message = this.messages[i]!;
      this.messages[i] = undefined;
      this.head = (i + 1) % MAX_QUEUED;
      this.count--;
      this.ranThisTurn++;
      this.handle(message, this.addresses[i]!, this.ports[i]!);
    }
    if (this.count > 0 || this.ranThisTurn > 0) this.scheduled = setImmediate(this.turn);
  }
}
