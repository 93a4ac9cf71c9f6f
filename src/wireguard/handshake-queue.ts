/**
 * The work of answering initiations, at most TURN_BUDGET_MS of it per
 * event-loop turn; the rest waits here, in a bounded queue, for later turns.
 *
 * An initiation whose MAC1 checked out costs a responder up to a few
 * hundred microseconds: the load gate (MAC2, a cookie reply) and, when it
 * passes, X25519 and hashing. Done inside a receive batch, a burst of them
 * (a flood's first GRO run holds hundreds; the first tick of a flood, before
 * load is detected, brings 64 that reach the X25519; code not yet compiled
 * by V8 costs several times its warm price) holds every data packet behind
 * it for tens of milliseconds, which is what a pod's ping feels. So each
 * turn of the event loop spends a bounded time on them and the rest wait for
 * the next turn, with I/O (data) served in between. The budget is time, not
 * a count, because the same message costs 5 or 300 microseconds depending on
 * the load gate's verdict and on whether its code is warm. Past MAX_QUEUED
 * the newest is shed and counted, as wireguard-go's handshake queue sheds.
 * With no burst, an initiation is answered at once, inside its batch.
 */
import { performance } from 'node:perf_hooks';

/** Time spent on initiations per event-loop turn: a millisecond of delay for the data behind them. */
export const TURN_BUDGET_MS = 1;
/** Initiations waiting at most: several turns of work under a flood; beyond it, a flood is shed. */
export const MAX_QUEUED = 1024;

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
  /** Milliseconds spent answering since the last turn began. */
  private spentMs = 0;
  private scheduled: NodeJS.Immediate | undefined;
  /** Initiations shed because the queue was full. */
  overflowed = 0;

  constructor(private readonly handle: InitiationHandler) {
    this.turn = this.turn.bind(this);
  }

  get length(): number {
    return this.count;
  }

  /** Answer `message` now if this turn has time left and nothing waits before it; else queue it. */
  submit(message: Uint8Array, fromAddress: string, fromPort: number): number {
    if (this.count === 0 && this.spentMs < TURN_BUDGET_MS) {
      this.scheduled ??= setImmediate(this.turn);
      const t0 = performance.now();
      const ok = this.handle(message, fromAddress, fromPort);
      this.spentMs += performance.now() - t0;
      return ok ? Submitted.Done : Submitted.Failed;
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
    this.head = this.count = this.spentMs = 0;
  }

  /** A new turn: answer what waits for up to TURN_BUDGET_MS; come back next turn if more does. */
  private turn(): void {
    this.scheduled = undefined;
    const t0 = performance.now();
    let now = t0;
    while (this.count > 0 && now - t0 < TURN_BUDGET_MS) {
      const i = this.head;
      const message = this.messages[i]!;
      this.messages[i] = undefined;
      this.head = (i + 1) % MAX_QUEUED;
      this.count--;
      this.handle(message, this.addresses[i]!, this.ports[i]!);
      now = performance.now();
    }
    // What this turn spent counts against answers given at once until the next turn.
    this.spentMs = now - t0;
    if (this.count > 0 || this.spentMs > 0) this.scheduled = setImmediate(this.turn);
  }
}
